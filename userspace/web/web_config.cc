// SPDX-License-Identifier: Apache-2.0
#include "web/web_config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "config/yaml_keys.h"

namespace aster {
namespace {

struct KeyError {
  std::string text;
};

std::string scalar(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) throw KeyError{key + ": expected a single value"};
  return n.as<std::string>();
}

bool boolean(const YAML::Node& n, const std::string& key) {
  std::string v = scalar(n, key);
  if (v == "true") return true;
  if (v == "false") return false;
  throw KeyError{key + ": expected true or false, got '" + v + "'"};
}

void known_keys(const YAML::Node& map, const std::string& prefix, const std::set<std::string>& known) {
  if (!map.IsMap()) throw KeyError{(prefix.empty() ? "top level" : prefix.substr(0, prefix.size() - 1)) + ": expected a mapping"};
  std::string err = unknown_key_error(map, known, prefix);
  if (!err.empty()) throw KeyError{err};
}

void cannot_honour(const YAML::Node& map, const std::string& prefix, const std::set<std::string>& keys,
                   const char* why) {
  for (const auto& k : keys) {
    if (map[k]) throw KeyError{prefix + k + ": not supported by aster-exporter (" + why + "); remove it"};
  }
}

int tls_version(const YAML::Node& n, const std::string& key) {
  std::string v = scalar(n, key);
  if (v == "TLS10") return 0x0301;
  if (v == "TLS11") return 0x0302;
  if (v == "TLS12") return 0x0303;
  if (v == "TLS13") return 0x0304;
  throw KeyError{key + ": unknown TLS version '" + v + "' (TLS10, TLS11, TLS12 or TLS13)"};
}

ClientAuth client_auth(const YAML::Node& n, const std::string& key) {
  std::string v = scalar(n, key);
  if (v.empty() || v == "NoClientCert") return ClientAuth::kNone;
  if (v == "RequestClientCert") return ClientAuth::kRequest;
  if (v == "RequireAnyClientCert" || v == "RequireClientCert") return ClientAuth::kRequireAny;
  if (v == "VerifyClientCertIfGiven") return ClientAuth::kVerifyIfGiven;
  if (v == "RequireAndVerifyClientCert") return ClientAuth::kRequireAndVerify;
  throw KeyError{key + ": unknown client auth type '" + v +
                 "' (NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, "
                 "RequireAndVerifyClientCert)"};
}

std::string relative_to(const std::string& dir, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  return dir + "/" + p;
}

// The toolkit's list: these headers only, some with fixed values.
void check_header(const std::string& name, const std::string& value, const std::string& key) {
  static const std::map<std::string, std::set<std::string>> allowed = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}}};
  auto it = allowed.find(name);
  if (it == allowed.end()) {
    throw KeyError{key + ": header '" + name +
                   "' can not be configured (allowed: Content-Security-Policy, Strict-Transport-Security, "
                   "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection)"};
  }
  if (!it->second.empty() && !it->second.count(value)) {
    std::string vals;
    for (const auto& v : it->second) vals += (vals.empty() ? "" : ", ") + v;
    throw KeyError{key + ": invalid value '" + value + "' (expected one of: " + vals + ")"};
  }
  for (char c : value) {
    if (c == '\r' || c == '\n') throw KeyError{key + ": a header value cannot hold a line break"};
  }
}

