// SPDX-License-Identifier: Apache-2.0
// The userspace pipeline from the ring buffer's records on, whichever
// source feeds it: the live ring buffer (EventLoop) or a capture
// (replay.h). Records are put back in time order (RecordOrder), handed to
// the next stage (a RecordSink: the connections) below each drain's
// watermark, and
// every batch ends with the connections' ageing. With a CaptureWriter, all
// three steps are recorded as they happen, so a replay repeats them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "capture/capture_file.h"
#include "identity/workload_identity.h"
#include "model/record_sink.h"
#include "capture/record_order.h"

namespace aster {

class RecordPipeline {
 public:
  // The ids the service table handed out (or handed out again) since the
  // last call, with their workloads' identities; a recording writes them
  // before each release, so every record it releases can be named and
  // labelled in the replay.
  using NewServices = std::function<std::vector<std::pair<uint16_t, WorkloadIdentity>>()>;

  explicit RecordPipeline(RecordSink& next) : next_(next) {}
  void record_to(CaptureWriter* writer, NewServices names) {
    writer_ = writer;
    new_services_ = std::move(names);
  }

  void add_ring_record(const void* data, size_t size);
  void release(uint64_t watermark_ns);
  void end_batch(uint64_t now_ns);
  // The service's series expire (series_expiry.h): recorded, then handed
  // to the connections and on to the metrics.
  void expire_service(uint16_t service_id, ExpiryReason reason);
  // Records waiting for a later watermark.
  size_t held() const { return order_.held(); }

 private:
  void record_services();
  RecordSink& next_;
  RecordOrder order_;
  CaptureWriter* writer_ = nullptr;
  NewServices new_services_;
};

}  // namespace aster
