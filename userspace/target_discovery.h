// SPDX-License-Identifier: Apache-2.0
// Finds the processes the configuration selects and keeps the kernel's
// watched map in step with them. The kernel's fork/exit probes do the fast
// part (children of watched processes, exits); this rescan of /proc finds
// new listeners and catches anything the events missed.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <cstdint>
#include <unordered_map>

#include "config.h"
#include "service_registry.h"

namespace aster {

class TargetDiscovery {
 public:
  TargetDiscovery(const Config& cfg, ServiceRegistry& registry, int watched_map_fd, pid_t self);

  // One pass over /proc; safe to call from one thread at a time.
  void scan();
  // scan() every discovery interval until `stop`.
  void run(const std::atomic<bool>& stop);

  // From the event loop: the kernel already watches these.
  void on_fork(pid_t child, uint16_t service_id);
  void on_exit(pid_t pid);

 private:
  struct Seen {
    uint64_t start_ticks = 0;
    uint32_t scans_since_fd_check = 0;
  };
  // Which selector picks this process, and the service name it gets; false
  // when none does.
  bool select(pid_t pid, const std::unordered_map<uint64_t, uint16_t>& listeners, std::string* service);
  void watch(pid_t pid, uint64_t start_ticks, const std::string& service);
  void unwatch(pid_t pid);

  const Config& cfg_;
  ServiceRegistry& registry_;
  int map_fd_;
  pid_t self_;
  std::unordered_map<pid_t, Seen> seen_;
  std::mutex mu_;  // scan() vs on_fork/on_exit
};

}  // namespace aster
