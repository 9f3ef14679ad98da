// SPDX-License-Identifier: Apache-2.0
#include "web/civetweb_openssl.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <mutex>
#include <vector>

namespace aster {
namespace {

// Where the shims sit beside the executable: the build tree puts them next
// to it; an install (the .deb, the image) in <prefix>/lib/aster-exporter.
std::vector<std::string> shim_dirs() {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return {ASTER_SHIM_INSTALL_DIR};
  std::string dir(exe, static_cast<size_t>(n));
  dir.resize(dir.rfind('/'));
  return {dir, dir + "/../lib/aster-exporter", ASTER_SHIM_INSTALL_DIR};
}

bool load(const char* file, const char* soname, std::string* error) {
  std::string tried;
  for (const auto& dir : shim_dirs()) {
    std::string path = dir + "/" + file;
    if (access(path.c_str(), R_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    // Never closed: civetweb keeps pointers into what is behind it.
    void* shim = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!shim) {
      *error = std::string("cannot load ") + path + ": " + dlerror() + "; reinstall aster-exporter";
      return false;
    }
    // The loader must now answer civetweb's name with this object.
    void* same = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (same != shim) {
      *error = path + " is loaded but does not answer dlopen(\"" + soname + "\"); civetweb would not find OpenSSL";
      return false;
    }
    return true;
  }
  *error = std::string("TLS needs ") + file + " (OpenSSL 3 for civetweb, shipped with aster-exporter); not found at " +
           tried + "; reinstall aster-exporter or keep it beside the binary";
  return false;
}

}  // namespace

bool load_openssl_for_civetweb(std::string* error) {
  static std::mutex mu;
  static bool loaded = false;
  std::lock_guard<std::mutex> lock(mu);
  if (loaded) return true;
  // libcrypto first: civetweb loads it first, and libssl's shim needs it.
  if (!load("libaster-civetweb-crypto.so", "libcrypto.so", error)) return false;
  if (!load("libaster-civetweb-ssl.so", "libssl.so", error)) return false;
  loaded = true;
  return true;
}

}  // namespace aster
