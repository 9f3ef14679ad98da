// SPDX-License-Identifier: Apache-2.0
#include "listen_table.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log.h"
#include "proc_reader.h"

namespace aster {
namespace {

constexpr int kTcpListen = 10;  // TCP_LISTEN in the kernel's tcp_states.h

// One family's dump. False on any netlink error.
bool dump_family(int fd, uint8_t family, ListeningSockets* out) {
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = family;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = 1u << kTcpListen;  // only this state: the established hash is skipped
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) return false;

  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) return true;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        errno = -e->error;
        return false;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
      auto* m = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
      if (m->idiag_state != kTcpListen) continue;
      out->emplace_back(m->idiag_inode, ntohs(m->id.idiag_sport));
    }
  }
}

}  // namespace

bool listening_sockets_diag(ListeningSockets* out) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return false;
  out->clear();
  bool ok = dump_family(fd, AF_INET, out) && dump_family(fd, AF_INET6, out);
  int saved = errno;
  close(fd);
  errno = saved;
  return ok;
}

ListenTable::ListenTable() : own_netns_(net_namespace(getpid())) {}

ListeningSockets ListenTable::of(pid_t pid, uint64_t netns) {
  if (diag_ok_ && netns != 0 && netns == own_netns_) {
    ListeningSockets out;
    if (listening_sockets_diag(&out)) {
      ++diag_reads_;
      return out;
    }
    diag_ok_ = false;
    LOG_WARN("sock_diag netlink failed (%s); reading listening sockets from /proc/PID/net/tcp "
             "from now on (slower: check that seccomp or an LSM allows NETLINK_SOCK_DIAG sockets)",
             strerror(errno));
  }
  ++proc_reads_;
  return listening_sockets(pid);
}

}  // namespace aster
