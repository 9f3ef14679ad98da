// SPDX-License-Identifier: Apache-2.0
// The cap on connections per client address. civetweb serves each
// connection on a worker thread of its own until it closes, so one host
// opening connections faster than the header timeout drops them would
// hold every worker and keep Prometheus waiting; past the cap its further
// connections are shut down at once and cost a worker only for that moment.
//
// civetweb's connection callback runs before it fills in the connection's
// address (its request info is null there) and hands over no socket, so
// the limiter finds new connections itself: it lists this process's
// sockets connected to the web port and takes each socket inode it has not
// seen yet as a new connection. A socket inode missing from the listing has
// closed, which frees its place without any close hook.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "model/web_stats.h"

namespace aster {

class PeerLimiter {
 public:
  PeerLimiter(uint32_t max_per_peer, WebStats& stats) : max_(max_per_peer), stats_(stats) {}
  // Lists this process's TCP connections to local_port; shuts down each
  // new one whose address already has the cap open (counted as refused).
  void scan(uint16_t local_port);

  // The bookkeeping under scan(), by socket inode. True when connection
  // `inode` from `addr` may be served (counting it), or was admitted before.
  bool admit(const std::string& addr, uint64_t inode);
  // Forget every connection whose inode is not in `live` (they closed).
  void keep_only(const std::unordered_set<uint64_t>& live);
  size_t open_for(const std::string& addr) const;

 private:
  const uint32_t max_;
  WebStats& stats_;
  mutable std::mutex mu_;
  std::mutex scan_mu_;  // one listing at a time: two would both take the same socket as new
  std::unordered_map<uint64_t, std::string> addr_of_;  // admitted inode -> its client address
  std::unordered_map<std::string, uint32_t> open_;     // client address -> connections admitted
  std::unordered_set<uint64_t> refused_;                // refused, until they close
  std::unordered_set<uint64_t> others_;                 // sockets that are no web connection (the listener)
};

}  // namespace aster
