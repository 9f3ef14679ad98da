// SPDX-License-Identifier: Apache-2.0
// The exporter's heap per 1000 series and per tracked connection, with the
// workload identity labels on (issue 21's memory target), measured in
// process with mallinfo2: the same figures every run, unlike the RSS of a
// live exporter on a shared machine (bench.py's memory phase).
//
//   build/aster_memory_bench [PATHS] [CONNECTIONS]
//
// Series: one service whose series carry what a Kubernetes pod's carry
// (k8s_namespace_name, k8s_pod_name, k8s_container_name, k8s_owner_kind,
// k8s_owner_name, service_namespace), PATHS distinct paths (learning off),
// one GET 200 each: 1 counter and 3 histograms per path, 51 exposed series
// (each bucket is one). Connections: CONNECTIONS HTTP/1.1 connections
// through the real tracker and parser, first each with a request head read
// and no answer yet (in flight), then each after one whole exchange (idle
// keep-alive).
#include <malloc.h>
#include <prometheus/registry.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "metrics/http_metrics.h"
#include "model/pipeline_stats.h"
#include "protocols/registry.h"
#include "streams/connection_tracker.h"
#include "streams/data_record.h"

namespace {

size_t heap() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

// A path segment of letters only: no identifier heuristic applies.
std::string word(size_t i) {
  std::string w;
  do {
    w.push_back(static_cast<char>('a' + i % 26));
    i /= 26;
  } while (i);
  return "/api/" + w + "/items";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace aster;
  const size_t paths = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2000;
  const size_t conns = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 10000;

  MetricsOptions options;
  options.max_series_per_family = static_cast<uint32_t>(paths + 100);
  options.learn_threshold = 0;
  prometheus::Registry registry;
  HttpMetrics http(registry, options, [](uint16_t) { return std::string("checkout"); });
  http.set_workload_labels([](uint16_t) {
    return std::vector<std::pair<std::string, std::string>>{
        {"k8s_namespace_name", "shop-production"},
        {"k8s_pod_name", "checkout-7d9f8b6c5d-x2x7q"},
        {"k8s_container_name", "checkout"},
        {"k8s_owner_kind", "Deployment"},
        {"k8s_owner_name", "checkout"},
        {"service_namespace", "shop"}};
  });
  Exchange x;
  x.service_id = 0;
  x.method = HttpMethod::kGet;
  x.status = 200;
  x.first_byte_ns = 1000;
  x.last_byte_ns = 2000;
  std::string first = word(0);
  x.path = &first;
  http.on_exchange(x);  // the service's state, learner and first series
  const size_t before_series = heap();
  for (size_t i = 1; i <= paths; ++i) {
    std::string p = word(i);
    x.path = &p;
    http.on_exchange(x);
  }
  const size_t series = paths * 51;
  const double per_1000 = static_cast<double>(heap() - before_series) / static_cast<double>(series) * 1000;
  std::printf("series: %zu paths, %zu exposed series (%zu label sets), identity labels on: %.1f KB per 1000 series"
              " (%.0f bytes per path)\n",
              paths, series, paths, per_1000 / 1024, per_1000 * 51 / 1000);

  PipelineStats stats;
  ConnectionTracker tracker(stats, http, builtin_protocols(), nullptr);
  const std::string req = "GET /api/a/items HTTP/1.1\r\nHost: checkout\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n";
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";
  uint64_t ts = 10000;
  // One connection first: the tracker's and parser's first-use buffers.
  auto rec = data_record(1, ASTER_DIR_INGRESS, 0, req, ts++);
  tracker.on_record(rec.data(), rec.size());
  const size_t before_conns = heap();
  for (size_t c = 2; c < conns + 2; ++c) {
    rec = data_record(c, ASTER_DIR_INGRESS, 0, req, ts++);
    tracker.on_record(rec.data(), rec.size());
  }
  const size_t in_flight = heap();
  for (size_t c = 1; c < conns + 2; ++c) {
    rec = data_record(c, ASTER_DIR_EGRESS, 0, resp, ts++);
    tracker.on_record(rec.data(), rec.size());
  }
  tracker.end_batch(ts);
  const size_t idle = heap();
  std::printf("connections: %zu tracked (%zu in the table): %.0f bytes each with a request in flight, %.0f bytes each"
              " idle after one exchange\n",
              conns, tracker.size(), static_cast<double>(in_flight - before_conns) / static_cast<double>(conns),
              static_cast<double>(idle - before_conns) / static_cast<double>(conns));
  return 0;
}
