// SPDX-License-Identifier: Apache-2.0
// Series that go when their workload goes (metrics.expiry), swept on the
// event-loop thread after a drain, at most once a second:
//   - gone: a service without a watched process for gone_after loses its
//     series, its route learning and gauges, and its service id, which is
//     quarantined, then freed for reuse;
//   - idle (idle_after > 0): a live service without an answered request for
//     idle_after loses its HTTP series; its learning and id stay.
//
// Why reusing an id is safe. The id is the 16-bit tag of every ring record,
// and the metrics layer keeps raw pointers to the series of each id. When
// an id is taken as gone:
//   1. the kernel: every watched-map entry still naming it is removed (a
//      fork whose event was lost can leave one) and the watch epoch bumped,
//      so no socket's remembered service and no map entry can tag a new
//      record with it; only records already staged per CPU, in the ring,
//      or held for reordering can still carry it;
//   2. the connections tagged with it are dropped (their in-flight requests
//      end), then its series are removed: cached pointers first, then
//      Family::Remove; both on the event-loop thread, the only user of
//      those pointers;
//   3. the id is quarantined: a record that arrives under it now finds no
//      live service and is dropped and counted (stale_service_records), it
//      creates no series. Records reach userspace within a few poll
//      intervals of being staged (a CPU is flushed once its oldest record
//      has waited one), so the quarantine, max(10 s, 100 poll intervals),
//      outlasts any of them by orders of magnitude;
//   4. when the quarantine ends, connections the stale records opened are
//      dropped as in 2, and only then may intern() hand the id out again.
// A generation counter in each record would need wider ids in every layout
// the kernel and a capture share; the quarantine needs none.
#pragma once

#include <cstdint>
#include <functional>

#include "capture/record_pipeline.h"
#include "metrics/http_metrics.h"
#include "targets/service_registry.h"

namespace aster {

class SeriesExpiry {
 public:
  struct Settings {
    uint64_t gone_after_ns = 600ull * 1000000000;
    uint64_t idle_after_ns = 0;  // 0: off
    uint64_t quarantine_ns = 10ull * 1000000000;
    uint64_t sweep_every_ns = 1000000000;
  };
  // The quarantine for a poll interval (see above).
  static uint64_t quarantine_for(uint32_t poll_interval_ms);

  // forget_in_kernel(id): the watched map's part of step 1 (WatchList::
  // forget_service); may be empty (tests, replay).
  SeriesExpiry(const Settings& s, ServiceRegistry& registry, RecordPipeline& pipeline, HttpMetrics& http,
               std::function<size_t(uint16_t)> forget_in_kernel);

  // After each drain, on the event-loop thread: sweeps when sweep_every_ns
  // has passed since the last sweep.
  void tick(uint64_t now_ns);
  // One sweep now (tests).
  void sweep(uint64_t now_ns);

 private:
  Settings settings_;
  ServiceRegistry& registry_;
  RecordPipeline& pipeline_;
  HttpMetrics& http_;
  std::function<size_t(uint16_t)> forget_in_kernel_;
  uint64_t last_sweep_ns_ = 0;
};

}  // namespace aster
