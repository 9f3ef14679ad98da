// SPDX-License-Identifier: Apache-2.0
// The listener table against real sockets of this process: the sock_diag
// read and the /proc read must both see what we listen on, and nothing else
// of ours.
#include "listen_table.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "proc_reader.h"

namespace aster {
namespace {

struct Sock {
  int fd = -1;
  uint64_t inode = 0;
  uint16_t port = 0;
  ~Sock() {
    if (fd >= 0) close(fd);
  }
};

// A TCP socket bound to an ephemeral loopback port; listening if asked.
void open_bound(int family, bool listen_too, Sock* s) {
  s->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s->fd, 0);
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  ASSERT_EQ(bind(s->fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  if (listen_too) {
    ASSERT_EQ(listen(s->fd, 4), 0);
  }
  ASSERT_EQ(getsockname(s->fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  s->port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  struct stat st;
  ASSERT_EQ(fstat(s->fd, &st), 0);
  s->inode = st.st_ino;
}

bool has(const ListeningSockets& table, const Sock& s) {
  return std::find(table.begin(), table.end(), std::make_pair(s.inode, s.port)) != table.end();
}

bool has_inode(const ListeningSockets& table, uint64_t inode) {
  return std::any_of(table.begin(), table.end(), [&](const auto& e) { return e.first == inode; });
}

TEST(ListenTable, DiagAndProcBothSeeOurListenersAndOnlyThem) {
  Sock v4, v6, bound_only;
  open_bound(AF_INET, true, &v4);
  open_bound(AF_INET6, true, &v6);
  open_bound(AF_INET, false, &bound_only);

  ListeningSockets diag;
  ASSERT_TRUE(listening_sockets_diag(&diag)) << strerror(errno);
  EXPECT_TRUE(has(diag, v4));
  EXPECT_TRUE(has(diag, v6));
  EXPECT_FALSE(has_inode(diag, bound_only.inode)) << "a bound, not listening socket is no listener";

  ListeningSockets proc = listening_sockets(getpid());
  EXPECT_TRUE(has(proc, v4));
  EXPECT_TRUE(has(proc, v6));
  EXPECT_FALSE(has_inode(proc, bound_only.inode));
}

TEST(ListenTable, OwnNamespaceGoesThroughDiagOthersThroughProc) {
  Sock v4;
  open_bound(AF_INET, true, &v4);
  ListenTable table;
  uint64_t own = net_namespace(getpid());
  ASSERT_NE(own, 0u);

  EXPECT_TRUE(has(table.of(getpid(), own), v4));
  EXPECT_EQ(table.diag_reads(), 1u);
  EXPECT_EQ(table.proc_reads(), 0u);

  // Another namespace (here a made-up inode: the table cannot enter it)
  // is read from /proc/PID/net/tcp of a process inside it.
  EXPECT_TRUE(has(table.of(getpid(), own + 1), v4));
  EXPECT_EQ(table.diag_reads(), 1u);
  EXPECT_EQ(table.proc_reads(), 1u);
}

TEST(ListenTable, AClosedListenerIsGone) {
  uint64_t inode;
  {
    Sock v4;
    open_bound(AF_INET, true, &v4);
    inode = v4.inode;
    ListeningSockets before;
    ASSERT_TRUE(listening_sockets_diag(&before));
    ASSERT_TRUE(has_inode(before, inode));
  }
  ListeningSockets after;
  ASSERT_TRUE(listening_sockets_diag(&after));
  EXPECT_FALSE(has_inode(after, inode));
}

}  // namespace
}  // namespace aster
