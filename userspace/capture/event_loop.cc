// SPDX-License-Identifier: Apache-2.0
#include "capture/event_loop.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "model/log.h"

namespace aster {
namespace {
// The probes stamp records with bpf_ktime_get_ns(): CLOCK_MONOTONIC.
uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}
}  // namespace

EventLoop::EventLoop(int ring_fd, FlushFn flush_staged, RecordPipeline& pipeline, uint32_t poll_interval_ms)
    : flush_staged_(std::move(flush_staged)), pipeline_(pipeline), poll_interval_ms_(poll_interval_ms) {
  rb_ = ring_buffer__new(ring_fd, &EventLoop::on_record, this, nullptr);
}

EventLoop::~EventLoop() {
  if (rb_) ring_buffer__free(rb_);
}

int EventLoop::on_record(void* ctx, void* data, size_t size) {
  static_cast<EventLoop*>(ctx)->pipeline_.add_ring_record(data, size);
  return 0;
}

int EventLoop::drain_once(int timeout_ms) {
  // poll() returns early only on a forced wake-up; consume() then takes
  // whatever the timed wait let accumulate.
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n < 0 && n != -EINTR) return n;
  // The clock is read before the flushes: whatever was stamped before it
  // is in the ring once they return (see RecordOrder). A CPU is flushed
  // once its oldest staged record has waited a poll interval, so a record
  // waits at most two; a busy CPU hands its records over itself, without
  // an interrupt.
  uint64_t now = monotonic_ns();
  uint64_t watermark = flush_staged_ ? flush_staged_(now, poll_interval_ms_ * 1000000ull) : now;
  int m = ring_buffer__consume(rb_);
  if (m < 0 && m != -EINTR) return m;
  watermark_ns_ = std::max(watermark_ns_, watermark);
  pipeline_.release(watermark_ns_);
  uint64_t end = monotonic_ns();
  pipeline_.end_batch(end);
  if (after_drain_) after_drain_(end);
  return 0;
}

void EventLoop::drain_all() {
  if (flush_staged_) flush_staged_(UINT64_MAX, 0);
  ring_buffer__consume(rb_);
  pipeline_.release(UINT64_MAX);
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
  drain_all();
  for (int i = 0; i < 3; ++i) pipeline_.end_batch(monotonic_ns());  // finish closed connections
  return 0;
}

}  // namespace aster
