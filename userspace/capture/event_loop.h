// SPDX-License-Identifier: Apache-2.0
// Drains the ring buffer in batches: a timed poll (the probes do not wake
// us per record) bounds the delay, an early wake-up from the probes bounds
// the fill level. Each drain asks every CPU to flush the records it staged
// and hands the records to the RecordPipeline, which puts them back in the
// order they happened and ends the batch.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "capture/record_pipeline.h"

struct ring_buffer;

namespace aster {

class EventLoop {
 public:
  // flush_staged(now_ns, max_age_ns) hands the probes' staged records to
  // the ring and returns the watermark (see ProbeSet::flush_staged).
  using FlushFn = std::function<uint64_t(uint64_t, uint64_t)>;
  EventLoop(int ring_fd, FlushFn flush_staged, RecordPipeline& pipeline, uint32_t poll_interval_ms);
  ~EventLoop();
  bool ok() const { return rb_ != nullptr; }
  // Called on the loop's thread after each drain with the clock
  // (CLOCK_MONOTONIC ns): housekeeping that must not race the pipeline,
  // such as series expiry.
  void set_after_drain(std::function<void(uint64_t)> f) { after_drain_ = std::move(f); }
  // Runs until `stop`; returns 0, or a negative errno if polling failed.
  int run(const std::atomic<bool>& stop);
  // One poll-and-drain round (tests drive the loop with this).
  int drain_once(int timeout_ms);
  // Drains whatever is left and hands it all on (at shutdown).
  void drain_all();

 private:
  static int on_record(void* ctx, void* data, size_t size);
  ring_buffer* rb_ = nullptr;
  FlushFn flush_staged_;
  RecordPipeline& pipeline_;
  uint32_t poll_interval_ms_;
  uint64_t watermark_ns_ = 0;
  std::function<void(uint64_t)> after_drain_;
};

}  // namespace aster
