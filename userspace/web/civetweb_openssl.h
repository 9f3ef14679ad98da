// SPDX-License-Identifier: Apache-2.0
// OpenSSL 3 for Debian 12's libcivetweb 1.15, which links no libssl: on
// the first TLS port it dlopen()s "libssl.so" and "libcrypto.so" (names
// only libssl-dev installs) and looks its functions up by name with the
// OpenSSL 1.1 API's names. libssl3 lacks one of them,
// SSL_get_peer_certificate, and this civetweb build calls it through the
// null pointer after every TLS handshake (Debian's own civetweb binary
// crashes the same way).
//
// The exporter ships two small libraries (civetweb_openssl3/) whose
// SONAMEs are "libssl.so" and "libcrypto.so" and which depend on
// libssl.so.3 and libcrypto.so.3. Loaded by absolute path before civetweb
// starts, they are what the dynamic loader returns for civetweb's
// dlopen("libssl.so") (an object already loaded is matched by SONAME
// before any search of the disk), so civetweb finds every name: the
// missing one in the shim, forwarding to SSL_get1_peer_certificate, and
// all others in libssl.so.3 and libcrypto.so.3, the very copies the
// exporter links (its SSL_CTX and civetweb's SSL objects are one
// library's). Nothing from libssl-dev is needed at run time.
#pragma once

#include <string>

namespace aster {

// Loads both shims (once; they stay loaded). False with `error` saying
// which file is missing and where it was looked for.
bool load_openssl_for_civetweb(std::string* error);

}  // namespace aster
