// SPDX-License-Identifier: Apache-2.0
#include "targets/service_registry.h"

namespace aster {

uint16_t ServiceRegistry::intern(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ids_.find(name);
  if (it != ids_.end()) return it->second;
  if (names_.size() >= kMaxServices) return kMaxServices;
  auto id = static_cast<uint16_t>(names_.size());
  names_.push_back(name);
  ids_.emplace(name, id);
  return id;
}

std::string ServiceRegistry::name(uint16_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return id < names_.size() ? names_[id] : std::string("unknown");
}

std::vector<std::string> ServiceRegistry::names_from(uint16_t first) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (first >= names_.size()) return {};
  return std::vector<std::string>(names_.begin() + first, names_.end());
}

void ServiceRegistry::add(const WatchedProcess& p) {
  std::lock_guard<std::mutex> lock(mu_);
  procs_[p.pid] = p;
}

void ServiceRegistry::remove(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  procs_.erase(pid);
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
  for (const auto& kv : procs_) out[names_[kv.second.service_id]].push_back(kv.first);
  return out;
}

size_t ServiceRegistry::process_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return procs_.size();
}

size_t ServiceRegistry::service_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  std::vector<bool> seen(names_.size());
  for (const auto& kv : procs_) {
    if (!seen[kv.second.service_id]) {
      seen[kv.second.service_id] = true;
      ++n;
    }
  }
  return n;
}

}  // namespace aster
