// SPDX-License-Identifier: Apache-2.0
// The web config as it is on disk now. Like exporter-toolkit, the file is
// read again when it changes, and so are the certificate, key and CA files
// it names (a Kubernetes Secret's update or a cert-manager renewal needs no
// restart). Each request and handshake compares a few stat() results; a
// change that cannot be loaded is logged, counted, and the configuration in
// use stays.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "model/web_stats.h"
#include "web/tls_context.h"
#include "web/web_config.h"

namespace aster {

struct WebConfigSnapshot {
  WebConfig config;
  SslCtxPtr tls;  // null without tls_server_config
};

class LiveWebConfig {
 public:
  // Null with `error` (naming the key) when the file cannot be used at start-up.
  static std::unique_ptr<LiveWebConfig> open(const std::string& path, WebStats& stats, std::string* error);
  std::shared_ptr<const WebConfigSnapshot> current();

 private:
  LiveWebConfig(std::string path, WebStats& stats) : path_(std::move(path)), stats_(stats) {}
  static std::shared_ptr<const WebConfigSnapshot> load(const std::string& path, std::string* error);
  std::string signature(const WebConfig& c) const;

  const std::string path_;
  WebStats& stats_;
  std::mutex mu_;
  std::shared_ptr<const WebConfigSnapshot> snap_;
  std::string seen_;  // the signature last loaded or tried
};

}  // namespace aster
