// SPDX-License-Identifier: Apache-2.0
// --web.config.file, in the Prometheus exporter-toolkit format, so the file
// written for node_exporter works here too:
//
//   tls_server_config: {cert_file, key_file, cert, key, client_ca_file,
//                       client_ca, client_auth_type, min_version,
//                       max_version, prefer_server_cipher_suites,
//                       cipher_suites, curve_preferences}
//   http_server_config: {headers, http2: false}
//   basic_auth_users: {user: bcrypt hash}
//
// The toolkit's options this server cannot honour (client_allowed_sans,
// rate_limit, http2: true) are
// errors that name them, never settings silently ignored; so is any key
// the toolkit does not know. Relative paths are relative to the file.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace aster {

enum class ClientAuth { kNone, kRequest, kRequireAny, kVerifyIfGiven, kRequireAndVerify };

struct TlsServerConfig {
  std::string cert_file, key_file, client_ca_file;  // absolute after parsing
  std::string cert_pem, key_pem, client_ca_pem;     // the inline forms (cert, key, client_ca)
  ClientAuth client_auth = ClientAuth::kNone;
  int min_version = 0x0303;  // TLS 1.2, the toolkit's default (values as TLS's wire versions)
  int max_version = 0x0304;  // TLS 1.3
  bool prefer_server_cipher_suites = true;
  // Go's names, as the toolkit takes them: cipher_suites are IANA names of
  // TLS 1.2 suites (TLS 1.3's are not configurable, as in Go);
  // curve_preferences CurveP256, CurveP384, CurveP521, X25519. Empty: OpenSSL's defaults.
  std::vector<std::string> cipher_suites, curve_preferences;
};

struct WebConfig {
  bool tls = false;  // tls_server_config sets something: serve HTTPS only
  TlsServerConfig tls_config;
  std::map<std::string, std::string> users;  // basic_auth_users: user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;
};

// Parses `text` (the file at `path`, for relative paths and messages). On
// error returns false with `error` naming the file and the key.
bool parse_web_config(const std::string& text, const std::string& path, WebConfig* out, std::string* error);
bool load_web_config(const std::string& path, WebConfig* out, std::string* error);

}  // namespace aster
