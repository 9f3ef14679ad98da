// SPDX-License-Identifier: Apache-2.0
// Loads the BPF object, picks the attach mode, attaches, and owns every
// kernel object it made (they go away with it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "watch_list.h"

struct aster_bpf;

namespace aster {

enum class ActiveMode { kSocket, kSyscalls };
const char* active_mode_name(ActiveMode m);

struct ProgramInfo {
  std::string name;
  int fd;
};

class ProbeSet {
 public:
  // Null with `error` set (what failed and what to do about it) on failure.
  // `follow_exec`: report every exec on the node, not only watched ones'.
  static std::unique_ptr<ProbeSet> open_and_attach(const Config& cfg, bool follow_exec, std::string* error);
  ~ProbeSet();
  ProbeSet(const ProbeSet&) = delete;
  ProbeSet& operator=(const ProbeSet&) = delete;

  ActiveMode mode() const { return mode_; }
  int ring_fd() const;
  int watched_fd() const;
  // The watched map and its bitmap prefilter, for discovery to fill.
  WatchList watch_list() const;
  int counters_fd() const;
  // The attached programs, for bpf_stats (run count and kernel time).
  std::vector<ProgramInfo> programs() const;

  // Whether this kernel has the primary mode's tracepoints.
  static bool kernel_has_socket_tracepoints();

 private:
  ProbeSet(aster_bpf* skel, ActiveMode mode) : skel_(skel), mode_(mode) {}
  static aster_bpf* try_mode(const Config& cfg, ActiveMode mode, bool follow_exec, std::string* error);
  aster_bpf* skel_;
  ActiveMode mode_;
};

}  // namespace aster
