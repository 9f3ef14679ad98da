// SPDX-License-Identifier: Apache-2.0
#include "web/basic_auth.h"

#include <crypt.h>
#include <gtest/gtest.h>

namespace aster {
namespace {

std::string bcrypt(const char* password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof(salt)), nullptr);
  crypt_data data{};
  return crypt_rn(password, salt, &data, sizeof(data));
}

std::string basic(const std::string& user_colon_password) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (unsigned char c : user_colon_password) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) out.push_back(t[(acc >> (bits -= 6)) & 63]);
  }
  if (bits) out.push_back(t[(acc << (6 - bits)) & 63]);
  while (out.size() % 4) out.push_back('=');
  return "Basic " + out;
}

TEST(BasicAuth, DecodesTheHeader) {
  std::string u, p;
  ASSERT_TRUE(decode_basic(basic("prometheus:s3cr:et").c_str(), &u, &p));
  EXPECT_EQ(u, "prometheus");
  EXPECT_EQ(p, "s3cr:et");  // the first colon splits
  EXPECT_FALSE(decode_basic("Bearer abc", &u, &p));
  EXPECT_FALSE(decode_basic("Basic !!!", &u, &p));
  EXPECT_FALSE(decode_basic(basic("nocolon").c_str(), &u, &p));
  EXPECT_FALSE(decode_basic(nullptr, &u, &p));
}

TEST(BasicAuth, GoodPasswordsPassBadOnesAreCountedAndThenRateLimited) {
  WebStats stats;
  BasicAuth auth(stats);
  std::map<std::string, std::string> users = {{"prometheus", bcrypt("right")}};
  using V = BasicAuth::Verdict;
  EXPECT_EQ(auth.check(users, basic("prometheus:right").c_str(), "10.0.0.1"), V::kOk);
  EXPECT_EQ(auth.check(users, basic("prometheus:right").c_str(), "10.0.0.1"), V::kOk);  // cached
  EXPECT_EQ(auth.check(users, nullptr, "10.0.0.1"), V::kUnauthorized);
  EXPECT_EQ(auth.check(users, basic("nobody:right").c_str(), "10.0.0.1"), V::kUnauthorized);
  // Distinct wrong passwords spend the address's budget, then 429 without a check.
  int unauthorized = 0, limited = 0;
  for (int i = 0; i < 12; ++i) {
    V v = auth.check(users, basic("prometheus:wrong" + std::to_string(i)).c_str(), "10.0.0.2");
    unauthorized += v == V::kUnauthorized;
    limited += v == V::kRateLimited;
  }
  EXPECT_GE(unauthorized, 5);
  EXPECT_GE(limited, 5);
  EXPECT_EQ(stats.auth_rate_limited.get(), static_cast<uint64_t>(limited));
  // Another address and the cached good password are not held up.
  EXPECT_EQ(auth.check(users, basic("prometheus:right").c_str(), "10.0.0.2"), V::kOk);
  EXPECT_EQ(auth.check(users, basic("prometheus:wrongx").c_str(), "10.0.0.3"), V::kUnauthorized);
  EXPECT_EQ(stats.auth_failures.get(), static_cast<uint64_t>(2 + unauthorized + 1));
}

}  // namespace
}  // namespace aster
