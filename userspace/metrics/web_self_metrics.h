// SPDX-License-Identifier: Apache-2.0
// aster_exporter_web_*: what the web server did with its clients.
#pragma once

#include <prometheus/collectable.h>

#include "model/web_stats.h"

namespace aster {

class WebSelfMetrics : public prometheus::Collectable {
 public:
  explicit WebSelfMetrics(const WebStats& s) : s_(s) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const WebStats& s_;
};

}  // namespace aster
