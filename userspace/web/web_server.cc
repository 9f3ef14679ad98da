// SPDX-License-Identifier: Apache-2.0
#include "web/web_server.h"

#include <CivetServer.h>
#include <prometheus/text_serializer.h>

#include <openssl/ssl.h>

#include <cstring>
#include <sstream>

#include "model/log.h"
#include "web/basic_auth.h"
#include "web/civetweb_openssl.h"
#include "web/live_web_config.h"
#include "web/peer_limiter.h"

namespace aster {
namespace {

std::string civet_listen(const std::string& addr) {
  // ":8497" means every IPv4 address; civetweb spells that "8497".
  return addr[0] == ':' ? addr.substr(1) : addr;
}

// http_server_config.headers as response header lines ("" without a web config).
std::string extra_headers(const mg_connection* conn);

class MetricsHandler : public CivetHandler {
 public:
  explicit MetricsHandler(WebServer::Collectables c) : collectables_(std::move(c)) {}
  // Streamed: each collectable (one metric family, for the large ones) is
  // collected, written as one chunk and freed before the next, so a scrape
  // of many series holds one family's samples at a time. Building the
  // whole body first peaked at 4x its size (~200 MB for 10 000 paths).
  bool handleGet(CivetServer*, mg_connection* conn) override {
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Transfer-Encoding: chunked\r\nConnection: close\r\n%s\r\n",
              extra_headers(conn).c_str());
    const prometheus::TextSerializer serializer;
    for (const auto& c : collectables_) {
      std::string text = serializer.Serialize(c->Collect());
      if (!text.empty() && mg_send_chunk(conn, text.data(), static_cast<unsigned int>(text.size())) < 0) {
        return true;  // the scraper went away
      }
    }
    mg_send_chunk(conn, "", 0);  // the last, empty chunk
    return true;
  }

 private:
  WebServer::Collectables collectables_;
};

class LandingHandler : public CivetHandler {
 public:
  LandingHandler(std::string path, std::string note) : path_(std::move(path)), note_(std::move(note)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    const mg_request_info* ri = mg_get_request_info(conn);
    if (std::string(ri->local_uri ? ri->local_uri : "/") != "/") {
      const char* body = "404 page not found\n";
      mg_printf(conn, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n%s",
                strlen(body), extra_headers(conn).c_str(), body);
      return true;
    }
    std::string html = "<!DOCTYPE html><html><head><title>aster-exporter</title></head><body>"
                       "<h1>aster-exporter</h1><p>eBPF HTTP metrics exporter, version " +
                       std::string(kVersion) + ".</p>";
    if (!path_.empty()) html += "<p><a href=\"" + path_ + "\">Metrics</a></p>";
    if (!note_.empty()) html += "<p>" + note_ + "</p>";
    html += "</body></html>\n";
    mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n%s\r\n",
              html.size(), extra_headers(conn).c_str());
    mg_write(conn, html.data(), html.size());
    return true;
  }

 private:
  std::string path_, note_;
};

}  // namespace

// What civetweb's C callbacks reach through the server's user context.
struct WebServer::State {
  State(const Config& cfg, WebStats& s) : stats(s), limiter(cfg.web_max_connections_per_peer, s), auth(s) {}
  WebStats& stats;
  PeerLimiter limiter;
  BasicAuth auth;
  std::unique_ptr<LiveWebConfig> web_config;  // null without --web.config.file
  SslCtxPtr base_tls;                         // what civetweb holds; each handshake moves to the live one
  std::unique_ptr<MetricsHandler> metrics;
  std::unique_ptr<LandingHandler> landing;

  // civetweb's user data is the CivetServer, whose user context is this.
  static State* of(const mg_connection* conn) {
    auto* server = static_cast<CivetServer*>(mg_get_user_data(mg_get_context(conn)));
    return static_cast<State*>(const_cast<void*>(server->getUserContext()));
  }
  uint16_t port = 0;  // the web port, whose connections the limiter counts
};

