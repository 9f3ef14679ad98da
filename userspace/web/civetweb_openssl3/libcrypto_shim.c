/* SPDX-License-Identifier: Apache-2.0 */
/* Built as libaster-civetweb-crypto.so with SONAME "libcrypto.so" and a
 * DT_NEEDED on libcrypto.so.3: it defines nothing. Debian 12's libcivetweb
 * dlopen()s "libcrypto.so", a name only libssl-dev installs; once this
 * object is loaded the dynamic loader answers that name with it, and every
 * function civetweb looks up is found in libcrypto.so.3 behind it (see
 * civetweb_openssl.h). */
