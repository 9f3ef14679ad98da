// SPDX-License-Identifier: Apache-2.0
#include "web/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <map>
#include <vector>

namespace aster {
namespace {

const unsigned char kSessionContext[] = "aster-exporter";

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "no detail from OpenSSL";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// RequestClientCert and RequireAnyClientCert ask for a certificate but do
// not verify it, as Go's tls.Config does for them.
int accept_any_certificate(int, X509_STORE_CTX*) { return 1; }

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

bool use_inline_chain(SSL_CTX* ctx, const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (!leaf) return false;
  bool ok = SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  while (ok) {
    X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (!extra) break;
    ok = SSL_CTX_add0_chain_cert(ctx, extra) == 1;
  }
  ERR_clear_error();  // the end of the PEM text
  return ok;
}

bool use_inline_key(SSL_CTX* ctx, const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!key) return false;
  bool ok = SSL_CTX_use_PrivateKey(ctx, key) == 1;
  EVP_PKEY_free(key);
  return ok;
}

bool use_inline_cas(SSL_CTX* ctx, const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  int n = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    SSL_CTX_add_client_CA(ctx, ca);
    X509_free(ca);
    ++n;
  }
  ERR_clear_error();
  return n > 0;
}

// cipher_suites in Go's names (IANA's, plus Go's short CHACHA20 aliases)
// as an OpenSSL cipher list for TLS 1.2 and below, the versions the list
// governs in Go too. Empty with `error` for a name OpenSSL does not have.
std::string openssl_cipher_list(const std::vector<std::string>& go_names, std::string* error) {
  SslCtxPtr all(SSL_CTX_new(TLS_server_method()));
  if (!all || SSL_CTX_set_cipher_list(all.get(), "ALL:@SECLEVEL=0") != 1) {
    *error = "cannot list OpenSSL's ciphers: " + openssl_error();
    return "";
  }
  std::map<std::string, std::string> by_iana;
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(all.get());
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    const char* iana = SSL_CIPHER_standard_name(c);
    if (iana) by_iana[iana] = SSL_CIPHER_get_name(c);
  }
  std::string list;
  for (std::string name : go_names) {
    if (name.rfind("TLS_AES_", 0) == 0 || name.rfind("TLS_CHACHA20_", 0) == 0) {
      *error = "cipher_suites: '" + name + "' is a TLS 1.3 suite; those are not configurable (as in Go): list "
               "TLS 1.2 suites only";
      return "";
    }
    if (name.size() > 17 && name.compare(name.size() - 17, 17, "CHACHA20_POLY1305") == 0) name += "_SHA256";
    auto it = by_iana.find(name);
    if (it == by_iana.end()) {
      *error = "cipher_suites: unknown cipher suite '" + name + "' (Go's names, e.g. "
               "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)";
      return "";
    }
    list += (list.empty() ? "" : ":") + it->second;
  }
  return list;
}

// curve_preferences in Go's names as an OpenSSL groups list.
std::string openssl_groups(const std::vector<std::string>& go_names) {
  static const std::map<std::string, std::string> groups = {
      {"CurveP256", "P-256"}, {"CurveP384", "P-384"}, {"CurveP521", "P-521"}, {"X25519", "X25519"}};
  std::string list;
  for (const auto& n : go_names) list += (list.empty() ? "" : ":") + groups.at(n);  // names checked by the parser
  return list;
}

}  // namespace

