// SPDX-License-Identifier: Apache-2.0
// Builds prometheus-cpp MetricFamily values for collectors that compute
// their samples at scrape time.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <utility>
#include <vector>

namespace aster {

class FamilyBuilder {
 public:
  FamilyBuilder(std::string name, std::string help, prometheus::MetricType type) {
    f_.name = std::move(name);
    f_.help = std::move(help);
    f_.type = type;
  }
  FamilyBuilder& add(double value, std::vector<std::pair<std::string, std::string>> labels = {}) {
    prometheus::ClientMetric m;
    for (auto& [k, v] : labels) m.label.push_back({k, v});
    if (f_.type == prometheus::MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    f_.metric.push_back(std::move(m));
    return *this;
  }
  prometheus::MetricFamily take() { return std::move(f_); }

 private:
  prometheus::MetricFamily f_;
};

// Single-sample families, the shape most self metrics have.
inline void add_counter(std::vector<prometheus::MetricFamily>& out, const char* name, const char* help, double v) {
  out.push_back(FamilyBuilder(name, help, prometheus::MetricType::Counter).add(v).take());
}
inline void add_gauge(std::vector<prometheus::MetricFamily>& out, const char* name, const char* help, double v) {
  out.push_back(FamilyBuilder(name, help, prometheus::MetricType::Gauge).add(v).take());
}

}  // namespace aster
