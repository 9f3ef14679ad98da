// SPDX-License-Identifier: Apache-2.0
#include "event_loop.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "log.h"

namespace aster {
namespace {
uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}
}  // namespace

EventLoop::EventLoop(int ring_fd, ConnectionTracker& tracker, uint32_t poll_interval_ms)
    : tracker_(tracker), poll_interval_ms_(poll_interval_ms) {
  rb_ = ring_buffer__new(ring_fd, &EventLoop::on_record, this, nullptr);
}

EventLoop::~EventLoop() {
  if (rb_) ring_buffer__free(rb_);
}

int EventLoop::on_record(void* ctx, void* data, size_t size) {
  static_cast<EventLoop*>(ctx)->tracker_.on_record(data, size);
  return 0;
}

int EventLoop::drain_once(int timeout_ms) {
  // poll() returns early only on a forced wake-up; consume() then takes
  // whatever the timed wait let accumulate.
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n < 0 && n != -EINTR) return n;
  int m = ring_buffer__consume(rb_);
  if (m < 0 && m != -EINTR) return m;
  tracker_.end_batch(monotonic_ns());
  return 0;
}

int EventLoop::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    int err = drain_once(static_cast<int>(poll_interval_ms_));
    if (err) {
      LOG_ERROR("reading the ring buffer failed: %s", strerror(-err));
      return err;
    }
  }
  // Whatever arrived before the stop still counts.
  ring_buffer__consume(rb_);
  for (int i = 0; i < 3; ++i) tracker_.end_batch(monotonic_ns());  // finish closed connections
  return 0;
}

}  // namespace aster
