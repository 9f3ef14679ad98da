// SPDX-License-Identifier: Apache-2.0
// Discovery against a real process, real /proc and a real BPF hash map: a
// listen() event whose check runs before the socket is in the kernel's
// listening table (the tracepoint fires before the socket is hashed) must
// still end with the process watched, without waiting for a rescan.
//
// The race is made deterministic here: the check is requested while the
// child has only bound its socket, and the child listens a moment later,
// with no event of its own and the rescan a minute away.
#include "targets/target_discovery.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "model/event_layout.h"

namespace aster {
namespace {

using Clock = std::chrono::steady_clock;

// A child that binds 127.0.0.1:0, reports its port, and listens when told.
class LateListener {
 public:
  LateListener() {
    int to_parent[2], to_child[2];
    if (pipe(to_parent) != 0 || pipe(to_child) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(to_parent[0]);
      close(to_child[1]);
      int s = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof a;
      if (s < 0 || bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
          getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        _exit(1);
      }
      uint16_t port = ntohs(a.sin_port);
      char go;
      if (write(to_parent[1], &port, sizeof port) != sizeof port) _exit(1);
      if (read(to_child[0], &go, 1) != 1 || listen(s, 16) != 0) _exit(1);
      while (read(to_child[0], &go, 1) > 0) {
      }  // until the parent closes the pipe
      _exit(0);
    }
    close(to_parent[1]);
    close(to_child[0]);
    go_fd_ = to_child[1];
    if (pid_ > 0 && read(to_parent[0], &port_, sizeof port_) != sizeof port_) port_ = 0;
    close(to_parent[0]);
  }
  ~LateListener() {
    if (go_fd_ >= 0) close(go_fd_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void listen_now() {
    char go = 'l';
    ASSERT_EQ(write(go_fd_, &go, 1), 1);
  }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int go_fd_ = -1;
  uint16_t port_ = 0;
};

class DiscoveryRace : public ::testing::Test {
 protected:
  void SetUp() override {
    map_fd_ = bpf_map_create(BPF_MAP_TYPE_HASH, "watched_test", sizeof(__u32), sizeof(aster_watch), 64, nullptr);
    ASSERT_GE(map_fd_, 0) << "creating a BPF hash map failed (" << strerror(errno)
                          << "): the unit tests need root (CAP_BPF), as the integration tests do";
    bits_.assign(ASTER_PID_BITMAP_WORDS, 0);
    ASSERT_GT(child_.pid(), 0);
    ASSERT_NE(child_.port(), 0);
    cfg_.discovery_interval_ms = 60000;  // no rescan during the test
    cfg_.targets.push_back(TargetSelector{"late", {child_.port()}, {}, "", ""});
    discovery_ = std::make_unique<TargetDiscovery>(cfg_, registry_, WatchList(map_fd_, bits_.data(), &epoch_),
                                                   getpid());
    thread_ = std::thread([this] { discovery_->run(stop_); });
  }
  void TearDown() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (map_fd_ >= 0) close(map_fd_);
  }

  // Seconds until the child is watched, or a negative number if it is not
  // within `limit`.
  double watched_within(std::chrono::milliseconds limit) {
    auto start = Clock::now();
    WatchedProcess wp;
    while (Clock::now() - start < limit) {
      if (registry_.find(child_.pid(), &wp)) return std::chrono::duration<double>(Clock::now() - start).count();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
  }
  bool in_map() {
    __u32 key = static_cast<__u32>(child_.pid());
    aster_watch w{};
    return bpf_map_lookup_elem(map_fd_, &key, &w) == 0;
  }

  LateListener child_;
  int map_fd_ = -1;
  std::vector<uint64_t> bits_;
  uint32_t epoch_ = 0;
  Config cfg_;
  ServiceRegistry registry_;
  std::unique_ptr<TargetDiscovery> discovery_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(DiscoveryRace, AListenCheckedBeforeTheSocketIsListedIsCheckedAgain) {
  discovery_->request_check(child_.pid(), /*after_exec=*/false);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));  // the first check and the 20 ms recheck pass
  ASSERT_FALSE(in_map()) << "watched before it listened";
  child_.listen_now();
  double after = watched_within(std::chrono::milliseconds(3000));
  ASSERT_GE(after, 0) << "a listen checked too early was never checked again (rescan is a minute away)";
  EXPECT_LT(after, 1.5);
  EXPECT_TRUE(in_map());
  uint32_t p = static_cast<uint32_t>(child_.pid());
  EXPECT_TRUE(bits_[p >> 6] & (1ull << (p & 63))) << "map entry without its prefilter bit";
}

// The control: an exec event is not retried (exec is frequent when exec
// selectors are in use, and a later listen brings its own event), so the
// same late listen stays unwatched until the rescan. This is what every
// early listen check looked like before the rechecks.
TEST_F(DiscoveryRace, AnExecCheckIsNotRetried) {
  discovery_->request_check(child_.pid(), /*after_exec=*/true);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  child_.listen_now();
  EXPECT_LT(watched_within(std::chrono::milliseconds(1500)), 0);
  EXPECT_FALSE(in_map());
}

}  // namespace
}  // namespace aster
