// SPDX-License-Identifier: Apache-2.0
// Counters and histograms of our own for the per-request HTTP families.
//
// prometheus-cpp's Histogram::Observe takes a mutex and runs a
// compare-and-swap loop on a double for its bucket and its sum, and its
// Counter another, on every request (≈ 540 and 140 instructions per request
// under callgrind). Here one thread writes (the event loop) and scrape
// threads read, so a series is updated with plain relaxed stores, and a
// histogram's readers see whole observations through a sequence count
// instead of a lock. The families collect into prometheus-cpp's
// MetricFamily, so the text serializer writes the same lines as before.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace aster {

class CounterSeries {
 public:
  // One writer: a load and a store, no read-modify-write.
  void increment() { n_.store(n_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  uint64_t value() const { return n_.load(std::memory_order_relaxed); }
  prometheus::ClientMetric collect() const;

 private:
  std::atomic<uint64_t> n_{0};
};

class HistogramSeries {
 public:
  // `bounds` (ascending upper bounds, +Inf implied) outlive the series: its
  // family holds them.
  explicit HistogramSeries(const std::vector<double>& bounds);
  // One writer. A value goes to the first bucket whose bound is >= it (NaN
  // to the first bucket), as in prometheus-cpp.
  void observe(double v);
  prometheus::ClientMetric collect() const;

 private:
  const std::vector<double>& bounds_;
  // Odd while observe() is between its stores: a reader tries again.
  std::atomic<uint32_t> seq_{0};
  std::atomic<double> sum_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1, not cumulative
};

// A family of one series type: series are created and removed by the writer
// (under the family's mutex, which a scrape also takes), and written through
// the pointer add() returned without it. Series are collected in label
// order.
template <class Series>
class SeriesFamily : public prometheus::Collectable {
 public:
  // A histogram family's series share `bounds`; a counter family has none.
  // Throws std::invalid_argument for a name that is no metric name.
  SeriesFamily(std::string name, std::string help, std::vector<double> bounds = {});

  // The series of these labels, created if new. Its address is stable until
  // remove(): the hot path keeps it.
  Series& add(const prometheus::Labels& labels);
  void remove(Series* s);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string name_, help_;
  const std::vector<double> bounds_;
  // A series knows its key, so remove() finds it without a scan.
  struct Held : Series {
    template <class... A>
    explicit Held(A&&... a) : Series(std::forward<A>(a)...) {}
    const prometheus::Labels* key = nullptr;
  };
  mutable std::mutex mu_;
  std::map<prometheus::Labels, std::unique_ptr<Held>> series_;
};

using CounterFamily = SeriesFamily<CounterSeries>;
using HistogramFamily = SeriesFamily<HistogramSeries>;

}  // namespace aster
