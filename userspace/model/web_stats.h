// SPDX-License-Identifier: Apache-2.0
// What the web server counts about its clients, exported as
// aster_exporter_web_*. civetweb's worker threads write them concurrently,
// so these are real atomic adds (a few per connection, not per event).
#pragma once

#include <atomic>
#include <cstdint>

namespace aster {

struct WebCounter {
  std::atomic<uint64_t> v{0};
  void add(uint64_t n = 1) { v.fetch_add(n, std::memory_order_relaxed); }
  uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

struct WebStats {
  WebCounter refused_per_peer;      // connections closed at once: their address had its cap open
  std::atomic<int64_t> connections_open{0};  // connections counted against their address's cap
  WebCounter auth_failures;          // answered 401: no, unknown or wrong credentials
  WebCounter auth_rate_limited;      // answered 429: the address's budget of failed checks was spent
  WebCounter tls_handshakes_refused; // the server sent a fatal alert (no or unverified client certificate...)
  WebCounter config_reloads_ok, config_reloads_failed;
  std::atomic<int64_t> config_last_reload_ok{1};  // 0 while the file on disk cannot be used
};

}  // namespace aster
