// One collection of a registry (or of an HttpMetrics), for the metrics tests: sums and series
// counts of a family's samples whose labels include the wanted ones.
#pragma once

#include <prometheus/registry.h>

#include "metrics/http_metrics.h"

#include <map>
#include <string>
#include <vector>

namespace aster {

using Labels = std::map<std::string, std::string>;

// Every family of an HttpMetrics (its HTTP families are its own, not the
// registry's), in exposition order.
inline std::vector<prometheus::MetricFamily> collect(const HttpMetrics& http) {
  std::vector<prometheus::MetricFamily> out;
  for (prometheus::Collectable* c : http.families()) {
    for (auto& f : c->Collect()) out.push_back(std::move(f));
  }
  return out;
}

struct Scrape {
  explicit Scrape(prometheus::Registry& r) : families(r.Collect()) {}
  explicit Scrape(const HttpMetrics& http) : families(collect(http)) {}
  // Sum over the family's samples whose labels include `want`.
  double sum(const std::string& family, const Labels& want = {}) const {
    double total = 0;
    for (const auto& f : families) {
      if (f.name != family) continue;
      for (const auto& m : f.metric) {
        if (!has(m, want)) continue;
        total += f.type == prometheus::MetricType::Counter ? m.counter.value
                                                           : static_cast<double>(m.histogram.sample_count);
      }
    }
    return total;
  }
  size_t series(const std::string& family, const Labels& want = {}) const {
    size_t n = 0;
    for (const auto& f : families) {
      if (f.name != family) continue;
      for (const auto& m : f.metric) n += has(m, want);
    }
    return n;
  }
  static bool has(const prometheus::ClientMetric& m, const Labels& want) {
    for (const auto& [k, v] : want) {
      bool found = false;
      for (const auto& l : m.label) found |= l.name == k && l.value == v;
      if (!found) return false;
    }
    return true;
  }
  std::vector<prometheus::MetricFamily> families;
};

}  // namespace aster
