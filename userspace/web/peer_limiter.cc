// SPDX-License-Identifier: Apache-2.0
#include "web/peer_limiter.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

namespace aster {

bool PeerLimiter::admit(const std::string& addr, uint64_t inode) {
  std::lock_guard<std::mutex> lock(mu_);
  if (addr_of_.count(inode)) return true;
  if (refused_.count(inode)) return false;
  uint32_t& n = open_[addr];
  if (n >= max_) {
    refused_.insert(inode);
    stats_.refused_per_peer.add();
    return false;
  }
  ++n;
  addr_of_.emplace(inode, addr);
  stats_.connections_open.store(static_cast<int64_t>(addr_of_.size()), std::memory_order_relaxed);
  return true;
}

void PeerLimiter::keep_only(const std::unordered_set<uint64_t>& live) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = addr_of_.begin(); it != addr_of_.end();) {
    if (live.count(it->first)) {
      ++it;
      continue;
    }
    auto o = open_.find(it->second);
    if (o != open_.end() && --o->second == 0) open_.erase(o);  // only addresses with connections stay
    it = addr_of_.erase(it);
  }
  for (auto* set : {&refused_, &others_}) {
    for (auto it = set->begin(); it != set->end();) it = live.count(*it) ? std::next(it) : set->erase(it);
  }
  stats_.connections_open.store(static_cast<int64_t>(addr_of_.size()), std::memory_order_relaxed);
}

size_t PeerLimiter::open_for(const std::string& addr) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(addr);
  return it == open_.end() ? 0 : it->second;
}

namespace {

uint16_t port_of(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(sa).sin_port);
  if (sa.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(sa).sin6_port);
  return 0;
}

std::string address_of(const sockaddr_storage& sa) {
  char text[INET6_ADDRSTRLEN] = {};
  if (sa.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(sa).sin_addr, text, sizeof(text));
  } else if (sa.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(sa).sin6_addr, text, sizeof(text));
  }
  return text;
}

}  // namespace

void PeerLimiter::scan(uint16_t local_port) {
  std::lock_guard<std::mutex> scan_lock(scan_mu_);
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  std::unordered_set<uint64_t> live;
  struct Candidate {
    int fd;
    uint64_t inode;
  };
  std::vector<Candidate> fresh;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long fd = strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    char link[64];
    std::string path = std::string("/proc/self/fd/") + e->d_name;
    ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
    if (n <= 0) continue;
    link[n] = '\0';
    if (strncmp(link, "socket:[", 8) != 0) continue;
    uint64_t inode = strtoull(link + 8, nullptr, 10);
    live.insert(inode);
    fresh.push_back({static_cast<int>(fd), inode});
  }
  closedir(dir);
  keep_only(live);
  for (const Candidate& c : fresh) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (addr_of_.count(c.inode) || refused_.count(c.inode) || others_.count(c.inode)) continue;
    }
    auto not_ours = [&] {
      std::lock_guard<std::mutex> lock(mu_);
      others_.insert(c.inode);
    };
    struct stat st {};
    if (fstat(c.fd, &st) != 0 || st.st_ino != c.inode) continue;  // closed and reused since the listing
    sockaddr_storage local{}, peer{};
    socklen_t len = sizeof(local);
    if (getsockname(c.fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 || port_of(local) != local_port) {
      not_ours();
      continue;
    }
    len = sizeof(peer);
    if (getpeername(c.fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {  // the listener itself
      not_ours();
      continue;
    }
    // Shut down, not closed: civetweb owns the descriptor and closes it
    // itself as soon as its read sees the end.
    if (!admit(address_of(peer), c.inode)) shutdown(c.fd, SHUT_RDWR);
  }
}

}  // namespace aster
