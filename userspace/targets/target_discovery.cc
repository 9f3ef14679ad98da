// SPDX-License-Identifier: Apache-2.0
#include "targets/target_discovery.h"


#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "model/event_layout.h"
#include "model/log.h"
#include "targets/proc_reader.h"

namespace aster {
namespace {

// Processes that listened on nothing are re-checked this many scans later:
// scanning every fd of every process every second would cost more CPU than
// the probes themselves on a busy node. listen() events make up for it.
constexpr uint32_t kIdleRecheckScans = 10;

// listen() fires the tracepoint that reports it before the kernel has put
// the socket in its listening table (inet_csk_listen_start stores
// TCP_LISTEN, then validates the port and hashes the socket), so a check
// that runs at once can find no listener; so can one that runs while the
// listener's vCPU is descheduled in between. A listen that selected nothing
// is checked again after these delays, each counted from the one before;
// without them it would wait for the rescan, which may skip the process for
// kIdleRecheckScans intervals.
constexpr std::chrono::milliseconds kListenRecheckDelays[] = {
    std::chrono::milliseconds(20), std::chrono::milliseconds(200), std::chrono::milliseconds(1000)};

std::string read_exe_path(pid_t pid) {
  char buf[4096];
  ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  std::string exe(buf);
  const std::string deleted = " (deleted)";
  if (exe.size() > deleted.size() && exe.compare(exe.size() - deleted.size(), deleted.size(), deleted) == 0) {
    exe.resize(exe.size() - deleted.size());
  }
  return exe;
}

// The cgroup v2 path ("0::/system.slice/x.service"), or "" on cgroup v1.
std::string read_cgroup(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

bool under_cgroup(const std::string& path, const std::string& prefix) {
  if (path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || prefix.back() == '/' || path[prefix.size()] == '/';
}

}  // namespace

TargetDiscovery::TargetDiscovery(const Config& cfg, ServiceRegistry& registry, WatchList watch_list,
                                 pid_t self)
    : cfg_(cfg), registry_(registry), identity_(cfg.identity), watch_list_(watch_list), self_(self) {
  need_listeners_ = cfg_.targets.empty();
  for (const auto& t : cfg_.targets) {
    Selector s{&t, nullptr};
    if (!t.exe.empty()) s.exe = std::make_unique<std::regex>(t.exe, std::regex::extended);
    selectors_.push_back(std::move(s));
    need_listeners_ |= !t.ports.empty();
  }
}

bool TargetDiscovery::needs_exec_events() const {
  for (const auto& t : cfg_.targets) {
    if (!t.exe.empty() || !t.cgroup.empty()) return true;
  }
  return false;
}

bool TargetDiscovery::select(pid_t pid, const Listeners& listeners, std::string* explicit_name) {
  // Ports this process listens on, computed only if some rule asks.
  std::vector<uint16_t> ports;
  bool ports_known = false;
  auto listening = [&]() -> const std::vector<uint16_t>& {
    if (!ports_known) {
      for (uint64_t inode : socket_inodes(pid)) {
        auto it = listeners.find(inode);
        if (it != listeners.end()) ports.push_back(it->second);
      }
      ports_known = true;
    }
    return ports;
  };
  if (selectors_.empty()) {
    if (listening().empty()) return false;
    explicit_name->clear();
    return true;
  }
  std::string exe_path, cgroup;
  for (const auto& sel : selectors_) {
    const TargetSelector& t = *sel.cfg;
    if (!t.pids.empty() && std::find(t.pids.begin(), t.pids.end(), pid) == t.pids.end()) continue;
    if (sel.exe) {
      if (exe_path.empty()) exe_path = read_exe_path(pid);
      if (exe_path.empty()) continue;
      std::string base = exe_path.substr(exe_path.rfind('/') + 1);
      if (!std::regex_match(exe_path, *sel.exe) && !std::regex_match(base, *sel.exe)) continue;
    }
    if (!t.cgroup.empty()) {
      if (cgroup.empty()) cgroup = read_cgroup(pid);
      if (!under_cgroup(cgroup, t.cgroup)) continue;
    }
    if (!t.ports.empty()) {
      const auto& have = listening();
      bool any = std::any_of(t.ports.begin(), t.ports.end(),
                             [&](uint16_t p) { return std::find(have.begin(), have.end(), p) != have.end(); });
      if (!any) continue;
    }
    *explicit_name = t.name;
    return true;
  }
  return false;
}

void TargetDiscovery::watch(pid_t pid, uint64_t start_ticks, const WorkloadIdentity& identity) {
  const std::string& service = identity.service;
  uint16_t id = registry_.intern(identity);
  if (id == ServiceRegistry::kMaxServices) {
    LOG_WARN("not watching pid %d: more than %u services", pid, ServiceRegistry::kMaxServices);
    return;
  }
  if (!watch_list_.add(pid, id)) {
    LOG_WARN("cannot watch pid %d: the watched-process map is full", pid);
    return;
  }
  // The process may have exited between the scan and the update; a stale
  // entry would watch whatever process reuses the PID, so check again. An
  // exiting process or a zombie counts as gone: the exit probe has run
  // already (or is running), so nothing would take its entry out.
  auto st = read_proc_stat(pid);
  if (!st || st->start_ticks != start_ticks || st->exited()) {
    watch_list_.remove(pid);
    return;
  }
  if (!registry_.add(WatchedProcess{pid, start_ticks, id}, identity)) {
    // The service expired between intern() and now (it had no process for
    // gone_after): the next scan names it again.
    watch_list_.remove(pid);
    return;
  }
  if (identity.in_kubernetes()) {
    LOG_INFO("watching pid %d as service %s (pod %s/%s, container %s)", pid, service.c_str(),
             identity.k8s_namespace_name.c_str(), identity.k8s_pod_name.c_str(), identity.k8s_container_name.c_str());
  } else {
    LOG_INFO("watching pid %d as service %s", pid, service.c_str());
  }
  if (on_watched_) on_watched_(pid);
}

int TargetDiscovery::resolve_now(pid_t pid) {
  if (check_one(pid, false)) {
    WatchedProcess wp;
    if (registry_.find(pid, &wp)) return wp.service_id;
  }
  // By now the socket is in the kernel's listening table (a connection of
  // it moved bytes), so this verdict is final: stop the kernel's watch.
  std::lock_guard<std::mutex> lock(scan_mu_);
  if (!registry_.find(pid, nullptr)) watch_list_.remove(pid);
  return -1;
}

void TargetDiscovery::unwatch(pid_t pid) {
  watch_list_.remove(pid);
  registry_.remove(pid);
}

bool TargetDiscovery::check_one(pid_t pid, bool after_exec) {
  std::lock_guard<std::mutex> lock(scan_mu_);
  if (pid == self_) return false;
  auto st = read_proc_stat(pid);
  if (!st || st->exited()) return false;
  WatchedProcess wp;
  bool watched = registry_.find(pid, &wp);
  if (watched && !after_exec) return true;
  Listeners listeners;
  if (need_listeners_) {
    for (const auto& [inode, port] : listening_sockets(pid)) listeners[inode] = port;
  }
  std::string explicit_name;
  bool selected = select(pid, listeners, &explicit_name);
  if (selected) {
    // Resolved once per process: when it is first watched, and after an exec.
    if (!watched) {
      watch(pid, st->start_ticks, identity_.resolve(pid, explicit_name, read_exe_name(pid)));
    } else {
      WorkloadIdentity identity = identity_.resolve(pid, explicit_name, read_exe_name(pid));
      WorkloadIdentity before;
      if (!registry_.identity_of(pid, &before) || !(before == identity)) watch(pid, st->start_ticks, identity);
    }
  } else if (watched && after_exec) {
    // exec replaced the program: a worker that became a shell is not the service.
    LOG_INFO("pid %d exec'd a program no selector picks; no longer watched", pid);
    unwatch(pid);
  }
  seen_[pid] = Seen{st->start_ticks, 0};
  return selected && registry_.find(pid, &wp);
}

void TargetDiscovery::scan() {
  std::lock_guard<std::mutex> lock(scan_mu_);
  std::vector<pid_t> pids = list_pids();
  std::unordered_set<pid_t> alive(pids.begin(), pids.end());

  // Watched processes first: gone, or PID reused by another process?
  for (const auto& wp : registry_.processes()) {
    auto st = read_proc_stat(wp.pid);
    if (!st || st->start_ticks != wp.start_ticks || st->exited()) {
      LOG_INFO("pid %d is gone; no longer watched", wp.pid);
      unwatch(wp.pid);
      seen_.erase(wp.pid);
    }
  }
  for (auto it = seen_.begin(); it != seen_.end();) {
    it = alive.count(it->first) ? std::next(it) : seen_.erase(it);
  }

  // Listening sockets, per network namespace (containers have their own).
  Listeners listeners;
  std::unordered_set<uint64_t> netns_done;
  for (pid_t pid : pids) {
    if (pid == self_) continue;
    auto st = read_proc_stat(pid);
    if (!st || st->exited()) continue;
    WatchedProcess wp;
    if (registry_.find(pid, &wp) && wp.start_ticks == st->start_ticks) continue;
    auto& seen = seen_[pid];
    if (seen.start_ticks == st->start_ticks && ++seen.scans_since_fd_check < kIdleRecheckScans) continue;
    seen.start_ticks = st->start_ticks;
    seen.scans_since_fd_check = 0;
    if (need_listeners_) {
      uint64_t ns = net_namespace(pid);
      if (ns != 0 && netns_done.insert(ns).second) {
        for (const auto& [inode, port] : listening_sockets(pid)) listeners[inode] = port;
      }
    }
    std::string explicit_name;
    if (select(pid, listeners, &explicit_name)) {
      watch(pid, st->start_ticks, identity_.resolve(pid, explicit_name, read_exe_name(pid)));
    }
  }
}

void TargetDiscovery::request_check(pid_t pid, bool after_exec) {
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    pending_[pid] |= after_exec ? kAfterExec : kAfterListen;
  }
  pending_cv_.notify_one();
}

void TargetDiscovery::schedule_recheck(pid_t pid, size_t attempt) {
  if (attempt == 0) {  // a new listen restarts the process's series
    rechecks_.erase(std::remove_if(rechecks_.begin(), rechecks_.end(), [&](const Recheck& r) { return r.pid == pid; }),
                    rechecks_.end());
  }
  if (attempt >= std::size(kListenRecheckDelays)) {
    // No selector picked it: if the kernel watched it from its listen()
    // on (ASTER_SERVICE_PENDING), it stops now.
    std::lock_guard<std::mutex> lock(scan_mu_);
    if (!registry_.find(pid, nullptr)) watch_list_.remove(pid);
    return;
  }
  rechecks_.push_back(Recheck{std::chrono::steady_clock::now() + kListenRecheckDelays[attempt], pid, attempt});
}

void TargetDiscovery::run(const std::atomic<bool>& stop) {
  using Clock = std::chrono::steady_clock;
  auto next_scan = Clock::now() + std::chrono::milliseconds(cfg_.discovery_interval_ms);
  while (!stop.load()) {
    std::unordered_map<pid_t, uint8_t> todo;
    std::vector<pid_t> exited;
    // Short waits so a stop request is noticed quickly; shorter when a
    // recheck falls due first.
    auto wake = Clock::now() + std::chrono::milliseconds(100);
    for (const auto& r : rechecks_) wake = std::min(wake, r.due);
    {
      std::unique_lock<std::mutex> lock(pending_mu_);
      pending_cv_.wait_until(lock, wake, [&] { return !pending_.empty() || !exited_.empty(); });
      todo.swap(pending_);
      exited.swap(exited_);
    }
    for (pid_t pid : exited) forget_exited(pid);
    for (const auto& [pid, why] : todo) {
      if (!check_one(pid, why & kAfterExec) && (why & kAfterListen)) schedule_recheck(pid, 0);
    }
    std::vector<Recheck> due;
    auto now = Clock::now();
    for (auto it = rechecks_.begin(); it != rechecks_.end();) {
      if (it->due <= now) {
        due.push_back(*it);
        it = rechecks_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& r : due) {
      if (!check_one(r.pid, false)) schedule_recheck(r.pid, r.attempt + 1);
    }
    if (Clock::now() >= next_scan) {
      scan();
      next_scan = Clock::now() + std::chrono::milliseconds(cfg_.discovery_interval_ms);
    }
  }
}

void TargetDiscovery::on_fork(pid_t child, pid_t parent, uint16_t service_id) {
  auto st = read_proc_stat(child);
  if (!st || st->exited()) return;  // already gone; the exit probe removed its map entry
  if (service_id == ASTER_SERVICE_PENDING) {
    // A child of a listener the kernel watched before discovery checked it:
    // checked now, like the parent will be (a master's workers inherit its
    // listening sockets, so a port selector picks them too).
    resolve_now(child);
    return;
  }
  // A fork record staged before its service expired: the child's entry
  // (copied by the probe) names an id that is no longer live.
  if (!registry_.add_child(WatchedProcess{child, st->start_ticks, service_id}, parent)) watch_list_.remove(child);
}

void TargetDiscovery::on_exit(pid_t pid) {
  registry_.remove(pid);
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    exited_.push_back(pid);
  }
  pending_cv_.notify_one();
}

void TargetDiscovery::forget_exited(pid_t pid) {
  std::lock_guard<std::mutex> lock(scan_mu_);
  WatchedProcess wp;
  if (registry_.find(pid, &wp)) return;  // watched again since: a live process, or the scan's to judge
  auto st = read_proc_stat(pid);
  if (st && !st->exited()) return;  // a new process on a reused PID (maybe a watched parent's child): not ours
  watch_list_.remove(pid);
}

}  // namespace aster
