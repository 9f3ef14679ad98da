// SPDX-License-Identifier: Apache-2.0
#include "metrics/business_gauges.h"

namespace aster {

BusinessGauges::BusinessGauges(prometheus::Registry& registry, std::vector<GaugeRule> rules, ServiceName names)
    : rules_(std::move(rules)), names_(std::move(names)) {
  for (const auto& r : rules_) {
    families_.push_back(&prometheus::BuildGauge().Name(r.name).Help(r.help).Register(registry));
    has_inflight_ |= !r.inflight.empty();
  }
}

BusinessGauges::ServiceGauges& BusinessGauges::service(uint16_t id) {
  if (id >= services_.size()) services_.resize(id + 1);
  ServiceGauges& s = services_[id];
  if (!s.ready) {
    s.ready = true;
    std::string name = names_(id);
    prometheus::Labels labels{{"service", name}};
    if (workload_labels_) {
      for (auto& [k, v] : workload_labels_(id)) labels.emplace(std::move(k), std::move(v));
    }
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (!applies_to(rules_[i].services, name)) continue;
      Bound b{&rules_[i], &families_[i]->Add(labels)};
      (rules_[i].inflight.empty() ? s.counting : s.inflight).push_back(b);
      series_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return s;
}

size_t BusinessGauges::drop_service(uint16_t id) {
  if (id >= services_.size() || !services_[id].ready) return 0;
  ServiceGauges& s = services_[id];
  size_t n = 0;
  for (auto* list : {&s.counting, &s.inflight}) {
    for (const Bound& b : *list) {
      families_[b.rule - rules_.data()]->Remove(b.gauge);
      ++n;
    }
  }
  s = ServiceGauges{};
  series_.fetch_sub(n, std::memory_order_relaxed);
  return n;
}

bool BusinessGauges::any_request_match(const std::vector<ExchangeMatch>& ms, HttpMethod m, std::string_view path) {
  for (const auto& x : ms) {
    if (x.matches_request(m, path)) return true;
  }
  return false;
}

int BusinessGauges::delta(const GaugeRule& r, HttpMethod method, std::string_view path, uint16_t status) {
  // `up` first: one exchange moves a gauge by one at most.
  for (const auto& up : r.up) {
    if (up.matches(method, path, status)) return 1;
  }
  for (const auto& down : r.down) {
    if (down.matches(method, path, status)) return -1;
  }
  return 0;
}

void BusinessGauges::on_exchange(uint16_t service_id, HttpMethod method, std::string_view path, uint16_t status) {
  for (const Bound& b : service(service_id).counting) {
    int d = delta(*b.rule, method, path, status);
    if (d > 0) {
      b.gauge->Increment();
    } else if (d < 0 && b.gauge->Value() >= 1) {
      // Objects created before the exporter started are unknown to it:
      // staying at zero keeps the value a lower bound of the true count.
      b.gauge->Decrement();
    }
  }
}

void BusinessGauges::on_request_start(uint16_t service_id, HttpMethod method, std::string_view path) {
  for (const Bound& b : service(service_id).inflight) {
    if (any_request_match(b.rule->inflight, method, path)) b.gauge->Increment();
  }
}

void BusinessGauges::on_request_end(uint16_t service_id, HttpMethod method, std::string_view path) {
  for (const Bound& b : service(service_id).inflight) {
    // Every end has had its start (the same method and path, matched the
    // same way), so this never goes below zero.
    if (any_request_match(b.rule->inflight, method, path)) b.gauge->Decrement();
  }
}

}  // namespace aster
