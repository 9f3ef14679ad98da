// SPDX-License-Identifier: Apache-2.0
// OpenSSL server contexts from tls_server_config. civetweb is handed one
// base context (its external_ssl_ctx callback) whose ClientHello callback
// moves each handshake onto the context built from the web config as it
// is now, so a rotated certificate or CA is used from the next handshake
// on, without a restart.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "web/web_config.h"

namespace aster {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// Null with `error` naming the key whose file or value is unusable.
SslCtxPtr build_tls_context(const TlsServerConfig& c, std::string* error);

// Called from the ClientHello callback: the handshake of `ssl` goes on
// with `ctx`'s certificate, client verification, versions, cipher suites
// and curves (`c` is what `ctx` was built from).
void adopt_tls_context(SSL* ssl, SSL_CTX* ctx, const TlsServerConfig& c);

}  // namespace aster
