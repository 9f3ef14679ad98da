// SPDX-License-Identifier: Apache-2.0
#include "web/web_server.h"

#include <CivetServer.h>
#include <prometheus/text_serializer.h>

#include <cstring>
#include <sstream>

#include "model/log.h"

namespace aster {
namespace {

std::string civet_listen(const std::string& addr) {
  // ":8497" means every IPv4 address; civetweb spells that "8497".
  return addr[0] == ':' ? addr.substr(1) : addr;
}

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
              "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
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
      mg_printf(conn, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                strlen(body), body);
      return true;
    }
    std::string html = "<!DOCTYPE html><html><head><title>aster-exporter</title></head><body>"
                       "<h1>aster-exporter</h1><p>eBPF HTTP metrics exporter, version " +
                       std::string(kVersion) + ".</p>";
    if (!path_.empty()) html += "<p><a href=\"" + path_ + "\">Metrics</a></p>";
    if (!note_.empty()) html += "<p>" + note_ + "</p>";
    html += "</body></html>\n";
    mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n\r\n",
              html.size());
    mg_write(conn, html.data(), html.size());
    return true;
  }

 private:
  std::string path_, note_;
};

}  // namespace

struct WebServer::Handlers {
  std::unique_ptr<MetricsHandler> metrics;
  std::unique_ptr<LandingHandler> landing;
};

std::unique_ptr<WebServer> WebServer::start(const Config& cfg, Collectables collectables,
                                            const std::string& landing_note, std::string* error) {
  std::unique_ptr<WebServer> ws(new WebServer());
  // civetweb gives each connection a worker until it closes, and
  // request_timeout_ms bounds the whole head's arrival (not each read), so
  // a client trickling a head a byte at a time holds a worker at most that
  // long. Keep-alive connections are closed after one idle timeout, so a
  // scraper's idle connection does not hold a worker between scrapes.
  std::vector<std::string> options = {"listening_ports", civet_listen(cfg.listen_address),
                                      "num_threads", std::to_string(cfg.web_max_connections),
                                      "request_timeout_ms", std::to_string(cfg.web_header_timeout_ms),
                                      "keep_alive_timeout_ms", std::to_string(cfg.web_header_timeout_ms)};
  try {
    ws->server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    *error = "cannot serve on " + cfg.listen_address + " (" + e.what() +
             "): is the port taken? choose another with --web.listen-address";
    return nullptr;
  }
  ws->handlers_ = std::make_unique<Handlers>();
  bool serve_metrics = !collectables.empty();
  ws->handlers_->landing = std::make_unique<LandingHandler>(serve_metrics ? cfg.telemetry_path : "", landing_note);
  ws->server_->addHandler("/", ws->handlers_->landing.get());
  if (serve_metrics) {
    ws->handlers_->metrics = std::make_unique<MetricsHandler>(std::move(collectables));
    ws->server_->addHandler(cfg.telemetry_path, ws->handlers_->metrics.get());
  }
  return ws;
}

WebServer::~WebServer() {
  if (server_) server_->close();
}

}  // namespace aster
