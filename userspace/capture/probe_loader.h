// SPDX-License-Identifier: Apache-2.0
// Loads the BPF object, picks the attach mode, attaches, and owns every
// kernel object it made (they go away with it).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "capture/tls_libraries.h"
#include "config/config.h"
#include "model/protocol.h"
#include "targets/watch_list.h"

struct aster_bpf;

namespace aster {

enum class ActiveMode { kSocket, kSyscalls };
const char* active_mode_name(ActiveMode m);

struct ProgramInfo {
  std::string name;
  int fd;
};

class ProbeSet : public BoundaryArming {
 public:
  // Null with `error` set (what failed and what to do about it) on failure.
  // `follow_exec`: report every exec on the node, not only watched ones'.
  static std::unique_ptr<ProbeSet> open_and_attach(const Config& cfg, bool follow_exec, std::string* error);
  ~ProbeSet() override;
  ProbeSet(const ProbeSet&) = delete;
  ProbeSet& operator=(const ProbeSet&) = delete;

  ActiveMode mode() const { return mode_; }
  int ring_fd() const;
  int watched_fd() const;
  // The watched map and its bitmap prefilter, for discovery to fill.
  WatchList watch_list() const;
  int counters_fd() const;
  // Hands to the ring buffer the staged records (see ASTER_STAGE_BYTES) of
  // every CPU whose oldest one has waited `max_age_ns`, and returns the
  // watermark for RecordOrder: `now_ns`, or the stamp of the oldest record
  // still staged if earlier. `now_ns` must be read before the call.
  uint64_t flush_staged(uint64_t now_ns, uint64_t max_age_ns);
  // Flushes run (each an inter-processor interrupt): done, or refused
  // because they landed in the middle of an append.
  uint64_t flushes_done() const { return flushes_done_.load(std::memory_order_relaxed); }
  uint64_t flushes_busy() const { return flushes_busy_.load(std::memory_order_relaxed); }
  // Whether the probes stage records (false: each is handed over at once).
  bool batching() const { return stages_ != nullptr; }
  // The attached programs, for bpf_stats (run count and kernel time).
  std::vector<ProgramInfo> programs() const;

  // TLS: look at this watched process's libraries soon (a no-op with
  // --tls.enabled=false); see TlsLibraryProbes.
  void probe_tls_libraries(pid_t pid) {
    if (tls_) tls_->request(pid);
  }
  const TlsLibraryProbes* tls() const { return tls_.get(); }
  // Tells the boundary walker where a connection's next boundary is (see
  // struct aster_walk_arm): the kernel takes it at the connection's next
  // transfer in that direction.
  void arm(uint64_t conn_id, uint8_t dir, uint64_t stream_pos, const BoundaryHint& hint) override;
  void disarm(uint64_t conn_id, uint8_t dir) override;
  // Arms in the map that no transfer has taken yet (the pending slots' sum).
  uint64_t arms_pending() const;
  // Arms handed to the kernel, and those it refused (the map was full).
  uint64_t arms_sent() const { return arms_sent_.load(std::memory_order_relaxed); }
  uint64_t arms_failed() const { return arms_failed_.load(std::memory_order_relaxed); }

  // Whether this kernel has the primary mode's tracepoints.
  static bool kernel_has_socket_tracepoints();

 private:
  ProbeSet(aster_bpf* skel, ActiveMode mode, bool batching, bool tls, bool uprobe_multi);
  void start_batching();
  // Runs stage_flush on `cpu`; false if the kernel refused (warned once).
  bool run_flush(int cpu, bool* interrupted);
  static aster_bpf* try_mode(const Config& cfg, ActiveMode mode, bool follow_exec, bool uprobe_multi,
                             std::string* error);
  static bool kernel_has_uprobe_multi();
  aster_bpf* skel_;
  ActiveMode mode_;
  int cpus_ = 1;
  const uint8_t* stages_ = nullptr;  // the `stages` map, mapped read-only
  size_t stages_len_ = 0;
  size_t stage_stride_ = 0;
  bool flush_warned_ = false;
  std::atomic<uint64_t> flushes_done_{0}, flushes_busy_{0};
  std::unique_ptr<TlsLibraryProbes> tls_;
  std::atomic<uint64_t> arms_sent_{0}, arms_failed_{0};
};

}  // namespace aster
