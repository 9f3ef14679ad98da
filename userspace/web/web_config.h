// SPDX-License-Identifier: Apache-2.0
// --web.config.file, in the Prometheus exporter-toolkit format, so the file
// written for node_exporter works here too:
//
//   http_server_config: {headers, http2: false}
//   basic_auth_users: {user: bcrypt hash}
//
// The toolkit's options this server cannot honour (tls_server_config, see
// README "Securing /metrics"; rate_limit; http2: true) are errors that
// name them, never settings silently ignored; so is any key the toolkit
// does not know.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace aster {

struct WebConfig {
  std::map<std::string, std::string> users;  // basic_auth_users: user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;
};

// Parses `text` (the file at `path`, for messages). On
// error returns false with `error` naming the file and the key.
bool parse_web_config(const std::string& text, const std::string& path, WebConfig* out, std::string* error);
bool load_web_config(const std::string& path, WebConfig* out, std::string* error);

}  // namespace aster
