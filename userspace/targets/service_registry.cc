// SPDX-License-Identifier: Apache-2.0
#include "targets/service_registry.h"

#include <ctime>

#include "model/log.h"

namespace aster {
namespace {

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

constexpr uint64_t kFullLogEveryNs = 60ull * 1000000000;

}  // namespace

ServiceRegistry::ServiceRegistry(Clock clock, bool pod_name_label)
    : clock_(clock ? std::move(clock) : Clock(monotonic_ns)), pod_name_label_(pod_name_label) {}

uint16_t ServiceRegistry::intern(const std::string& name) {
  WorkloadIdentity w;
  w.service = name;
  return intern(w);
}

uint16_t ServiceRegistry::intern(const WorkloadIdentity& identity) {
  const std::string& name = identity.service;
  std::string key = series_key(identity, pod_name_label_);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ids_.find(key);
  if (it != ids_.end()) return it->second;
  uint64_t now = clock_();
  uint16_t id;
  if (!free_.empty()) {
    id = free_.front();
    free_.pop_front();
    ++reused_;
  } else if (slots_.size() < kMaxServices) {
    id = static_cast<uint16_t>(slots_.size());
    slots_.emplace_back();
  } else {
    ++full_;
    if (full_ == 1 || now - last_full_log_ns_ >= kFullLogEveryNs) {
      last_full_log_ns_ = now;
      LOG_WARN("service table full: %u services are live or expiring, so service %s is not watched "
               "(aster_exporter_service_table_full_total counts these); lower metrics.expiry.gone_after "
               "so gone workloads free their ids sooner, or name workloads with fewer distinct names",
               kMaxServices, name.c_str());
    }
    return kMaxServices;
  }
  Slot& s = slots_[id];
  s.name = name;
  s.identity = identity;
  s.state = State::kLive;
  s.processes = 0;
  s.since_ns = now;  // no process yet: expires like a gone one if none comes
  ids_.emplace(std::move(key), id);
  if (keep_assignments_) assignments_.emplace_back(id, name);
  return id;
}

std::string ServiceRegistry::name(uint16_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return id < slots_.size() && slots_[id].state != State::kFree ? slots_[id].name : std::string("unknown");
}

WorkloadIdentity ServiceRegistry::identity(uint16_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (id < slots_.size() && slots_[id].state != State::kFree) return slots_[id].identity;
  WorkloadIdentity w;
  w.service = "unknown";
  return w;
}

bool ServiceRegistry::is_live(uint16_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return id < slots_.size() && slots_[id].state == State::kLive;
}

void ServiceRegistry::keep_assignments() {
  std::lock_guard<std::mutex> lock(mu_);
  if (keep_assignments_) return;
  keep_assignments_ = true;
  for (size_t id = 0; id < slots_.size(); ++id) {
    if (slots_[id].state == State::kLive) assignments_.emplace_back(static_cast<uint16_t>(id), slots_[id].name);
  }
}

std::vector<std::pair<uint16_t, std::string>> ServiceRegistry::take_assignments() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<uint16_t, std::string>> out;
  out.swap(assignments_);
  return out;
}

void ServiceRegistry::drop_process(uint16_t id, uint64_t now) {
  if (id >= slots_.size()) return;
  Slot& s = slots_[id];
  if (s.processes > 0 && --s.processes == 0) s.since_ns = now;
}

bool ServiceRegistry::add(const WatchedProcess& p) {
  std::lock_guard<std::mutex> lock(mu_);
  if (p.service_id >= slots_.size() || slots_[p.service_id].state != State::kLive) return false;
  auto it = procs_.find(p.pid);
  if (it != procs_.end()) drop_process(it->second.service_id, clock_());
  procs_[p.pid] = p;
  ++slots_[p.service_id].processes;
  return true;
}

void ServiceRegistry::remove(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  drop_process(it->second.service_id, clock_());
  procs_.erase(it);
}

bool ServiceRegistry::find(pid_t pid, WatchedProcess* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = procs_.find(pid);
  if (it == procs_.end()) return false;
  if (out) *out = it->second;
  return true;
}

std::vector<WatchedProcess> ServiceRegistry::processes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<WatchedProcess> out;
  out.reserve(procs_.size());
  for (const auto& kv : procs_) out.push_back(kv.second);
  return out;
}

std::map<std::string, std::vector<pid_t>> ServiceRegistry::by_service() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::vector<pid_t>> out;
  for (const auto& kv : procs_) out[slots_[kv.second.service_id].name].push_back(kv.first);
  return out;
}

std::vector<std::pair<WorkloadIdentity, std::vector<pid_t>>> ServiceRegistry::by_identity() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<uint16_t, std::vector<pid_t>> by_id;
  for (const auto& kv : procs_) by_id[kv.second.service_id].push_back(kv.first);
  std::vector<std::pair<WorkloadIdentity, std::vector<pid_t>>> out;
  for (auto& [id, pids] : by_id) out.emplace_back(slots_[id].identity, std::move(pids));
  return out;
}

size_t ServiceRegistry::process_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return procs_.size();
}

size_t ServiceRegistry::service_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  // Service names, not workloads: two pods of one Deployment are one service.
  std::unordered_map<std::string, bool> names;
  for (const Slot& s : slots_) {
    if (s.state == State::kLive && s.processes > 0) names.emplace(s.name, true);
  }
  return names.size();
}

std::vector<uint16_t> ServiceRegistry::take_gone(uint64_t gone_after_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t now = clock_();
  std::vector<uint16_t> out;
  for (size_t id = 0; id < slots_.size(); ++id) {
    Slot& s = slots_[id];
    if (s.state != State::kLive || s.processes > 0 || now - s.since_ns < gone_after_ns) continue;
    s.state = State::kQuarantined;
    s.since_ns = now;
    ids_.erase(series_key(s.identity, pod_name_label_));
    out.push_back(static_cast<uint16_t>(id));
  }
  return out;
}

std::vector<uint16_t> ServiceRegistry::quarantine_over(uint64_t quarantine_ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t now = clock_();
  std::vector<uint16_t> out;
  for (size_t id = 0; id < slots_.size(); ++id) {
    const Slot& s = slots_[id];
    if (s.state == State::kQuarantined && now - s.since_ns >= quarantine_ns) out.push_back(static_cast<uint16_t>(id));
  }
  return out;
}

void ServiceRegistry::release(const std::vector<uint16_t>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (uint16_t id : ids) {
    if (id >= slots_.size() || slots_[id].state != State::kQuarantined) continue;
    Slot& s = slots_[id];
    s.state = State::kFree;
    s.name.clear();
    s.name.shrink_to_fit();
    s.identity = WorkloadIdentity();
    free_.push_back(id);
  }
}

ServiceRegistry::TableStats ServiceRegistry::table_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  TableStats t;
  for (const Slot& s : slots_) {
    if (s.state == State::kLive) {
      (s.processes > 0 ? t.watched : t.gone) += 1;
    } else if (s.state == State::kQuarantined) {
      ++t.quarantined;
    }
  }
  t.allocated = slots_.size();
  t.full = full_;
  t.reused = reused_;
  return t;
}

}  // namespace aster
