// SPDX-License-Identifier: Apache-2.0
#include "web/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>

#include <cstring>
#include <memory>

namespace aster {
namespace {

// bcrypt of "fakepassword", exporter-toolkit's stand-in for unknown users.
const char kFakeHash[] = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
constexpr size_t kMaxCached = 1024;
constexpr size_t kMaxBudgets = 4096;

std::string cache_key(const std::string& user, const std::string& hash, const std::string& password) {
  std::string joined = user + '\0' + hash + '\0' + password;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(joined.data(), joined.size(), digest, &n, EVP_sha256(), nullptr);
  OPENSSL_cleanse(&joined[0], joined.size());
  return std::string(reinterpret_cast<char*>(digest), n);
}

bool bcrypt_matches(const std::string& password, const std::string& hash) {
  // crypt_data is 32 KiB: on the heap, not on civetweb's 100 KiB worker stacks.
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  bool ok = out && out[0] != '*' && strlen(out) == hash.size() && CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

int b64(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

bool decode_basic(const char* authorization, std::string* user, std::string* password) {
  if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0) return false;
  const char* p = authorization + 6;
  while (*p == ' ') ++p;
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (; *p && *p != '='; ++p) {
    int v = b64(static_cast<unsigned char>(*p));
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  while (*p == '=') ++p;
  if (*p) return false;
  size_t colon = out.find(':');
  if (colon == std::string::npos) return false;
  *user = out.substr(0, colon);
  *password = out.substr(colon + 1);
  return true;
}

bool BasicAuth::spend_budget(const std::string& peer, bool failed) {
  auto now = std::chrono::steady_clock::now();
  if (budgets_.size() >= kMaxBudgets && !budgets_.count(peer)) budgets_.clear();  // bounded; refilled anew
  auto it = budgets_.emplace(peer, Budget{kFailureBurst, now}).first;
  Budget& b = it->second;
  b.tokens = std::min(kFailureBurst, b.tokens + std::chrono::duration<double>(now - b.at).count() * kFailuresPerSecond);
  b.at = now;
  if (!failed) return b.tokens >= 1;
  b.tokens -= 1;
  return true;
}

BasicAuth::Verdict BasicAuth::check(const std::map<std::string, std::string>& users, const char* authorization,
                                    const std::string& peer) {
  std::string user, password;
  if (!decode_basic(authorization, &user, &password)) {
    stats_.auth_failures.add();
    return Verdict::kUnauthorized;
  }
  auto u = users.find(user);
  const std::string hash = u == users.end() ? kFakeHash : u->second;
  std::string key = cache_key(user, hash, password);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto c = cache_.find(key);
    if (c != cache_.end()) {
      if (c->second) return Verdict::kOk;
      stats_.auth_failures.add();
      return Verdict::kUnauthorized;
    }
    if (!spend_budget(peer, false)) {
      stats_.auth_rate_limited.add();
      return Verdict::kRateLimited;
    }
  }
  bool ok;
  {
    std::lock_guard<std::mutex> lock(bcrypt_);
    ok = bcrypt_matches(password, hash) && u != users.end();
  }
  OPENSSL_cleanse(&password[0], password.size());
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() >= kMaxCached) cache_.clear();
  cache_[key] = ok;
  if (ok) return Verdict::kOk;
  spend_budget(peer, true);
  stats_.auth_failures.add();
  return Verdict::kUnauthorized;
}

}  // namespace aster
