// SPDX-License-Identifier: Apache-2.0
// Counters the event pipeline keeps about itself, exported as
// aster_exporter_*. One thread (the event loop) writes them; scrapes read
// them from other threads. Relaxed atomics with load+store (not a locked
// read-modify-write) keep the per-event cost at a plain add.
#pragma once

#include <atomic>
#include <cstdint>

#include "model/parse_error.h"

namespace aster {

struct StatCounter {
  std::atomic<uint64_t> v{0};
  void add(uint64_t n = 1) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

struct PipelineStats {
  StatCounter events_data, events_close, events_fork, events_exit, events_listen, events_exec, events_libs,
      events_malformed;
  StatCounter bytes_captured;
  StatCounter bytes_hinted;       // first bytes of iovecs past the budget (iovec hints) given to the parser
  StatCounter gap_not_captured;   // beyond --capture.bytes, or iovecs past the first ones
  StatCounter gap_no_buffer;      // sendfile/splice/io_uring: no user buffer to copy
  StatCounter gap_lost;           // records the ring buffer dropped (stream positions jumped)
  StatCounter gap_unseen;         // moved by a path the probes do not see (ASTER_F_UNSEEN_BEFORE)
  StatCounter parse_errors[static_cast<int>(ParseError::kCount)];
  StatCounter connections_opened, connections_closed, connections_expired;
  StatCounter connections_closed_at_transfer;  // close learned from ASTER_F_SOCKET_CLOSED, not the tracepoint
  StatCounter pending_records_resolved;  // ASTER_SERVICE_PENDING records whose process a check then selected
  StatCounter pending_records_dropped;   // ... and those whose process it did not select
  StatCounter connections_client;    // the watched process was the HTTP client
  StatCounter connections_not_http;  // no HTTP/1.x start line found
  StatCounter connections_upgraded;  // 101 or CONNECT tunnel: parsing stopped
  StatCounter connections_tls;       // plaintext read through a TLS library's probes
  StatCounter tls_ciphertext_skipped;  // ciphertext records of a connection its TLS plaintext replaced
  StatCounter requests_recorded;
  StatCounter responses_unpaired;    // a response whose request was never seen
  StatCounter requests_unanswered;   // connection closed before a response
  StatCounter bodies_estimated;      // body size estimated (chunk framing not captured)
  StatCounter chunks_reordered;      // records that arrived ahead of an earlier one
  StatCounter chunks_late;           // records older than data already parsed (dropped)
  StatCounter pipeline_overflow;     // more outstanding requests than a connection keeps
  StatCounter held_bytes_capped;     // a connection's held out-of-order records reached their cap
  // HTTP/2 (protocols/http2/).
  StatCounter h2_connections_start;     // seen from the client preface
  StatCounter h2_connections_late;      // opened before the exporter: frames first
  StatCounter h2_connections_upgraded;  // HTTP/1.1 Upgrade: h2c answered by 101
  StatCounter h2_streams;               // client streams recorded as exchanges
  StatCounter h2_streams_reset;         // reset before any answer: not recorded
  StatCounter h2_fields_unresolved;     // :method, :path or :status that could not be read
  StatCounter h2_table_epochs;          // HPACK tables begun unknown (late start, a block lost)
  StatCounter h2_resyncs;               // frame sync lost in a gap, found again on a later transfer
  StatCounter h2_frames_invalid;        // frames or blocks against RFC 9113/7541 (skipped)
  // gRPC over HTTP/2 (protocols/http2/grpc_stream.h).
  StatCounter grpc_calls_content_type;  // calls known by their content-type
  StatCounter grpc_calls_framing;       // content-type unread: known by their message framing
  StatCounter grpc_codes_unresolved;    // calls whose status could not be read (grpc_code="_unknown_")
  StatCounter grpc_messages_unknown_received;  // calls whose request message count is not known
  StatCounter grpc_messages_unknown_sent;      // calls whose response message count is not known
  StatCounter windows_used;          // boundary windows fed to a parser
  StatCounter windows_rejected;      // records whose windows failed the checks (all dropped)
  std::atomic<uint64_t> connections_tracked{0};
  std::atomic<uint64_t> tls_connections_tracked{0};
};

}  // namespace aster
