// SPDX-License-Identifier: Apache-2.0
#include "target_discovery.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <unordered_set>

#include "event_layout.h"
#include "log.h"
#include "proc_reader.h"

namespace aster {
namespace {
// Processes that listened on nothing are re-checked this many scans later:
// scanning every fd of every process every second would cost more CPU than
// the probes themselves on a busy node.
constexpr uint32_t kIdleRecheckScans = 10;
}  // namespace

TargetDiscovery::TargetDiscovery(const Config& cfg, ServiceRegistry& registry, int watched_map_fd,
                                 pid_t self)
    : cfg_(cfg), registry_(registry), map_fd_(watched_map_fd), self_(self) {}

bool TargetDiscovery::select(pid_t pid, const std::unordered_map<uint64_t, uint16_t>& listeners,
                             std::string* service) {
  bool want_ports = cfg_.targets.empty();
  for (const auto& sel : cfg_.targets) {
    if (std::find(sel.pids.begin(), sel.pids.end(), pid) != sel.pids.end()) {
      *service = sel.name.empty() ? read_exe_name(pid) : sel.name;
      return true;
    }
    want_ports |= !sel.ports.empty();
  }
  if (!want_ports) return false;
  std::vector<uint16_t> ports;
  for (uint64_t inode : socket_inodes(pid)) {
    auto it = listeners.find(inode);
    if (it != listeners.end()) ports.push_back(it->second);
  }
  if (ports.empty()) return false;
  if (cfg_.targets.empty()) {
    *service = read_exe_name(pid);
    return true;
  }
  for (const auto& sel : cfg_.targets) {
    for (uint16_t p : sel.ports) {
      if (std::find(ports.begin(), ports.end(), p) != ports.end()) {
        *service = sel.name.empty() ? read_exe_name(pid) : sel.name;
        return true;
      }
    }
  }
  return false;
}

void TargetDiscovery::watch(pid_t pid, uint64_t start_ticks, const std::string& service) {
  uint16_t id = registry_.intern(service);
  if (id == ServiceRegistry::kMaxServices) {
    LOG_WARN("not watching pid %d: more than %u services", pid, ServiceRegistry::kMaxServices);
    return;
  }
  aster_watch w{};
  w.service_id = id;
  __u32 key = static_cast<__u32>(pid);
  if (bpf_map_update_elem(map_fd_, &key, &w, BPF_ANY) != 0) {
    LOG_WARN("cannot watch pid %d: watched-process map is full (%d entries)", pid, 16384);
    return;
  }
  // The process may have exited between the scan and the update; a stale
  // entry would watch whatever process reuses the PID, so check again.
  auto st = read_proc_stat(pid);
  if (!st || st->start_ticks != start_ticks) {
    bpf_map_delete_elem(map_fd_, &key);
    return;
  }
  WatchedProcess wp;
  wp.pid = pid;
  wp.start_ticks = start_ticks;
  wp.service_id = id;
  registry_.add(wp);
  LOG_INFO("watching pid %d as service %s", pid, service.c_str());
}

void TargetDiscovery::unwatch(pid_t pid) {
  __u32 key = static_cast<__u32>(pid);
  bpf_map_delete_elem(map_fd_, &key);
  registry_.remove(pid);
}

void TargetDiscovery::scan() {
  std::lock_guard<std::mutex> lock(mu_);
  // Listening sockets, per network namespace (containers have their own).
  std::unordered_map<uint64_t, uint16_t> listeners;
  std::unordered_set<uint64_t> netns_done;
  std::vector<pid_t> pids = list_pids();
  std::unordered_set<pid_t> alive(pids.begin(), pids.end());

  // Watched processes first: gone, or PID reused by another process?
  for (const auto& wp : registry_.processes()) {
    auto st = read_proc_stat(wp.pid);
    if (!st || st->start_ticks != wp.start_ticks) {
      LOG_INFO("pid %d is gone; no longer watched", wp.pid);
      unwatch(wp.pid);
      seen_.erase(wp.pid);
    }
  }
  for (auto it = seen_.begin(); it != seen_.end();) {
    it = alive.count(it->first) ? std::next(it) : seen_.erase(it);
  }

  bool need_listeners = cfg_.targets.empty();
  for (const auto& sel : cfg_.targets) need_listeners |= !sel.ports.empty();

  for (pid_t pid : pids) {
    if (pid == self_) continue;
    auto st = read_proc_stat(pid);
    if (!st) continue;
    WatchedProcess wp;
    if (registry_.find(pid, &wp) && wp.start_ticks == st->start_ticks) continue;
    auto& seen = seen_[pid];
    if (seen.start_ticks == st->start_ticks && ++seen.scans_since_fd_check < kIdleRecheckScans) {
      continue;
    }
    seen.start_ticks = st->start_ticks;
    seen.scans_since_fd_check = 0;
    if (need_listeners) {
      uint64_t ns = net_namespace(pid);
      if (ns != 0 && netns_done.insert(ns).second) {
        for (const auto& [inode, port] : listening_sockets(pid)) listeners[inode] = port;
      }
    }
    std::string service;
    if (select(pid, listeners, &service)) watch(pid, st->start_ticks, service);
  }
}

void TargetDiscovery::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.discovery_interval_ms);
    scan();
    while (!stop.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

void TargetDiscovery::on_fork(pid_t child, uint16_t service_id) {
  auto st = read_proc_stat(child);
  if (!st) return;  // already gone; the exit probe removed its map entry
  WatchedProcess wp;
  wp.pid = child;
  wp.start_ticks = st->start_ticks;
  wp.service_id = service_id;
  registry_.add(wp);
}

void TargetDiscovery::on_exit(pid_t pid) {
  registry_.remove(pid);
}

}  // namespace aster
