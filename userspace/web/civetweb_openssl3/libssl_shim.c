/* SPDX-License-Identifier: Apache-2.0 */
/* Built as libaster-civetweb-ssl.so with SONAME "libssl.so" and a
 * DT_NEEDED on libssl.so.3 (see civetweb_openssl.h for why). Debian 12's
 * libcivetweb 1.15 was built for the OpenSSL 1.1 API: it dlopen()s
 * "libssl.so" and looks up each function by name, among them
 * SSL_get_peer_certificate, which OpenSSL 3 only has as a macro for
 * SSL_get1_peer_certificate. Every other name civetweb asks for is found
 * in libssl.so.3 through this object's dependencies. */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

/* Both return a reference the caller frees (civetweb calls X509_free). */
__attribute__((visibility("default"))) X509* SSL_get_peer_certificate(const SSL* ssl) {
  return SSL_get1_peer_certificate(ssl);
}
