// SPDX-License-Identifier: Apache-2.0
#include "streams/connection_tracker.h"

#include <algorithm>

namespace aster {
namespace {
// Held records wait this many drained batches for the record before them.
constexpr uint64_t kHoldBatches = 2;
// Batches a closed connection waits for records queued behind its close.
constexpr uint64_t kCloseGraceBatches = 2;
constexpr uint64_t kSweepEveryNs = 10ull * 1000000000;
}  // namespace

ConnectionTracker::ConnectionTracker(PipelineStats& stats, ExchangeSink& exchanges,
                                     std::vector<const Protocol*> protocols, ProcessEvents* processes)
    : stats_(stats), exchanges_(exchanges), protocols_(std::move(protocols)), processes_(processes) {}

int ConnectionTracker::resolve_pending(uint32_t tgid, int depth) {
  auto it = resolved_.find(tgid);
  if (it != resolved_.end()) return it->second;
  if (resolved_.size() >= 4096) resolved_.clear();  // a bound; stale entries only cost a re-check
  int service = processes_ ? processes_->resolve_pending(tgid) : -1;
  auto parent = pending_parent_.find(tgid);
  if (service < 0 && parent != pending_parent_.end() && depth < 4) service = resolve_pending(parent->second, depth + 1);
  resolved_[tgid] = service;
  return service;
}

Connection* ConnectionTracker::find_or_create(const aster_event& ev, uint16_t service_id) {
  if (ev.conn_id == last_id_ && last_) return last_;
  auto it = conns_.find(ev.conn_id);
  if (it == conns_.end()) {
    ConnectionContext ctx;
    ctx.conn_id = ev.conn_id;
    ctx.service_id = service_id;
    ctx.source = StreamSource::kSocket;
    ctx.stats = &stats_;
    ctx.sink = &exchanges_;
    ctx.arming = arming_;
    it = conns_.emplace(ev.conn_id, std::make_unique<Connection>(ctx, protocols_)).first;
    stats_.connections_opened.add();
    stats_.connections_tracked.store(conns_.size(), std::memory_order_relaxed);
  }
  last_id_ = ev.conn_id;
  last_ = it->second.get();
  return last_;
}

void ConnectionTracker::on_record(const void* data, size_t size) {
  if (size < sizeof(aster_event)) {
    stats_.events_malformed.add();
    return;
  }
  const auto& ev = *static_cast<const aster_event*>(data);
  switch (ev.kind) {
    case ASTER_EVENT_DATA: {
      if (data_record_size(ev, static_cast<const uint8_t*>(data), size) == 0 || ev.captured_len > ev.byte_count) {
        stats_.events_malformed.add();
        return;
      }
      stats_.events_data.add();
      uint16_t service_id = ev.service_id;
      if (service_id == ASTER_SERVICE_PENDING) {
        // A connection accepted before discovery checked its listener: the
        // check runs now, before anything of it is counted.
        int resolved = resolve_pending(ev.tgid);
        if (resolved < 0) {
          stats_.pending_records_dropped.add();
          return;
        }
        stats_.pending_records_resolved.add();
        service_id = static_cast<uint16_t>(resolved);
      }
      Connection* c = find_or_create(ev, service_id);
      c->set_batch(batch_);
      c->on_data(ev, static_cast<const uint8_t*>(data) + sizeof(aster_event));
      if (c->has_held() && std::find(holding_.begin(), holding_.end(), ev.conn_id) == holding_.end()) {
        holding_.push_back(ev.conn_id);
      }
      if (ev.flags & ASTER_F_SOCKET_CLOSED) schedule_close_at_transfer(ev);
      return;
    }
    case ASTER_EVENT_CLOSE: {
      stats_.events_close.add();
      if (conns_.count(ev.conn_id)) closing_.push_back(Closing{ev.conn_id, batch_, ev.timestamp_ns});
      return;
    }
    case ASTER_EVENT_PROC_FORK:
      stats_.events_fork.add();
      if (ev.service_id == ASTER_SERVICE_PENDING) {
        if (pending_parent_.size() >= 4096) pending_parent_.clear();
        pending_parent_[ev.tgid] = ev.tid;  // the record's tid field holds the parent
      }
      if (processes_) processes_->on_fork(ev.tgid, ev.tid, ev.service_id);
      return;
    case ASTER_EVENT_PROC_EXIT:
      stats_.events_exit.add();
      resolved_.erase(ev.tgid);
      pending_parent_.erase(ev.tgid);
      if (processes_) processes_->on_exit(ev.tgid);
      return;
    case ASTER_EVENT_LISTEN:
      stats_.events_listen.add();
      if (processes_) processes_->on_listen(ev.tgid, static_cast<uint16_t>(ev.fd));
      return;
    case ASTER_EVENT_LIBS_CHANGED:
      stats_.events_libs.add();
      if (processes_) processes_->on_libraries_changed(ev.tgid);
      return;
    case ASTER_EVENT_PROC_EXEC:
      stats_.events_exec.add();
      if (processes_) processes_->on_exec(ev.tgid);
      return;
    default:
      stats_.events_malformed.add();
  }
}

void ConnectionTracker::schedule_close_at_transfer(const aster_event& ev) {
  // Bytes read after a reset: the socket closed, perhaps before the first
  // record, so no close record names this connection. One scheduled close
  // is enough; later records of it within the grace are still parsed.
  for (const Closing& c : closing_) {
    if (c.conn_id == ev.conn_id) return;
  }
  closing_.push_back(Closing{ev.conn_id, batch_, ev.timestamp_ns});
  stats_.connections_closed_at_transfer.add();
}

void ConnectionTracker::finish(uint64_t conn_id, uint64_t ts_ns) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end()) return;
  it->second->on_close(ts_ns);
  if (last_ == it->second.get()) last_ = nullptr;
  conns_.erase(it);
  stats_.connections_closed.add();
  stats_.connections_tracked.store(conns_.size(), std::memory_order_relaxed);
}