bool is_bcrypt(const std::string& h) {
  return h.size() == 60 && h[0] == '$' && h[1] == '2' && (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') &&
         h[3] == '$' && isdigit(static_cast<unsigned char>(h[4])) && isdigit(static_cast<unsigned char>(h[5])) &&
         h[6] == '$';
}

void parse_tls(const YAML::Node& t, const std::string& dir, WebConfig& c) {
  const std::string p = "tls_server_config.";
  known_keys(t, p,
             {"cert_file", "key_file", "cert", "key", "client_ca_file", "client_ca", "client_auth_type",
              "min_version", "max_version", "prefer_server_cipher_suites", "cipher_suites", "curve_preferences",
              "client_allowed_sans"});
  cannot_honour(t, p, {"client_allowed_sans"}, "client certificates are checked against client_ca only");
  TlsServerConfig& s = c.tls_config;
  if (t["cert_file"]) s.cert_file = relative_to(dir, scalar(t["cert_file"], p + "cert_file"));
  if (t["key_file"]) s.key_file = relative_to(dir, scalar(t["key_file"], p + "key_file"));
  if (t["client_ca_file"]) s.client_ca_file = relative_to(dir, scalar(t["client_ca_file"], p + "client_ca_file"));
  if (t["cert"]) s.cert_pem = scalar(t["cert"], p + "cert");
  if (t["key"]) s.key_pem = scalar(t["key"], p + "key");
  if (t["client_ca"]) s.client_ca_pem = scalar(t["client_ca"], p + "client_ca");
  if (t["client_auth_type"]) s.client_auth = client_auth(t["client_auth_type"], p + "client_auth_type");
  if (t["min_version"]) s.min_version = tls_version(t["min_version"], p + "min_version");
  if (t["max_version"]) s.max_version = tls_version(t["max_version"], p + "max_version");
  for (const char* list : {"cipher_suites", "curve_preferences"}) {
    if (!t[list]) continue;
    if (!t[list].IsSequence() || t[list].size() == 0) throw KeyError{p + list + ": expected a list of names"};
    auto& out = std::string(list) == "cipher_suites" ? s.cipher_suites : s.curve_preferences;
    for (const auto& n : t[list]) out.push_back(scalar(n, p + list));
  }
  for (const auto& curve : s.curve_preferences) {
    if (curve != "CurveP256" && curve != "CurveP384" && curve != "CurveP521" && curve != "X25519")
      throw KeyError{p + "curve_preferences: unknown curve '" + curve + "' (CurveP256, CurveP384, CurveP521, X25519)"};
  }
  if (t["prefer_server_cipher_suites"])
    s.prefer_server_cipher_suites = boolean(t["prefer_server_cipher_suites"], p + "prefer_server_cipher_suites");
  c.tls = !s.cert_file.empty() || !s.key_file.empty() || !s.cert_pem.empty() || !s.key_pem.empty() ||
          !s.client_ca_file.empty() || !s.client_ca_pem.empty() || t["client_auth_type"];
  if (!c.tls) return;
  if (s.cert_file.empty() && s.cert_pem.empty()) throw KeyError{p + "cert_file: missing (or cert)"};
  if (s.key_file.empty() && s.key_pem.empty()) throw KeyError{p + "key_file: missing (or key)"};
  if (!s.cert_file.empty() && !s.cert_pem.empty()) throw KeyError{p + "cert: set cert_file or cert, not both"};
  if (!s.key_file.empty() && !s.key_pem.empty()) throw KeyError{p + "key: set key_file or key, not both"};
  bool has_ca = !s.client_ca_file.empty() || !s.client_ca_pem.empty();
  if (has_ca && s.client_auth == ClientAuth::kNone)
    throw KeyError{p + "client_ca_file: client CAs are configured without a client_auth_type"};
  if (!has_ca && (s.client_auth == ClientAuth::kVerifyIfGiven || s.client_auth == ClientAuth::kRequireAndVerify))
    throw KeyError{p + "client_auth_type: verifying client certificates needs client_ca_file (or client_ca)"};
  if (s.min_version > s.max_version) throw KeyError{p + "min_version: above max_version"};
}

}  // namespace

bool parse_web_config(const std::string& text, const std::string& path, WebConfig* out, std::string* error) {
  WebConfig c;
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsNull()) {
      known_keys(root, "", {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"});
      cannot_honour(root, "", {"rate_limit"}, "the per-address connection cap bounds clients instead");
      if (auto t = root["tls_server_config"]) parse_tls(t, dir, c);
      if (auto h = root["http_server_config"]) {
        known_keys(h, "http_server_config.", {"http2", "headers"});
        if (h["http2"] && boolean(h["http2"], "http_server_config.http2")) {
          throw KeyError{"http_server_config.http2: true is not supported by aster-exporter (it serves "
                         "HTTP/1.1; Prometheus scrapes that); set it to false or remove it"};
        }
        if (auto hs = h["headers"]) {
          if (!hs.IsMap()) throw KeyError{"http_server_config.headers: expected a mapping of header to value"};
          for (const auto& kv : hs) {
            std::string name = kv.first.as<std::string>();
            std::string key = "http_server_config.headers." + name;
            std::string value = scalar(kv.second, key);
            check_header(name, value, key);
            c.headers.emplace_back(name, value);
          }
        }
      }
      if (auto u = root["basic_auth_users"]) {
        if (!u.IsMap()) throw KeyError{"basic_auth_users: expected a mapping of user to bcrypt hash"};
        for (const auto& kv : u) {
          std::string user = kv.first.as<std::string>();
          std::string key = "basic_auth_users." + user;
          std::string hash = scalar(kv.second, key);
          if (!is_bcrypt(hash))
            throw KeyError{key + ": not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters; make one with "
                                 "htpasswd -nBC 10 USER)"};
          if (user.find(':') != std::string::npos) throw KeyError{key + ": a user name cannot hold ':'"};
          c.users[user] = hash;
        }
      }
    }
  } catch (const KeyError& e) {
    *error = "web config " + path + ": " + e.text;
    return false;
  } catch (const YAML::Exception& e) {
    *error = "web config " + path + ": not valid YAML: " + e.what();
    return false;
  }
  *out = std::move(c);
  return true;
}

bool load_web_config(const std::string& path, WebConfig* out, std::string* error) {
  std::ifstream f(path);
  if (!f) {
    *error = "web config " + path + ": cannot read it (" + std::string(strerror(errno)) +
             "); check --web.config.file";
    return false;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_web_config(ss.str(), path, out, error);
}

}  // namespace aster
