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
  if (keep_assignments_) assignments_.emplace_back(id, identity);
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
    if (slots_[id].state == State::kLive) assignments_.emplace_back(static_cast<uint16_t>(id), slots_[id].identity);
  }
}

std::vector<std::pair<uint16_t, WorkloadIdentity>> ServiceRegistry::take_assignments() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<uint16_t, WorkloadIdentity>> out;
  out.swap(assignments_);
  return out;
}

void ServiceRegistry::drop_process(uint16_t id, uint64_t now) {
  if (id >= slots_.size()) return;
  Slot& s = slots_[id];
  if (s.processes > 0 && --s.processes == 0) s.since_ns = now;
}

bool ServiceRegistry::add_locked(const WatchedProcess& p, std::shared_ptr<const WorkloadIdentity> identity) {
  if (p.service_id >= slots_.size() || slots_[p.service_id].state != State::kLive) return false;
  if (!identity) identity = std::make_shared<const WorkloadIdentity>(slots_[p.service_id].identity);
  auto it = procs_.find(p.pid);
  if (it != procs_.end()) drop_process(it->second.p.service_id, clock_());
  procs_[p.pid] = Process{p, std::move(identity)};
  ++slots_[p.service_id].processes;
  return true;
}

bool ServiceRegistry::add(const WatchedProcess& p, const WorkloadIdentity& identity) {
  auto own = std::make_shared<const WorkloadIdentity>(identity);
  std::lock_guard<std::mutex> lock(mu_);
  return add_locked(p, std::move(own));
}

bool ServiceRegistry::add(const WatchedProcess& p) {
  std::lock_guard<std::mutex> lock(mu_);
  return add_locked(p, nullptr);
}

bool ServiceRegistry::add_child(const WatchedProcess& child, pid_t parent) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<const WorkloadIdentity> identity;
  auto it = procs_.find(parent);
  if (it != procs_.end() && it->second.p.service_id == child.service_id) identity = it->second.identity;
  return add_locked(child, std::move(identity));
}

void ServiceRegistry::remove(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  drop_process(it->second.p.service_id, clock_());
  procs_.erase(it);
}

bool ServiceRegistry::find(pid_t pid, WatchedProcess* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = procs_.find(pid);
  if (it == procs_.end()) return false;
  if (out) *out = it->second.p;
  return true;
}

bool ServiceRegistry::identity_of(pid_t pid, WorkloadIdentity* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = procs_.find(pid);
  if (it == procs_.end()) return false;
  *out = *it->second.identity;
  return true;
}

std::vector<WatchedProcess> ServiceRegistry::processes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<WatchedProcess> out;
  out.reserve(procs_.size());
  for (const auto& kv : procs_) out.push_back(kv.second.p);
  return out;
}

std::map<std::string, std::vector<pid_t>> ServiceRegistry::by_service() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::vector<pid_t>> out;
  for (const auto& kv : procs_) out[slots_[kv.second.p.service_id].name].push_back(kv.first);
  return out;
}

std::vector<std::pair<WorkloadIdentity, std::vector<pid_t>>> ServiceRegistry::by_identity() const {
  std::lock_guard<std::mutex> lock(mu_);
  // By the processes' own facts, not their id's: workloads sharing an id
  // (the same series labels) are each one workload here.
  std::map<std::string, std::pair<WorkloadIdentity, std::vector<pid_t>>> by_facts;
  for (const auto& [pid, proc] : procs_) {
    auto& group = by_facts[proc.identity->facts()];
    if (group.second.empty()) group.first = *proc.identity;
    group.second.push_back(pid);
  }
  std::vector<std::pair<WorkloadIdentity, std::vector<pid_t>>> out;
  out.reserve(by_facts.size());
  for (auto& [facts, group] : by_facts) out.push_back(std::move(group));
  return out;
}

std::map<LabelPairs, std::vector<pid_t>> ServiceRegistry::by_series_labels() const {
  std::map<LabelPairs, std::vector<pid_t>> out;
  for (auto& [identity, pids] : by_identity()) {
    LabelPairs labels{{"service", identity.service}};
    for (auto& l : series_labels(identity, pod_name_label_)) labels.push_back(std::move(l));
    auto& group = out[labels];
    group.insert(group.end(), pids.begin(), pids.end());
  }
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
