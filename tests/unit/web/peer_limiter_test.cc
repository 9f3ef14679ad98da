// SPDX-License-Identifier: Apache-2.0
#include "web/peer_limiter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace aster {
namespace {

TEST(PeerLimiter, CapsEachAddressAndCountsWhatItRefuses) {
  WebStats stats;
  PeerLimiter lim(2, stats);
  EXPECT_TRUE(lim.admit("10.0.0.1", 1));
  EXPECT_TRUE(lim.admit("10.0.0.1", 2));
  EXPECT_TRUE(lim.admit("10.0.0.1", 2));  // seen before: no second count
  EXPECT_FALSE(lim.admit("10.0.0.1", 3));
  EXPECT_FALSE(lim.admit("10.0.0.1", 3));  // refused once, counted once
  EXPECT_TRUE(lim.admit("10.0.0.2", 4));   // another address has its own cap
  EXPECT_EQ(stats.refused_per_peer.get(), 1u);
  EXPECT_EQ(stats.connections_open.load(), 3);
  lim.keep_only({2, 4});  // 1 and the refused 3 closed
  EXPECT_EQ(lim.open_for("10.0.0.1"), 1u);
  EXPECT_TRUE(lim.admit("10.0.0.1", 5));
  lim.keep_only({});
  EXPECT_EQ(lim.open_for("10.0.0.1"), 0u);
  EXPECT_EQ(stats.connections_open.load(), 0);
}

// Real sockets: the limiter finds the server side of connections to the
// port by listing this process's descriptors, and shuts down those past
// the cap (their clients read the end at once).
TEST(PeerLimiter, ScanFindsNewConnectionsAndShutsDownThosePastTheCap) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(lfd, 8), 0);
  socklen_t len = sizeof(a);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  WebStats stats;
  PeerLimiter lim(2, stats);
  std::vector<int> clients, served;
  for (int i = 0; i < 3; ++i) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    clients.push_back(c);
    served.push_back(accept(lfd, nullptr, nullptr));
    lim.scan(ntohs(a.sin_port));
  }
  EXPECT_EQ(lim.open_for("127.0.0.1"), 2u);
  EXPECT_EQ(stats.refused_per_peer.get(), 1u);
  char b;
  EXPECT_EQ(recv(clients[2], &b, 1, 0), 0);  // the third was shut down
  close(served[0]);
  lim.scan(ntohs(a.sin_port));
  EXPECT_EQ(lim.open_for("127.0.0.1"), 1u);  // a closed connection frees its place
  for (int fd : clients) close(fd);
  for (size_t i = 1; i < served.size(); ++i) close(served[i]);
  close(lfd);
}

}  // namespace
}  // namespace aster