void ConnectionTracker::end_batch(uint64_t now_ns) {
  ++batch_;
  for (size_t i = 0; i < closing_.size();) {
    if (batch_ - closing_[i].batch >= kCloseGraceBatches) {
      finish(closing_[i].conn_id, closing_[i].ts_ns);
      closing_[i] = closing_.back();
      closing_.pop_back();
    } else {
      ++i;
    }
  }
  for (size_t i = 0; i < holding_.size();) {
    auto it = conns_.find(holding_[i]);
    if (it == conns_.end() || !it->second->flush_held(batch_, kHoldBatches)) {
      holding_[i] = holding_.back();
      holding_.pop_back();
    } else {
      ++i;
    }
  }
  if (now_ns - last_sweep_ns_ < kSweepEveryNs) return;
  last_sweep_ns_ = now_ns;
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (now_ns > it->second->last_activity_ns() + kIdleTimeoutNs) {
      if (last_ == it->second.get()) last_ = nullptr;
      it = conns_.erase(it);
      stats_.connections_expired.add();
    } else {
      ++it;
    }
  }
  stats_.connections_tracked.store(conns_.size(), std::memory_order_relaxed);
}

void ConnectionTracker::expire_service(uint16_t service_id, ExpiryReason reason) {
  if (reason == ExpiryReason::kGone) {
    // Its processes exited gone_after ago, so these sockets are closed
    // (their close record was lost) or were handed to a process that is not
    // watched: nothing more of them can be counted under this service.
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (it->second->service_id() != service_id) {
        ++it;
        continue;
      }
      if (last_ == it->second.get()) last_ = nullptr;
      it = conns_.erase(it);
      stats_.connections_expired.add();
    }
    stats_.connections_tracked.store(conns_.size(), std::memory_order_relaxed);
  }
  exchanges_.on_service_expired(service_id, reason);
}

}  // namespace aster
