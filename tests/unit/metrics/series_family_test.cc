// Our counters and histograms must write exactly what prometheus-cpp's wrote
// for the same observations (the goldens and every dashboard read that
// text), and a scrape during observations must see whole ones.
#include "metrics/series_family.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "metrics/http_metrics.h"

namespace aster {
namespace {

std::string text(const std::vector<prometheus::MetricFamily>& f) { return prometheus::TextSerializer().Serialize(f); }

TEST(SeriesFamily, WritesWhatPrometheusCppWrites) {
  const std::vector<double> bounds = HttpMetrics::duration_buckets();
  const std::vector<double> values = {0,    0.0001, 0.00011, 0.3,  1e-9, 29.9, 30, 30.0001, 1e6,
                                      -1.5, 2.5,    0.025,   1e-3, 7,    0.1,  std::numeric_limits<double>::quiet_NaN()};
  prometheus::Registry registry;
  auto& theirs = prometheus::BuildHistogram().Name("h_seconds").Help("help \"text\"\n").Register(registry);
  auto& their_counts = prometheus::BuildCounter().Name("c_total").Help("c").Register(registry);
  HistogramFamily ours("h_seconds", "help \"text\"\n", bounds);
  CounterFamily our_counts("c_total", "c");
  const prometheus::Labels a{{"path", "/a"}, {"method", "GET"}}, b{{"path", "/b\"\\\n"}, {"service", "s"}};
  for (size_t i = 0; i < values.size(); ++i) {
    const auto& l = i % 3 ? a : b;
    theirs.Add(l, bounds).Observe(values[i]);
    ours.add(l).observe(values[i]);
    their_counts.Add(l).Increment();
    our_counts.add(l).increment();
  }
  // prometheus-cpp writes series in hash order; ours are in label order.
  // Compare per series: collect each family, one series at a time.
  auto split = [](std::vector<prometheus::MetricFamily> fs) {
    std::map<std::string, std::string> out;
    for (auto& f : fs) {
      for (auto& m : f.metric) {
        prometheus::MetricFamily one = f;
        one.metric = {m};
        std::string key = f.name;
        for (auto& l : m.label) key += "," + l.name + "=" + l.value;
        out[key] = prometheus::TextSerializer().Serialize({one});
      }
    }
    return out;
  };
  auto got = split(ours.Collect());
  auto c = split(our_counts.Collect());
  got.insert(c.begin(), c.end());
  auto want = split(registry.Collect());
  EXPECT_EQ(got, want);
  ASSERT_EQ(got.size(), 4u);
}

TEST(SeriesFamily, AnEmptyFamilyWritesNothingAndRemovedSeriesGo) {
  HistogramFamily h("h", "x", {1, 2});
  EXPECT_TRUE(h.Collect().empty());
  HistogramSeries& s = h.add({{"k", "v"}});
  EXPECT_EQ(&h.add({{"k", "v"}}), &s) << "the same labels give the same series";
  s.observe(1.5);
  HistogramSeries& t = h.add({{"k", "w"}});
  ASSERT_EQ(h.Collect().at(0).metric.size(), 2u);
  h.remove(&s);
  auto f = h.Collect();
  ASSERT_EQ(f.at(0).metric.size(), 1u);
  EXPECT_EQ(f[0].metric[0].label.at(0).value, "w");
  h.remove(&t);
  EXPECT_TRUE(h.Collect().empty());
  EXPECT_THROW(CounterFamily("not a name", "x"), std::invalid_argument);
}

TEST(SeriesFamily, AScrapeDuringObservationsSeesWholeOnes) {
  HistogramFamily h("h", "x", {1, 2, 4});
  HistogramSeries& s = h.add({});
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 200000; ++i) s.observe(i % 2 ? 1.0 : 3.0);  // sum: 2 per pair
    done = true;
  });
  int scrapes = 0;
  while (!done || scrapes == 0) {
    auto f = h.Collect();
    const auto& m = f.at(0).metric.at(0).histogram;
    const uint64_t ones = m.bucket.at(0).cumulative_count, all = m.sample_count;
    EXPECT_DOUBLE_EQ(m.sample_sum, 1.0 * static_cast<double>(ones) + 3.0 * static_cast<double>(all - ones));
    EXPECT_EQ(m.bucket.back().cumulative_count, all);
    ++scrapes;
  }
  writer.join();
  EXPECT_EQ(h.Collect().at(0).metric.at(0).histogram.sample_count, 200000u);
}

}  // namespace
}  // namespace aster
