// SPDX-License-Identifier: Apache-2.0
#include "capture/tls_libraries.h"

#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "model/event_layout.h"
#include "model/log.h"
#include "targets/mapped_files.h"

namespace aster {

struct TlsLibraryProbes::Library {
  enum class Role { kTls, kLoader };
  const char* what;         // for logs
  const char* name_prefix;  // a mapped file whose basename starts with it
  Role role;
};

namespace {

bool basename_starts_with(const std::string& path, const char* prefix) {
  size_t slash = path.rfind('/');
  return path.compare(slash == std::string::npos ? 0 : slash + 1, strlen(prefix), prefix) == 0;
}

// The files probed. OpenSSL 3 and 1.1 alike export SSL_read/SSL_write
// (1.1.1 and 3 also the _ex variants, which Python's _ssl calls).
const TlsLibraryProbes::Library kKnownLibraries[] = {
    {"OpenSSL libssl", "libssl.so", TlsLibraryProbes::Library::Role::kTls},
    // glibc's ld-linux-x86-64.so.2 (and ld-linux-aarch64.so.1, musl's ld-musl-*)
    {"dynamic loader", "ld-", TlsLibraryProbes::Library::Role::kLoader},
};

}  // namespace

TlsLibraryProbes::TlsLibraryProbes(TlsPrograms programs) : programs_(programs) {
  worker_ = std::thread([this] { run(); });
}

TlsLibraryProbes::~TlsLibraryProbes() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
  for (bpf_link* l : links_) bpf_link__destroy(l);
}

void TlsLibraryProbes::request(pid_t pid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.insert(pid);
  }
  cv_.notify_one();
}

void TlsLibraryProbes::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return stop_ || (pending_.empty() && !busy_); });
}

void TlsLibraryProbes::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (stop_) break;
    // The loader reports a dlopen twice (adding, then consistent): requests
    // for one process coalesce while a scan runs.
    std::set<pid_t> todo;
    todo.swap(pending_);
    busy_ = true;
    lock.unlock();
    for (pid_t pid : todo) scan(pid);
    lock.lock();
    busy_ = false;
    idle_cv_.notify_all();
  }
  busy_ = false;
  idle_cv_.notify_all();
}

void TlsLibraryProbes::scan(pid_t pid) {
  for (const MappedFile& f : read_mapped_files(pid)) {
    const Library* lib = nullptr;
    for (const Library& l : kKnownLibraries) {
      if (basename_starts_with(f.path, l.name_prefix)) lib = &l;
    }
    if (!lib) continue;
    uint64_t dev = (static_cast<uint64_t>(f.dev_major) << 32) | f.dev_minor;
    if (!files_done_.insert({dev, f.inode}).second) continue;
    std::string error;
    int fd = open_mapped_file(pid, f, &error);
    if (fd < 0) {
      // Not remembered as done: another process may show the same file.
      files_done_.erase({dev, f.inode});
      LOG_WARN("cannot probe the %s of pid %d: %s", lib->what, pid, error.c_str());
      continue;
    }
    std::string shown = f.path + " (pid " + std::to_string(pid) + ")";
    if (attach(*lib, fd, shown)) {
      if (lib->role == Library::Role::kTls) probed_.fetch_add(1, std::memory_order_relaxed);
      LOG_INFO("probing the %s %s", lib->what, shown.c_str());
    } else {
      failed_.fetch_add(1, std::memory_order_relaxed);
    }
    close(fd);
  }
}

bool TlsLibraryProbes::attach(const Library& lib, int fd, const std::string& shown_path) {
  // The probes are attached through the descriptor checked above, so they
  // land on that very file whatever its path names now.
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  struct Probe {
    const char* func;
    bpf_program* prog;
    bool ret;
    uint64_t cookie;
    bool required;
  };
  std::vector<Probe> probes;
  if (lib.role == Library::Role::kTls) {
    probes = {
        {"SSL_read", programs_.io_enter, false, 0, true},
        {"SSL_read", programs_.io_return, true, 0, true},
        {"SSL_write", programs_.io_enter, false, ASTER_TLS_COOKIE_WRITE, true},
        {"SSL_write", programs_.io_return, true, 0, true},
        {"SSL_read_ex", programs_.io_enter, false, ASTER_TLS_COOKIE_EX, false},
        {"SSL_read_ex", programs_.io_return, true, 0, false},
        {"SSL_write_ex", programs_.io_enter, false, ASTER_TLS_COOKIE_WRITE | ASTER_TLS_COOKIE_EX, false},
        {"SSL_write_ex", programs_.io_return, true, 0, false},
        {"SSL_do_handshake", programs_.handshake_enter, false, 0, true},
        {"SSL_do_handshake", programs_.handshake_return, true, 0, true},
    };
  } else {
    probes = {{"_dl_debug_state", programs_.libs_changed, false, 0, true}};
  }
  std::vector<bpf_link*> made;
  for (const Probe& p : probes) {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = p.cookie, .retprobe = p.ret, .func_name = p.func);
    bpf_link* link = bpf_program__attach_uprobe_opts(p.prog, -1, path.c_str(), 0, &opts);
    if (!link) {
      int e = errno;
      if (!p.required) continue;  // an older library without the _ex calls
      LOG_WARN("cannot probe %s in %s (%s): %s", p.func, shown_path.c_str(), lib.what, strerror(e));
      for (bpf_link* l : made) bpf_link__destroy(l);
      return false;
    }
    made.push_back(link);
  }
  links_.insert(links_.end(), made.begin(), made.end());
  return true;
}

}  // namespace aster
