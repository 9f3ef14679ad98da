// SPDX-License-Identifier: Apache-2.0
// Small readers of /proc, shared by target discovery and the process
// metrics collector.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aster {

struct ProcStat {
  char state = '?';          // field 3: R, S, D, Z (zombie), X (dead), ...
  uint64_t flags = 0;        // field 9: the kernel's PF_* flags
  uint64_t start_ticks = 0;  // field 22: start time in clock ticks since boot
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t vsize_bytes = 0;
  uint64_t rss_pages = 0;
  uint64_t threads = 0;
  // Exiting (PF_EXITING is set before the exit probe runs) or exited and
  // waiting to be reaped: its exit has passed or is passing the probes, so
  // a map entry added now might never be removed. (A group leader that
  // exited while other threads run is also marked so, but has more than one
  // thread.)
  bool exited() const {
    constexpr uint64_t kPfExiting = 0x4;
    return threads <= 1 && (state == 'Z' || state == 'X' || (flags & kPfExiting));
  }
};

std::optional<ProcStat> read_proc_stat(pid_t pid);
// Basename of /proc/PID/exe, or /proc/PID/comm when exe is unreadable.
std::string read_exe_name(pid_t pid);
// Inodes of the sockets among /proc/PID/fd (fds that are not sockets are skipped).
std::vector<uint64_t> socket_inodes(pid_t pid);
size_t count_open_fds(pid_t pid);
uint64_t read_max_fds(pid_t pid);  // soft RLIMIT_NOFILE, 0 when unknown
std::vector<pid_t> list_pids();
uint64_t boot_time_seconds();
long clock_ticks_per_second();
long page_size_bytes();
// Inode of /proc/PID/ns/net, 0 when unreadable.
uint64_t net_namespace(pid_t pid);
// Listening TCP sockets seen through /proc/PID/net/tcp and tcp6: inode -> port.
std::vector<std::pair<uint64_t, uint16_t>> listening_sockets(pid_t pid_in_netns);

}  // namespace aster
