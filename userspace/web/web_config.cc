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

}  // namespace

bool parse_web_config(const std::string& text, const std::string& path, WebConfig* out, std::string* error) {
  WebConfig c;
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsNull()) {
      known_keys(root, "", {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"});
      cannot_honour(root, "", {"rate_limit"}, "the per-address connection cap bounds clients instead");
      // Debian 12's libcivetweb 1.15 calls SSL_get_peer_certificate (gone
      // from OpenSSL 3) through a null pointer after every TLS handshake.
      cannot_honour(root, "", {"tls_server_config"},
                    "Debian 12's libcivetweb crashes on every TLS connection; serve plain HTTP on an address "
                    "only Prometheus reaches, with basic_auth_users, or put a TLS proxy in front");
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
