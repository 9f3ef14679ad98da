// SPDX-License-Identifier: Apache-2.0
// The kernel's list of watched processes: the watched map (tgid -> service)
// and the probes' bitmap prefilter in front of it (ASTER_PID_BITS in
// bpf/aster_events.h). Both are written here and only here on the userspace
// side, so the rule that keeps them consistent lives in one place.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace aster {

class WatchList {
 public:
  // map_fd: the watched hash; bits: the skeleton's mmap of watched_bits;
  // epoch: the skeleton's watch_epoch.
  WatchList(int map_fd, uint64_t* bits, uint32_t* epoch) : map_fd_(map_fd), bits_(bits), epoch_(epoch) {}

  // False when the map is full.
  bool add(pid_t pid, uint16_t service_id);
  void remove(pid_t pid);
  // Removes every entry that still names `service_id` (a fork whose event
  // was lost leaves one discovery never heard of) and makes every socket
  // look its service up again (the epoch): after this, no probe can tag a
  // new record with the id. Returns the entries removed.
  size_t forget_service(uint16_t service_id);
  int map_fd() const { return map_fd_; }

 private:
  void set_bit(pid_t pid, bool on);

  int map_fd_;
  uint64_t* bits_;
  uint32_t* epoch_;
};

}  // namespace aster