namespace {

// A worker took a new connection (its address is not filled in yet).
// A TLS connection is counted at its handshake's start, before this.
int on_init_connection(const mg_connection* conn, void**) {
  WebServer::State* st = WebServer::State::of(conn);
  st->limiter.scan(st->port);
  return 0;
}

// Every request, before any handler and whatever its method or path.
int on_begin_request(mg_connection* conn) {
  WebServer::State* st = WebServer::State::of(conn);
  if (!st->web_config) return 0;
  auto snap = st->web_config->current();
  if (snap->config.users.empty()) return 0;
  const mg_request_info* ri = mg_get_request_info(conn);
  switch (st->auth.check(snap->config.users, mg_get_header(conn, "Authorization"), ri->remote_addr)) {
    case BasicAuth::Verdict::kOk:
      return 0;
    case BasicAuth::Verdict::kUnauthorized:
      mg_printf(conn,
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Length: 13\r\n%s\r\nUnauthorized\n",
                extra_headers(conn).c_str());
      return 401;
    case BasicAuth::Verdict::kRateLimited:
      break;
  }
  mg_printf(conn,
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 18\r\nConnection: close\r\n%s\r\nToo Many Requests\n",
            extra_headers(conn).c_str());
  return 429;
}

// civetweb's SSL_app_data is the connection.
WebServer::State* state_of(const SSL* ssl) {
  auto* conn = static_cast<const mg_connection*>(SSL_get_app_data(ssl));
  return conn ? WebServer::State::of(conn) : nullptr;
}

void on_tls_info(const SSL* ssl, int where, int ret) {
  WebServer::State* st = state_of(ssl);
  if (!st) return;
  if (where & SSL_CB_HANDSHAKE_START) {
    // Before a byte of the handshake is read, so a host opening many TLS
    // connections is capped like a plain one (see PeerLimiter).
    if (SSL_in_before(ssl)) st->limiter.scan(st->port);
  } else if ((where & SSL_CB_WRITE_ALERT) && (ret >> 8) == SSL3_AL_FATAL) {
    st->stats.tls_handshakes_refused.add();
  }
}

int on_client_hello(SSL* ssl, int* alert, void*) {
  WebServer::State* st = state_of(ssl);
  if (!st || !st->web_config) return SSL_CLIENT_HELLO_SUCCESS;
  auto snap = st->web_config->current();
  if (!snap->tls) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  adopt_tls_context(ssl, snap->tls.get(), snap->config.tls_config);
  SSL_set_info_callback(ssl, on_tls_info);  // the live context has none; its alerts are still counted
  return SSL_CLIENT_HELLO_SUCCESS;
}

// civetweb asks for its context at start and offers it back at the end:
// the exporter made it and frees it (State::base_tls).
int on_external_ssl_ctx(void** ssl_ctx, void* user_data) {
  if (*ssl_ctx) return 1;
  auto* st = static_cast<WebServer::State*>(const_cast<void*>(static_cast<CivetServer*>(user_data)->getUserContext()));
  *ssl_ctx = st->base_tls.get();
  return 1;
}

std::string extra_headers(const mg_connection* conn) {
  WebServer::State* st = WebServer::State::of(conn);
  if (!st->web_config) return "";
  std::string out;
  for (const auto& [name, value] : st->web_config->current()->config.headers) out += name + ": " + value + "\r\n";
  return out;
}

}  // namespace

std::unique_ptr<WebServer> WebServer::start(const Config& cfg, Collectables collectables,
                                            const std::string& landing_note, WebStats& stats,
                                            std::string* error) {
  std::unique_ptr<WebServer> ws(new WebServer());
  ws->state_ = std::make_unique<State>(cfg, stats);
  ws->state_->port = static_cast<uint16_t>(atoi(cfg.listen_address.substr(cfg.listen_address.rfind(':') + 1).c_str()));
  // civetweb gives each connection a worker until it closes, and
  // request_timeout_ms bounds the whole head's arrival (not each read), so
  // a client trickling a head a byte at a time holds a worker at most that
  // long. Keep-alive connections are closed after one idle timeout, so a
  // scraper's idle connection does not hold a worker between scrapes.
  bool tls = false;
  if (!cfg.web_config_file.empty()) {
    ws->state_->web_config = LiveWebConfig::open(cfg.web_config_file, stats, error);
    if (!ws->state_->web_config) return nullptr;
    tls = ws->state_->web_config->current()->config.tls;
  }
  CivetCallbacks callbacks;
  callbacks.init_connection = on_init_connection;
  callbacks.begin_request = on_begin_request;
  if (tls) {
    if (!load_openssl_for_civetweb(error)) return nullptr;
    ws->state_->base_tls.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_set_client_hello_cb(ws->state_->base_tls.get(), on_client_hello, nullptr);
    SSL_CTX_set_info_callback(ws->state_->base_tls.get(), on_tls_info);
    SSL_CTX_set_session_cache_mode(ws->state_->base_tls.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ws->state_->base_tls.get(), SSL_OP_NO_TICKET);
    callbacks.external_ssl_ctx = on_external_ssl_ctx;
  }
  // civetweb's "s" suffix: this port speaks TLS only.
  std::vector<std::string> options = {"listening_ports", civet_listen(cfg.listen_address) + (tls ? "s" : ""),
                                      "num_threads", std::to_string(cfg.web_max_connections),
                                      "request_timeout_ms", std::to_string(cfg.web_header_timeout_ms),
                                      "keep_alive_timeout_ms", std::to_string(cfg.web_header_timeout_ms)};
  try {
    ws->server_ = std::make_unique<CivetServer>(options, &callbacks, ws->state_.get());
  } catch (const CivetException& e) {
    *error = "cannot serve on " + cfg.listen_address + " (" + e.what() +
             "): is the port taken? choose another with --web.listen-address";
    return nullptr;
  }
  bool serve_metrics = !collectables.empty();
  ws->state_->landing = std::make_unique<LandingHandler>(serve_metrics ? cfg.telemetry_path : "", landing_note);
  ws->server_->addHandler("/", ws->state_->landing.get());
  if (serve_metrics) {
    ws->state_->metrics = std::make_unique<MetricsHandler>(std::move(collectables));
    ws->server_->addHandler(cfg.telemetry_path, ws->state_->metrics.get());
  }
  return ws;
}

WebServer::~WebServer() {
  if (server_) server_->close();
}

}  // namespace aster
