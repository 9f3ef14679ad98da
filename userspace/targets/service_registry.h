// SPDX-License-Identifier: Apache-2.0
// Which processes are watched and which service each one feeds. Written by
// target discovery and by the event loop (fork/exit events), read by the
// metric collectors at scrape time; a mutex guards it, and nothing on the
// per-event path takes it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace aster {

struct WatchedProcess {
  pid_t pid = 0;
  uint64_t start_ticks = 0;  // tells a reused PID from the process we chose
  uint16_t service_id = 0;
};

class ServiceRegistry {
 public:
  static constexpr uint16_t kMaxServices = 4096;

  // The id of the named service, created on first use. Returns kMaxServices
  // when the table is full (the caller then does not watch the process).
  uint16_t intern(const std::string& name);
  std::string name(uint16_t id) const;
  // The names of ids `first` and up, in id order (a capture records them).
  std::vector<std::string> names_from(uint16_t first) const;

  void add(const WatchedProcess& p);
  void remove(pid_t pid);
  bool find(pid_t pid, WatchedProcess* out) const;
  std::vector<WatchedProcess> processes() const;
  // service name -> its processes, for the per-service collectors.
  std::map<std::string, std::vector<pid_t>> by_service() const;
  size_t process_count() const;
  size_t service_count() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, uint16_t> ids_;
  std::unordered_map<pid_t, WatchedProcess> procs_;
};

}  // namespace aster
