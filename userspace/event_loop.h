// SPDX-License-Identifier: Apache-2.0
// Drains the ring buffer in batches: a timed poll (the probes do not wake
// us per record) bounds the delay, an early wake-up from the probes bounds
// the fill level, and each drained batch ends with end_batch().
#pragma once

#include <atomic>

#include "connection_tracker.h"

struct ring_buffer;

namespace aster {

class EventLoop {
 public:
  EventLoop(int ring_fd, ConnectionTracker& tracker, uint32_t poll_interval_ms);
  ~EventLoop();
  bool ok() const { return rb_ != nullptr; }
  // Runs until `stop`; returns 0, or a negative errno if polling failed.
  int run(const std::atomic<bool>& stop);
  // One poll-and-drain round (tests drive the loop with this).
  int drain_once(int timeout_ms);

 private:
  static int on_record(void* ctx, void* data, size_t size);
  ring_buffer* rb_ = nullptr;
  ConnectionTracker& tracker_;
  uint32_t poll_interval_ms_;
};

}  // namespace aster
