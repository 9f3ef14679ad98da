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

#include "capture/capture_file.h"
#include "model/record_sink.h"
#include "capture/record_order.h"

namespace aster {

class RecordPipeline {
 public:
  // The service table's names from id `first` on (ids are handed out in
  // order); a recording writes the new ones before each release, so every
  // record it releases can be named in the replay.
  using NewServices = std::function<std::vector<std::string>(uint16_t first)>;

  explicit RecordPipeline(RecordSink& next) : next_(next) {}
  void record_to(CaptureWriter* writer, NewServices names) {
    writer_ = writer;
    new_services_ = std::move(names);
  }

  void add_ring_record(const void* data, size_t size);
  void release(uint64_t watermark_ns);
  void end_batch(uint64_t now_ns);

 private:
  void record_services();
  RecordSink& next_;
  RecordOrder order_;
  CaptureWriter* writer_ = nullptr;
  NewServices new_services_;
  uint16_t services_recorded_ = 0;
};

}  // namespace aster
