// SPDX-License-Identifier: Apache-2.0
#include "web/web_config.h"

#include <gtest/gtest.h>

namespace aster {
namespace {

const char kHash[] = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

std::string parse_error(const std::string& text) {
  WebConfig c;
  std::string error;
  EXPECT_FALSE(parse_web_config(text, "/etc/aster/web.yml", &c, &error)) << text;
  return error;
}

TEST(WebConfig, TheToolkitFormat) {
  WebConfig c;
  std::string error;
  ASSERT_TRUE(parse_web_config(std::string("http_server_config:\n"
                                           "  http2: false\n"
                                           "  headers:\n"
                                           "    X-Frame-Options: deny\n"
                                           "    Strict-Transport-Security: max-age=31536000\n"
                                           "basic_auth_users:\n"
                                           "  prometheus: ") + kHash + "\n",
                               "/etc/aster/web.yml", &c, &error))
      << error;
  ASSERT_EQ(c.headers.size(), 2u);
  EXPECT_EQ(c.users.at("prometheus"), kHash);
  ASSERT_TRUE(parse_web_config("", "web.yml", &c, &error));  // an empty file: nothing configured
  EXPECT_TRUE(c.users.empty());
}

TEST(WebConfig, WhatCannotBeHonouredIsRejectedByName) {
  EXPECT_NE(parse_error("tls_server_config:\n  cert_file: a\n  key_file: b\n")
                .find("tls_server_config: not supported by aster-exporter (Debian 12's libcivetweb crashes"),
            std::string::npos);
  EXPECT_NE(parse_error("rate_limit:\n  burst: 1\n").find("rate_limit: not supported"), std::string::npos);
  EXPECT_NE(parse_error("http_server_config:\n  http2: true\n").find("http_server_config.http2"), std::string::npos);
}

TEST(WebConfig, BadFilesNameTheKey) {
  EXPECT_NE(parse_error("tls_config:\n  a: b\n").find("unknown key 'tls_config'"), std::string::npos);
  EXPECT_NE(parse_error("http_server_config:\n  header: {}\n").find("'http_server_config.header'"), std::string::npos);
  EXPECT_NE(parse_error("basic_auth_users:\n  alice: plaintext\n").find("basic_auth_users.alice: not a bcrypt hash"),
            std::string::npos);
  EXPECT_NE(parse_error("http_server_config:\n  headers:\n    Server: x\n")
                .find("http_server_config.headers.Server: header 'Server' can not be configured"),
            std::string::npos);
  EXPECT_NE(parse_error("http_server_config:\n  headers:\n    X-Frame-Options: allow\n").find("invalid value 'allow'"),
            std::string::npos);
  std::string e = parse_error("basic_auth_users: [\n");
  EXPECT_NE(e.find("/etc/aster/web.yml: not valid YAML"), std::string::npos) << e;
}

}  // namespace
}  // namespace aster
