// SPDX-License-Identifier: Apache-2.0
// The listening TCP sockets of a network namespace (socket inode -> port),
// for selectors by port.
//
// Our own namespace (bare metal, systemd, hostNetwork pods) is asked through
// sock_diag netlink with a LISTEN-only filter, which makes the kernel walk
// its listening hash alone and needs no capability. /proc/PID/net/tcp, the
// way into any other namespace (setns would need CAP_SYS_ADMIN, which the
// daemon drops), cannot stop there: after showing the last listener the
// kernel advances its iterator into the established hash, a walk of every
// bucket whatever the number of connections (262 144 buckets, ~1.8 ms per
// file on a 24 GiB machine).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace aster {

using ListeningSockets = std::vector<std::pair<uint64_t, uint16_t>>;  // inode, port

// Through sock_diag, our own network namespace only. False when netlink
// failed (then `out` is unspecified); the caller falls back to /proc.
bool listening_sockets_diag(ListeningSockets* out);

class ListenTable {
 public:
  ListenTable();
  // The listeners of the namespace `pid` lives in (`netns`: the inode of
  // /proc/PID/ns/net, 0 if unknown).
  ListeningSockets of(pid_t pid, uint64_t netns);
  // How many reads each way, for the self-metrics and tests.
  uint64_t diag_reads() const { return diag_reads_; }
  uint64_t proc_reads() const { return proc_reads_; }

 private:
  uint64_t own_netns_;
  bool diag_ok_ = true;  // cleared after a netlink failure: /proc from then on
  uint64_t diag_reads_ = 0;
  uint64_t proc_reads_ = 0;
};

}  // namespace aster
