// SPDX-License-Identifier: Apache-2.0
// Finds the processes the configuration selects and keeps the kernel's
// watched map in step with them. The kernel does the fast part: fork and
// exit of watched processes are followed by the probes themselves, and
// listen() and exec() calls arrive as events that trigger an immediate
// check of that one process. A periodic /proc rescan catches anything else.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <mutex>
#include <memory>
#include <regex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.h"
#include "identity/identity_resolver.h"
#include "targets/service_registry.h"
#include "targets/watch_list.h"

namespace aster {

class TargetDiscovery {
 public:
  TargetDiscovery(const Config& cfg, ServiceRegistry& registry, WatchList watch_list, pid_t self);

  // Whether the probes should report every exec (selectors by executable or
  // cgroup need it; ports and pids do not).
  bool needs_exec_events() const;

  // One pass over /proc; safe to call from one thread at a time.
  void scan();
  // Runs scan() every discovery interval, and checks requested processes
  // as soon as they are requested, until `stop`.
  void run(const std::atomic<bool>& stop);

  // From the event loop; never blocks on a scan in progress.
  void on_fork(pid_t child, pid_t parent, uint16_t service_id);
  void on_exit(pid_t pid);
  // The process listened or exec'd: check it now, from the discovery thread.
  // A listen that selects nothing is checked again a few times (see
  // kListenRecheckDelays in the .cc).
  void request_check(pid_t pid, bool after_exec);
  // From the event loop, for a record of a process the kernel watches from
  // its listen() on (ASTER_SERVICE_PENDING): checks it at once, waiting for
  // a scan in progress. Its service id, or -1 when no selector picks it (the
  // kernel then stops watching it).
  int resolve_now(pid_t pid);
  // Called (on the discovery thread, or the event loop's for resolve_now) whenever a process becomes watched or
  // is watched anew after an exec; set before scan() and run().
  void set_on_watched(std::function<void(pid_t)> f) { on_watched_ = std::move(f); }
  const IdentityFailures& identity_failures() const { return identity_.failures(); }

 private:
  struct Seen {
    uint64_t start_ticks = 0;
    uint32_t scans_since_fd_check = 0;
  };
  struct Selector {
    const TargetSelector* cfg;
    std::unique_ptr<std::regex> exe;
  };
  using Listeners = std::unordered_map<uint64_t, uint16_t>;  // socket inode -> port

  // Whether a selector picks this process, and the name it gives ("" for
  // none: the identity resolver names it).
  bool select(pid_t pid, const Listeners& listeners, std::string* explicit_name);
  // True when the process is watched after the check.
  bool check_one(pid_t pid, bool after_exec);
  void watch(pid_t pid, uint64_t start_ticks, const WorkloadIdentity& identity);
  void unwatch(pid_t pid);
  // A watched process's exit event came: the exit probe removed its map
  // entry, but discovery may have added it again while the process was on
  // its way out (selected before, re-checked just before the exit). Removes
  // such an entry unless the PID now names a live process.
  void forget_exited(pid_t pid);

  const Config& cfg_;
  ServiceRegistry& registry_;
  IdentityResolver identity_;
  WatchList watch_list_;
  pid_t self_;
  std::vector<Selector> selectors_;
  std::function<void(pid_t)> on_watched_;
  bool need_listeners_;
  std::unordered_map<pid_t, Seen> seen_;
  std::mutex scan_mu_;  // scan() and check_one()

  std::mutex pending_mu_;
  std::condition_variable pending_cv_;
  enum : uint8_t { kAfterListen = 1, kAfterExec = 2 };
  std::unordered_map<pid_t, uint8_t> pending_;  // pid -> why (kAfter* bits)
  std::vector<pid_t> exited_;                   // exit events, for forget_exited()

  // Listens that selected nothing, to check again; the discovery thread's own.
  struct Recheck {
    std::chrono::steady_clock::time_point due;
    pid_t pid;
    size_t attempt;  // index into kListenRecheckDelays of the delay waited
  };
  std::vector<Recheck> rechecks_;
  void schedule_recheck(pid_t pid, size_t attempt);
};

}  // namespace aster
