// SPDX-License-Identifier: Apache-2.0
// Routes each ring-buffer record to its connection, creates connections on
// first sight and frees them on close (or after a long silence when the
// close was never seen).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "model/event_layout.h"
#include "model/exchange.h"
#include "model/pipeline_stats.h"
#include "model/protocol.h"
#include "model/record_sink.h"
#include "streams/connection.h"

namespace aster {

class ProcessEvents {
 public:
  virtual ~ProcessEvents() = default;
  // parent_tgid: the record's tid field (see aster_events.h).
  virtual void on_fork(uint32_t child_tgid, uint32_t parent_tgid, uint16_t service_id) = 0;
  virtual void on_exit(uint32_t tgid) = 0;
  virtual void on_listen(uint32_t tgid, uint16_t port) = 0;
  virtual void on_exec(uint32_t tgid) = 0;
  // The process loaded or unloaded libraries (ASTER_EVENT_LIBS_CHANGED).
  virtual void on_libraries_changed(uint32_t /*tgid*/) {}
  // A record of a process the kernel watches from its listen() on
  // (ASTER_SERVICE_PENDING): checks it now. Its service id, or -1 when no
  // selector picks it (its records are then dropped).
  virtual int resolve_pending(uint32_t /*tgid*/) { return -1; }
};

class ConnectionTracker : public RecordSink {
 public:
  // A connection silent this long whose close we never saw is dropped.
  static constexpr uint64_t kIdleTimeoutNs = 15ull * 60 * 1000000000;

  // `protocols` are asked in order which one a new connection speaks; they
  // and `exchanges` (where finished exchanges go) must outlive the tracker.
  ConnectionTracker(PipelineStats& stats, ExchangeSink& exchanges, std::vector<const Protocol*> protocols,
                    ProcessEvents* processes);

  // One ring-buffer record; `size` is the record's length.
  void on_record(const void* data, size_t size) override;
  // Called after each drained batch of records.
  void end_batch(uint64_t now_ns) override;
  // kGone: the connections still tagged with the service are dropped
  // (their outstanding requests end, unrecorded); then the metrics drop
  // the service's series.
  void expire_service(uint16_t service_id, ExpiryReason reason) override;
  size_t size() const { return conns_.size(); }
  // Where connections tell the kernel's boundary walker what they parsed
  // (the probes; none in a replay). Set before the first record.
  void set_arming(BoundaryArming* arming) { arming_ = arming; }

 private:
  Connection* find_or_create(const aster_event& ev, uint16_t service_id);
  // The service of a record tagged ASTER_SERVICE_PENDING, or -1.
  int resolve_pending(uint32_t tgid, int depth = 0);

  PipelineStats& stats_;
  ExchangeSink& exchanges_;
  std::vector<const Protocol*> protocols_;
  ProcessEvents* processes_;
  BoundaryArming* arming_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  // Most records follow one another on the same connection.
  uint64_t last_id_ = 0;
  Connection* last_ = nullptr;
  uint64_t batch_ = 0;
  uint64_t last_sweep_ns_ = 0;
  std::vector<uint64_t> holding_;  // connections with held records
  // Pending processes resolved (tgid -> service or -1): the kernel tags
  // records ASTER_SERVICE_PENDING until the new watch reaches each socket.
  std::unordered_map<uint32_t, int> resolved_;
  // Children forked by a pending process (child -> parent): a child that
  // is gone before its check takes its parent's service, as the kernel's
  // fork rule does for every watched parent.
  std::unordered_map<uint32_t, uint32_t> pending_parent_;
  // Closed connections wait a few batches before they are finished: a
  // reset can queue the close record just ahead of the last send's record.
  struct Closing {
    uint64_t conn_id;
    uint64_t batch;
    uint64_t ts_ns;
  };
  std::vector<Closing> closing_;
  void finish(uint64_t conn_id, uint64_t ts_ns);
  void schedule_close_at_transfer(const aster_event& ev);
};

}  // namespace aster
