// SPDX-License-Identifier: Apache-2.0
#include "metrics/series_expiry.h"

#include <algorithm>

#include "model/log.h"

namespace aster {

uint64_t SeriesExpiry::quarantine_for(uint32_t poll_interval_ms) {
  return std::max<uint64_t>(10ull * 1000000000, 100ull * poll_interval_ms * 1000000);
}

SeriesExpiry::SeriesExpiry(const Settings& s, ServiceRegistry& registry, RecordPipeline& pipeline, HttpMetrics& http,
                           std::function<size_t(uint16_t)> forget_in_kernel)
    : settings_(s), registry_(registry), pipeline_(pipeline), http_(http), forget_in_kernel_(std::move(forget_in_kernel)) {}

void SeriesExpiry::tick(uint64_t now_ns) {
  if (now_ns - last_sweep_ns_ < settings_.sweep_every_ns) return;
  sweep(now_ns);
}

void SeriesExpiry::sweep(uint64_t now_ns) {
  last_sweep_ns_ = now_ns;
  // Quarantines that are over first: an id taken below is not one of them.
  std::vector<uint16_t> over = registry_.quarantine_over(settings_.quarantine_ns);
  for (uint16_t id : over) pipeline_.expire_service(id, ExpiryReason::kGone);
  registry_.release(over);

  for (uint16_t id : registry_.take_gone(settings_.gone_after_ns)) {
    size_t left = forget_in_kernel_ ? forget_in_kernel_(id) : 0;
    std::string name = registry_.name(id);
    if (left) {
      LOG_INFO("service %s: %zu watched-map entries left by processes discovery did not follow removed", name.c_str(),
               left);
    }
    pipeline_.expire_service(id, ExpiryReason::kGone);
    LOG_INFO("service %s (id %u) has had no watched process for %llu s: its series are dropped", name.c_str(),
             static_cast<unsigned>(id), static_cast<unsigned long long>(settings_.gone_after_ns / 1000000000));
  }

  if (settings_.idle_after_ns) {
    for (uint16_t id : http_.idle_services(now_ns, settings_.idle_after_ns)) {
      pipeline_.expire_service(id, ExpiryReason::kIdle);
    }
  }
}

}  // namespace aster
