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

TEST(WebConfig, TheToolkitFormatWithPathsRelativeToTheFile) {
  WebConfig c;
  std::string error;
  ASSERT_TRUE(parse_web_config(std::string("tls_server_config:\n"
                                           "  cert_file: tls/server.crt\n"
                                           "  key_file: /keys/server.key\n"
                                           "  client_auth_type: RequireAndVerifyClientCert\n"
                                           "  client_ca_file: ca.crt\n"
                                           "  min_version: TLS13\n"
                                           "http_server_config:\n"
                                           "  http2: false\n"
                                           "  headers:\n"
                                           "    X-Frame-Options: deny\n"
                                           "    Strict-Transport-Security: max-age=31536000\n"
                                           "basic_auth_users:\n"
                                           "  prometheus: ") + kHash + "\n",
                               "/etc/aster/web.yml", &c, &error))
      << error;
  EXPECT_TRUE(c.tls);
  EXPECT_EQ(c.tls_config.cert_file, "/etc/aster/tls/server.crt");
  EXPECT_EQ(c.tls_config.key_file, "/keys/server.key");
  EXPECT_EQ(c.tls_config.client_ca_file, "/etc/aster/ca.crt");
  EXPECT_EQ(c.tls_config.client_auth, ClientAuth::kRequireAndVerify);
  EXPECT_EQ(c.tls_config.min_version, 0x0304);
  EXPECT_EQ(c.tls_config.max_version, 0x0304);
  ASSERT_EQ(c.headers.size(), 2u);
  EXPECT_EQ(c.users.at("prometheus"), kHash);
}

TEST(WebConfig, CipherSuitesAndCurvesInGoNames) {
  WebConfig c;
  std::string error;
  ASSERT_TRUE(parse_web_config("tls_server_config:\n  cert_file: a\n  key_file: b\n"
                               "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n"
                               "  curve_preferences: [X25519, CurveP256]\n",
                               "web.yml", &c, &error))
      << error;
  EXPECT_EQ(c.tls_config.cipher_suites, std::vector<std::string>{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"});
  EXPECT_EQ(c.tls_config.curve_preferences, (std::vector<std::string>{"X25519", "CurveP256"}));
  EXPECT_NE(parse_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [P-256]\n")
                .find("tls_server_config.curve_preferences: unknown curve 'P-256'"),
            std::string::npos);
  EXPECT_NE(parse_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: TLS_X\n")
                .find("tls_server_config.cipher_suites: expected a list"),
            std::string::npos);
}

TEST(WebConfig, BasicAuthAloneIsPlainHttp) {
  WebConfig c;
  std::string error;
  ASSERT_TRUE(parse_web_config(std::string("basic_auth_users:\n  a: ") + kHash + "\n", "web.yml", &c, &error));
  EXPECT_FALSE(c.tls);
  ASSERT_TRUE(parse_web_config("", "web.yml", &c, &error));  // an empty file: nothing configured
  EXPECT_TRUE(c.users.empty());
}

TEST(WebConfig, WhatCannotBeHonouredIsRejectedByName) {
  EXPECT_NE(parse_error("tls_server_config:\n  client_allowed_sans: [a]\n").find("tls_server_config.client_allowed_sans"),
            std::string::npos);
  EXPECT_NE(parse_error("rate_limit:\n  burst: 1\n").find("rate_limit: not supported"), std::string::npos);
  EXPECT_NE(parse_error("http_server_config:\n  http2: true\n").find("http_server_config.http2"), std::string::npos);
}

TEST(WebConfig, BadFilesNameTheKey) {
  EXPECT_NE(parse_error("tls_config:\n  a: b\n").find("unknown key 'tls_config'"), std::string::npos);
  EXPECT_NE(parse_error("tls_server_config:\n  cert_fil: a\n").find("'tls_server_config.cert_fil'"), std::string::npos);
  EXPECT_NE(parse_error("tls_server_config:\n  cert_file: a\n").find("tls_server_config.key_file: missing"),
            std::string::npos);
  EXPECT_NE(parse_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS9\n")
                .find("tls_server_config.min_version: unknown TLS version 'TLS9'"),
            std::string::npos);
  EXPECT_NE(parse_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n")
                .find("tls_server_config.client_auth_type"),
            std::string::npos);
  EXPECT_NE(parse_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n")
                .find("without a client_auth_type"),
            std::string::npos);
  EXPECT_NE(parse_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n")
                .find("needs client_ca_file"),
            std::string::npos);
  EXPECT_NE(parse_error("basic_auth_users:\n  alice: plaintext\n").find("basic_auth_users.alice: not a bcrypt hash"),
            std::string::npos);
  EXPECT_NE(parse_error("http_server_config:\n  headers:\n    Server: x\n")
                .find("http_server_config.headers.Server: header 'Server' can not be configured"),
            std::string::npos);
  EXPECT_NE(parse_error("http_server_config:\n  headers:\n    X-Frame-Options: allow\n")
                .find("invalid value 'allow'"),
            std::string::npos);
  std::string e = parse_error("tls_server_config: [\n");
  EXPECT_NE(e.find("/etc/aster/web.yml: not valid YAML"), std::string::npos) << e;
}

}  // namespace
}  // namespace aster
