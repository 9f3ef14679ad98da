// SPDX-License-Identifier: Apache-2.0
// The HTTP side of the exporter: the telemetry path (Prometheus text
// format, via prometheus-cpp's serializer) and a landing page at "/", on
// civetweb (the same server prometheus-cpp's pull exposer embeds; we drive
// it directly so that "/" can be served too).
#pragma once

#include <prometheus/collectable.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "model/web_stats.h"

class CivetServer;

namespace aster {

class WebServer {
 public:
  using Collectables = std::vector<std::shared_ptr<prometheus::Collectable>>;
  // Null with `error` set when the address cannot be bound.
  static std::unique_ptr<WebServer> start(const Config& cfg, Collectables collectables,
                                          const std::string& landing_note, WebStats& stats,
                                          std::string* error);
  ~WebServer();
  struct State;  // civetweb's callbacks reach it; defined in web_server.cc

 private:
  WebServer() = default;
  std::unique_ptr<State> state_;  // outlives server_ (declared first, destroyed last)
  std::unique_ptr<CivetServer> server_;
};

}  // namespace aster
