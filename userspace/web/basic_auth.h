// SPDX-License-Identifier: Apache-2.0
// basic_auth_users, checked the way exporter-toolkit does: bcrypt (through
// libcrypt's crypt_rn), one check at a time, results cached so a scraper
// pays for bcrypt once and not on every scrape (one check is tens of
// milliseconds on these cores). An unknown user is checked against a fixed
// hash so timing does not tell which users exist. Failed checks spend a
// budget per client address; an address that has spent it is answered 429
// without a check until the budget refills, so guessing passwords cannot
// keep the CPUs busy.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "model/web_stats.h"

namespace aster {

class BasicAuth {
 public:
  enum class Verdict { kOk, kUnauthorized, kRateLimited };
  static constexpr double kFailureBurst = 5;       // failed checks an address may make at once
  static constexpr double kFailuresPerSecond = 1;  // and then one a second

  explicit BasicAuth(WebStats& stats) : stats_(stats) {}
  // `authorization` is the request's Authorization header (null if none).
  Verdict check(const std::map<std::string, std::string>& users, const char* authorization,
                const std::string& peer);

 private:
  bool spend_budget(const std::string& peer, bool failed);
  WebStats& stats_;
  std::mutex mu_;      // the cache and the budgets
  std::mutex bcrypt_;  // one bcrypt at a time
  std::unordered_map<std::string, bool> cache_;  // SHA-256(user, hash, password) -> verdict
  struct Budget {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, Budget> budgets_;
};

// The "user:password" inside "Basic <base64>", or false.
bool decode_basic(const char* authorization, std::string* user, std::string* password);

}  // namespace aster