SslCtxPtr build_tls_context(const TlsServerConfig& c, std::string* error) {
  const std::string p = "tls_server_config.";
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    *error = "cannot create a TLS context: " + openssl_error();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), c.min_version);
  SSL_CTX_set_max_proto_version(ctx.get(), c.max_version);
  if (c.min_version < TLS1_2_VERSION) SSL_CTX_set_security_level(ctx.get(), 0);  // OpenSSL 3 refuses TLS 1.0/1.1 at level 1
  // No resumption: every handshake is checked against the config as it is
  // now (Prometheus keeps its connection open, so this costs little).
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | (c.prefer_server_cipher_suites ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof(kSessionContext) - 1);
  if (!c.cipher_suites.empty()) {
    std::string list = openssl_cipher_list(c.cipher_suites, error);
    if (list.empty() || SSL_CTX_set_cipher_list(ctx.get(), list.c_str()) != 1) {
      if (!list.empty()) *error = "cipher_suites: OpenSSL refused " + list + ": " + openssl_error();
      *error = p + *error;
      return nullptr;
    }
  }
  if (!c.curve_preferences.empty() &&
      SSL_CTX_set1_groups_list(ctx.get(), openssl_groups(c.curve_preferences).c_str()) != 1) {
    *error = p + "curve_preferences: OpenSSL refused them: " + openssl_error();
    return nullptr;
  }
  if (!c.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.cert_file.c_str()) != 1) {
      *error = p + "cert_file: cannot load " + c.cert_file + ": " + openssl_error();
      return nullptr;
    }
  } else if (!use_inline_chain(ctx.get(), c.cert_pem)) {
    *error = p + "cert: not a PEM certificate: " + openssl_error();
    return nullptr;
  }
  if (!c.key_file.empty()) {
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), c.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      *error = ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH
                   ? p + "key_file: the key does not match the certificate in cert_file (" + c.key_file + ")"
                   : p + "key_file: cannot load " + c.key_file + ": " + openssl_error();
      ERR_clear_error();
      return nullptr;
    }
  } else if (!use_inline_key(ctx.get(), c.key_pem)) {
    *error = p + "key: not a PEM private key: " + openssl_error();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    *error = p + (c.key_file.empty() ? "key" : "key_file") + ": the key does not match the certificate: " +
             openssl_error();
    return nullptr;
  }
  if (!c.client_ca_file.empty()) {
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(c.client_ca_file.c_str());
    if (!names || SSL_CTX_load_verify_locations(ctx.get(), c.client_ca_file.c_str(), nullptr) != 1) {
      if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
      *error = p + "client_ca_file: cannot load " + c.client_ca_file + ": " + openssl_error();
      return nullptr;
    }
    SSL_CTX_set_client_CA_list(ctx.get(), names);
  } else if (!c.client_ca_pem.empty() && !use_inline_cas(ctx.get(), c.client_ca_pem)) {
    *error = p + "client_ca: no PEM certificate in it";
    return nullptr;
  }
  int mode = SSL_VERIFY_NONE;
  bool verify = true;
  switch (c.client_auth) {
    case ClientAuth::kNone: break;
    case ClientAuth::kRequest: mode = SSL_VERIFY_PEER, verify = false; break;
    case ClientAuth::kRequireAny: mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify = false; break;
    case ClientAuth::kVerifyIfGiven: mode = SSL_VERIFY_PEER; break;
    case ClientAuth::kRequireAndVerify: mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT; break;
  }
  SSL_CTX_set_verify(ctx.get(), mode, verify ? nullptr : accept_any_certificate);
  return ctx;
}

void adopt_tls_context(SSL* ssl, SSL_CTX* ctx, const TlsServerConfig& c) {
  SSL_set_SSL_CTX(ssl, ctx);  // certificate, key and the CA store
  // What SSL_new copied from the base context is set again from this one.
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
  SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
  SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx));
  SSL_set_options(ssl, SSL_CTX_get_options(ctx));
  SSL_set_security_level(ssl, SSL_CTX_get_security_level(ctx));
  if (!c.cipher_suites.empty()) {
    // The TLS 1.2 suites as the context has them (TLS 1.3's stay all on).
    std::string list;
    STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx);
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
      const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
      if (std::string(SSL_CIPHER_get_version(cipher)) != "TLSv1.3") list += (list.empty() ? "" : ":") + std::string(SSL_CIPHER_get_name(cipher));
    }
    SSL_set_cipher_list(ssl, list.c_str());
  }
  if (!c.curve_preferences.empty()) SSL_set1_groups_list(ssl, openssl_groups(c.curve_preferences).c_str());
  STACK_OF(X509_NAME)* cas = SSL_CTX_get_client_CA_list(ctx);
  SSL_set_client_CA_list(ssl, cas ? SSL_dup_CA_list(cas) : nullptr);
}

}  // namespace aster
