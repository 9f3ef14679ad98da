// SPDX-License-Identifier: Apache-2.0
#include "metrics/series_family.h"

#include <prometheus/check_names.h>
#include <sched.h>

#include <limits>
#include <stdexcept>

namespace aster {

prometheus::ClientMetric CounterSeries::collect() const {
  prometheus::ClientMetric m;
  m.counter.value = static_cast<double>(value());
  return m;
}

HistogramSeries::HistogramSeries(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void HistogramSeries::observe(double v) {
  size_t i = 0;
  const size_t n = bounds_.size();
  const double* b = bounds_.data();
  while (i < n && b[i] < v) ++i;  // std::lower_bound, as prometheus-cpp
  const uint32_t s = seq_.load(std::memory_order_relaxed);
  seq_.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  counts_[i].store(counts_[i].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  sum_.store(sum_.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  seq_.store(s + 2, std::memory_order_release);
}

prometheus::ClientMetric HistogramSeries::collect() const {
  const size_t n = bounds_.size() + 1;
  std::vector<uint64_t> counts(n);
  double sum = 0;
  for (;;) {
    const uint32_t before = seq_.load(std::memory_order_acquire);
    if (before & 1) {
      sched_yield();  // the writer is inside observe()
      continue;
    }
    for (size_t i = 0; i < n; ++i) counts[i] = counts_[i].load(std::memory_order_relaxed);
    sum = sum_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) == before) break;
  }
  // What prometheus::Histogram::Collect gives: cumulative buckets, the
  // last one +Inf, the count equal to it.
  prometheus::ClientMetric m;
  m.histogram.bucket.reserve(n);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < n; ++i) {
    cumulative += counts[i];
    prometheus::ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i == bounds_.size() ? std::numeric_limits<double>::infinity() : bounds_[i];
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = sum;
  return m;
}

namespace {
template <class Series>
constexpr prometheus::MetricType kType =
    std::is_same_v<Series, CounterSeries> ? prometheus::MetricType::Counter : prometheus::MetricType::Histogram;
}  // namespace

template <class Series>
SeriesFamily<Series>::SeriesFamily(std::string name, std::string help, std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)) {
  if (!prometheus::CheckMetricName(name_)) throw std::invalid_argument("Invalid metric name");
}

template <class Series>
Series& SeriesFamily<Series>::add(const prometheus::Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(labels);
  if (it != series_.end()) return *it->second;
  std::unique_ptr<Held> s;
  if constexpr (std::is_same_v<Series, HistogramSeries>) {
    s = std::make_unique<Held>(bounds_);
  } else {
    s = std::make_unique<Held>();
  }
  it = series_.emplace(labels, std::move(s)).first;
  it->second->key = &it->first;
  return *it->second;
}

template <class Series>
void SeriesFamily<Series>::remove(Series* s) {
  if (!s) return;
  std::lock_guard<std::mutex> lock(mu_);
  series_.erase(*static_cast<Held*>(s)->key);
}

template <class Series>
std::vector<prometheus::MetricFamily> SeriesFamily<Series>::Collect() const {
  std::lock_guard<std::mutex> lock(mu_);
  // An empty family writes nothing, not even HELP and TYPE (as before).
  if (series_.empty()) return {};
  prometheus::MetricFamily f;
  f.name = name_;
  f.help = help_;
  f.type = kType<Series>;
  f.metric.reserve(series_.size());
  for (const auto& [labels, s] : series_) {
    prometheus::ClientMetric m = s->collect();
    m.label.reserve(labels.size());
    for (const auto& [k, v] : labels) m.label.push_back(prometheus::ClientMetric::Label{k, v});
    f.metric.push_back(std::move(m));
  }
  return {std::move(f)};
}

template class SeriesFamily<CounterSeries>;
template class SeriesFamily<HistogramSeries>;

}  // namespace aster
