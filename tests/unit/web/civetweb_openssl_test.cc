// SPDX-License-Identifier: Apache-2.0
#include "web/civetweb_openssl.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

namespace aster {
namespace {

// Every name Debian 12's libcivetweb 1.15 looks up (its ssl_sw and
// crypto_sw tables, OpenSSL 1.1 API) through dlopen("libssl.so") and
// dlopen("libcrypto.so"). SSL_get_peer_certificate was the one libssl3
// lacks, called through a null pointer after every handshake.
const char* const kCivetwebSsl[] = {
    "SSL_free", "SSL_accept", "SSL_connect", "SSL_read", "SSL_write", "SSL_get_error", "SSL_set_fd", "SSL_new",
    "SSL_CTX_new", "TLS_server_method", "OPENSSL_init_ssl", "SSL_CTX_use_PrivateKey_file",
    "SSL_CTX_use_certificate_file", "SSL_CTX_set_default_passwd_cb", "SSL_CTX_free",
    "SSL_CTX_use_certificate_chain_file", "TLS_client_method", "SSL_pending", "SSL_CTX_set_verify", "SSL_shutdown",
    "SSL_CTX_load_verify_locations", "SSL_CTX_set_default_verify_paths", "SSL_CTX_set_verify_depth",
    "SSL_get_peer_certificate", "SSL_get_version", "SSL_get_current_cipher", "SSL_CIPHER_get_name",
    "SSL_CTX_check_private_key", "SSL_CTX_set_session_id_context", "SSL_CTX_ctrl", "SSL_CTX_set_cipher_list",
    "SSL_CTX_set_options", "SSL_CTX_set_info_callback", "SSL_get_ex_data", "SSL_set_ex_data",
    "SSL_CTX_callback_ctrl", "SSL_get_servername", "SSL_set_SSL_CTX", "SSL_ctrl", "SSL_CTX_set_alpn_protos",
    "SSL_CTX_set_alpn_select_cb", "SSL_CTX_set_next_protos_advertised_cb", "SSL_CTX_set_timeout"};
const char* const kCivetwebCrypto[] = {
    "ERR_get_error", "ERR_error_string", "CONF_modules_unload", "X509_free", "X509_get_subject_name",
    "X509_get_issuer_name", "X509_NAME_oneline", "X509_get_serialNumber", "EVP_get_digestbyname", "EVP_Digest",
    "i2d_X509", "BN_bn2hex", "ASN1_INTEGER_to_BN", "BN_free", "CRYPTO_free", "ERR_clear_error"};

TEST(CivetwebOpenssl, EveryNameCivetwebLooksUpResolvesThroughItsLibraryNames) {
  std::string error;
  ASSERT_TRUE(load_openssl_for_civetweb(&error)) << error;
  ASSERT_TRUE(load_openssl_for_civetweb(&error)) << error;  // once is enough; again is harmless
  // What civetweb's dlopen() gets: the shims, even where libssl-dev is installed.
  void* ssl = dlopen("libssl.so", RTLD_LAZY);
  void* crypto = dlopen("libcrypto.so", RTLD_LAZY);
  ASSERT_NE(ssl, nullptr);
  ASSERT_NE(crypto, nullptr);
  for (const char* name : kCivetwebSsl) EXPECT_NE(dlsym(ssl, name), nullptr) << name;
  for (const char* name : kCivetwebCrypto) EXPECT_NE(dlsym(crypto, name), nullptr) << name;
  // The forward is libssl3's own function, not a copy.
  EXPECT_NE(dlsym(ssl, "SSL_get_peer_certificate"), dlsym(ssl, "SSL_get1_peer_certificate"));
  EXPECT_EQ(dlsym(ssl, "SSL_new"), reinterpret_cast<void*>(&SSL_new));  // the copy the exporter links
}

}  // namespace
}  // namespace aster
