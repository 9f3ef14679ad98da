// SPDX-License-Identifier: Apache-2.0
#include "web/live_web_config.h"

#include <sys/stat.h>

#include "model/log.h"

namespace aster {
namespace {

// What changes when a file is rewritten or a symlink (a Secret's ..data)
// is swapped: the inode, the size or the modification time.
std::string stat_signature(const std::string& path) {
  if (path.empty()) return "-";
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return path + ":missing;";
  return path + ":" + std::to_string(st.st_ino) + "," + std::to_string(st.st_size) + "," +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ";";
}

}  // namespace

std::string LiveWebConfig::signature(const WebConfig& c) const {
  return stat_signature(path_) + stat_signature(c.tls_config.cert_file) + stat_signature(c.tls_config.key_file) +
         stat_signature(c.tls_config.client_ca_file);
}

std::shared_ptr<const WebConfigSnapshot> LiveWebConfig::load(const std::string& path, std::string* error) {
  auto snap = std::make_shared<WebConfigSnapshot>();
  if (!load_web_config(path, &snap->config, error)) return nullptr;
  if (snap->config.tls) {
    snap->tls = build_tls_context(snap->config.tls_config, error);
    if (!snap->tls) {
      *error = "web config " + path + ": " + *error;
      return nullptr;
    }
  }
  return snap;
}

std::unique_ptr<LiveWebConfig> LiveWebConfig::open(const std::string& path, WebStats& stats, std::string* error) {
  std::unique_ptr<LiveWebConfig> live(new LiveWebConfig(path, stats));
  live->snap_ = load(path, error);
  if (!live->snap_) return nullptr;
  live->seen_ = live->signature(live->snap_->config);
  return live;
}

std::shared_ptr<const WebConfigSnapshot> LiveWebConfig::current() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string now = signature(snap_->config);
  if (now == seen_) return snap_;
  seen_ = now;
  std::string error;
  auto fresh = load(path_, &error);
  if (fresh && fresh->config.tls != snap_->config.tls) {
    fresh = nullptr;
    error = "web config " + path_ + ": tls_server_config: switching between HTTP and HTTPS needs a restart";
  }
  if (!fresh) {
    stats_.config_reloads_failed.add();
    stats_.config_last_reload_ok.store(0, std::memory_order_relaxed);
    LOG_WARN("%s; still serving with the previous web config", error.c_str());
    return snap_;
  }
  // The files the new config names may differ: track those from now on.
  seen_ = signature(fresh->config);
  snap_ = std::move(fresh);
  stats_.config_reloads_ok.add();
  stats_.config_last_reload_ok.store(1, std::memory_order_relaxed);
  LOG_INFO("web config %s reloaded", path_.c_str());
  return snap_;
}

}  // namespace aster
