// SPDX-License-Identifier: Apache-2.0
#include "capture/tls_libraries.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "capture/elf_symbols.h"
#include "capture/go_tls_binary.h"
#include "capture/preflight.h"
#include "model/event_layout.h"
#include "model/log.h"
#include "targets/mapped_files.h"

namespace aster {

struct TlsLibraryProbes::Probe {
  const char* func;
  bpf_program* prog;
  bool ret;
  uint64_t cookie;
  bool required;
};

struct TlsLibraryProbes::Library {
  // kBuiltIn: the process's own executable, when it defines SSL_write and
  // BIO_write itself (OpenSSL linked in statically): kTls and kCrypto in one.
  enum class Role { kCrypto, kTls, kBuiltIn, kLoader };
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
// libcrypto is listed first: a scan probes it before libssl, so once
// libssl counts as probed, a memory-BIO user's sessions bind too.
const TlsLibraryProbes::Library kKnownLibraries[] = {
    {"OpenSSL libcrypto", "libcrypto.so", TlsLibraryProbes::Library::Role::kCrypto},
    {"OpenSSL libssl", "libssl.so", TlsLibraryProbes::Library::Role::kTls},
    // glibc's ld-linux-x86-64.so.2 (and ld-linux-aarch64.so.1, musl's ld-musl-*)
    {"dynamic loader", "ld-", TlsLibraryProbes::Library::Role::kLoader},
};

// BPF_LINK_CREATE for a uprobe_multi link. Debian 12's <linux/bpf.h> (6.1)
// predates it, so its part of union bpf_attr is spelled out here, as the
// kernel's uapi header has it (link_create: four __u32, then the union).
constexpr uint32_t kBpfTraceUprobeMulti = 48;     // enum bpf_attach_type
constexpr uint32_t kBpfFUprobeMultiReturn = 1u;   // uprobe_multi.flags
struct UprobeMultiAttr {
  uint32_t prog_fd, target_fd, attach_type, flags;
  uint64_t path, offsets, ref_ctr_offsets, cookies;
  uint32_t cnt, multi_flags, pid;
  uint32_t pad;
};

int create_uprobe_multi(int prog_fd, const std::string& path, const std::vector<uint64_t>& offsets,
                        const std::vector<uint64_t>& cookies, bool ret) {
  UprobeMultiAttr a{};
  a.prog_fd = static_cast<uint32_t>(prog_fd);
  a.attach_type = kBpfTraceUprobeMulti;
  a.path = reinterpret_cast<uint64_t>(path.c_str());
  a.offsets = reinterpret_cast<uint64_t>(offsets.data());
  a.cookies = reinterpret_cast<uint64_t>(cookies.data());
  a.cnt = static_cast<uint32_t>(offsets.size());
  a.multi_flags = ret ? kBpfFUprobeMultiReturn : 0;
  return static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof a));
}

const TlsLibraryProbes::Library kBuiltInOpenSsl = {"executable with OpenSSL built in", "",
                                                   TlsLibraryProbes::Library::Role::kBuiltIn};

// The path of the process's main executable as its maps show it, or "".
std::string executable_path(pid_t pid) {
  char buf[4096];
  std::string link = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// True when the file open as `fd` defines OpenSSL's SSL_write and
// BIO_write in its dynamic symbols (a NodeSource node exports them).
bool defines_openssl(int fd) {
  std::vector<uint64_t> offsets;
  std::string error;
  return function_file_offsets(fd, {"SSL_write", "BIO_write"}, &offsets, &error) && offsets[0] && offsets[1];
}

}  // namespace

uint32_t uprobe_multi_attach_type() { return kBpfTraceUprobeMulti; }

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
  for (int fd : link_fds_) close(fd);
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
  // Started before main() drops the capabilities it no longer needs; it
  // needs no more than the rest (CAP_PERFMON and CAP_BPF attach uprobes,
  // CAP_SYS_PTRACE opens /proc/PID/root).
  drop_unneeded_capabilities(/*quiet=*/true);
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
  const std::vector<MappedFile> files = read_mapped_files(pid);
  const std::string exe = executable_path(pid);
  // Libraries in table order (libcrypto before libssl), then the executable.
  std::vector<std::pair<const Library*, const MappedFile*>> todo;
  for (const Library& l : kKnownLibraries) {
    for (const MappedFile& f : files) {
      if (basename_starts_with(f.path, l.name_prefix)) todo.push_back({&l, &f});
    }
  }
  for (const MappedFile& f : files) {
    if (!exe.empty() && f.path == exe) todo.push_back({&kBuiltInOpenSsl, &f});
  }
  // Go's crypto/tls is linked into the executable itself.
  for (const MappedFile& f : files) {
    if (programs_.go_enter && !exe.empty() && f.path == exe) {
      scan_go(pid, f);
      break;
    }
  }
  for (const auto& [lib, fp] : todo) {
    const MappedFile& f = *fp;
    uint64_t dev = (static_cast<uint64_t>(f.dev_major) << 32) | f.dev_minor;
    if (!files_done_.insert({dev, f.inode}).second) continue;
    std::string error;
    int fd = open_mapped_file(pid, f, &error);
    if (fd < 0) {
      // Not remembered as done: another process may show the same file.
      files_done_.erase({dev, f.inode});
      if (lib->role != Library::Role::kBuiltIn) LOG_WARN("cannot probe the %s of pid %d: %s", lib->what, pid, error.c_str());
      continue;
    }
    if (lib->role == Library::Role::kBuiltIn && !defines_openssl(fd)) {
      close(fd);  // most executables: remembered as done, not read again
      continue;
    }
    std::string shown = f.path + " (pid " + std::to_string(pid) + ")";
    if (attach(*lib, fd, shown)) {
      if (lib->role == Library::Role::kTls || lib->role == Library::Role::kBuiltIn) {
        probed_.fetch_add(1, std::memory_order_relaxed);
      }
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
  std::vector<Probe> probes;
  const bool ssl = lib.role == Library::Role::kTls || lib.role == Library::Role::kBuiltIn;
  const bool crypto = lib.role == Library::Role::kCrypto || lib.role == Library::Role::kBuiltIn;
  if (ssl) {
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
  }
  if (crypto) {
    // The records OpenSSL writes into a BIO (OpenSSL 3.0's record layer
    // calls BIO_write; BIO_write_ex does not call it, so each fires once).
    probes.push_back({"BIO_write", programs_.bio_write, false, 0, true});
    probes.push_back({"BIO_write_ex", programs_.bio_write, false, 0, false});
  }
  if (lib.role == Library::Role::kLoader) probes = {{"_dl_debug_state", programs_.libs_changed, false, 0, true}};
  if (programs_.multi) return attach_multi(probes, fd, shown_path, lib.what);
  return attach_perf(probes, nullptr, path, shown_path, lib.what);
}

bool TlsLibraryProbes::attach_perf(const std::vector<Probe>& probes, const std::vector<uint64_t>* offsets,
                                   const std::string& path, const std::string& shown_path, const char* what) {
  std::vector<bpf_link*> made;
  for (size_t i = 0; i < probes.size(); ++i) {
    const Probe& p = probes[i];
    // By name (libbpf resolves it), or at the offset given.
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = p.cookie, .retprobe = p.ret,
                .func_name = offsets ? nullptr : p.func);
    bpf_link* link = bpf_program__attach_uprobe_opts(p.prog, -1, path.c_str(), offsets ? (*offsets)[i] : 0, &opts);
    if (!link) {
      int e = errno;
      if (!p.required) continue;  // an older library without the _ex calls
      LOG_WARN("cannot probe %s in %s (%s): %s%s", p.func, shown_path.c_str(), what, strerror(e),
               e == EACCES ? " (on kernels before 6.6 uprobes need CAP_SYS_ADMIN)" : "");
      for (bpf_link* l : made) bpf_link__destroy(l);
      return false;
    }
    made.push_back(link);
  }
  links_.insert(links_.end(), made.begin(), made.end());
  return true;
}

}  // namespace aster

namespace aster {

bool TlsLibraryProbes::attach_multi(const std::vector<Probe>& probes, int fd, const std::string& shown_path,
                                    const char* what) {
  std::vector<std::string> names;
  for (const Probe& p : probes) names.push_back(p.func);
  std::vector<uint64_t> offsets;
  std::string error;
  if (!function_file_offsets(fd, names, &offsets, &error)) {
    LOG_WARN("cannot probe %s (%s): %s", shown_path.c_str(), what, error.c_str());
    return false;
  }
  for (size_t i = 0; i < probes.size(); ++i) {
    if (!offsets[i] && probes[i].required) {
      LOG_WARN("cannot probe %s (%s): it does not define %s", shown_path.c_str(), what, probes[i].func);
      return false;
    }
  }
  return attach_multi_at(probes, offsets, fd, shown_path, what);
}

bool TlsLibraryProbes::attach_multi_at(const std::vector<Probe>& probes, const std::vector<uint64_t>& offsets,
                                       int fd, const std::string& shown_path, const char* what) {
  // One link per program and kind (entry or return), over every function.
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  std::vector<int> made;
  std::vector<bool> done(probes.size(), false);
  for (size_t i = 0; i < probes.size(); ++i) {
    if (done[i]) continue;
    std::vector<uint64_t> offs, cookies;
    for (size_t j = i; j < probes.size(); ++j) {
      if (probes[j].prog != probes[i].prog || probes[j].ret != probes[i].ret) continue;
      done[j] = true;
      if (!offsets[j]) continue;  // an older library without the _ex calls
      offs.push_back(offsets[j]);
      cookies.push_back(probes[j].cookie);
    }
    int link = create_uprobe_multi(bpf_program__fd(probes[i].prog), path, offs, cookies, probes[i].ret);
    if (link < 0) {
      int e = errno;
      LOG_WARN("cannot probe %s in %s (%s): %s", probes[i].func, shown_path.c_str(), what, strerror(e));
      for (int l : made) close(l);
      return false;
    }
    made.push_back(link);
  }
  link_fds_.insert(link_fds_.end(), made.begin(), made.end());
  return true;
}

// The budget of one Go binary's DWARF walk: a binary this slow to read is
// not probed (logged, counted failed) rather than hold up the worker that
// probes every other process's libraries.
constexpr std::chrono::milliseconds kGoDwarfBudget{3000};
constexpr size_t kMaxGoBuilds = 256;  // layouts kept (each a few hundred bytes)

void TlsLibraryProbes::scan_go(pid_t pid, const MappedFile& f) {
  uint64_t dev = (static_cast<uint64_t>(f.dev_major) << 32) | f.dev_minor;
  auto key = std::make_pair(dev, f.inode);
  auto it = go_files_.find(key);
  bool probed_now = false;
  if (it == go_files_.end()) {
    std::string error;
    int fd = open_mapped_file(pid, f, &error);
    if (fd < 0) return;  // gone, or another file now: looked at again next time
    std::shared_ptr<const GoTlsLayout> layout;
    std::string shown = f.path + " (pid " + std::to_string(pid) + ")";
    if (is_go_executable(fd)) {
      auto g = inspect_go_tls(fd, kGoDwarfBudget, &error);
      if (g) {
        auto cached = go_builds_.find(g->build_id);
        if (!g->build_id.empty() && cached != go_builds_.end()) {
          layout = cached->second;
        } else {
          layout = std::make_shared<GoTlsLayout>(*g);
          if (!g->build_id.empty() && go_builds_.size() < kMaxGoBuilds) go_builds_.emplace(g->build_id, layout);
        }
        if (attach_go(*layout, fd, shown)) {
          probed_now = true;
          if (programs_.go_binaries) __atomic_add_fetch(programs_.go_binaries, 1, __ATOMIC_RELAXED);
          LOG_INFO("probing Go crypto/tls in %s (%zu returns of Read)", shown.c_str(), layout->read_returns.size());
        } else {
          layout = nullptr;
          go_failed_.fetch_add(1, std::memory_order_relaxed);
        }
      } else if (!error.empty()) {
        go_failed_.fetch_add(1, std::memory_order_relaxed);
        LOG_WARN("cannot probe Go crypto/tls in %s: %s; its HTTPS counts as not_http", shown.c_str(),
                 error.c_str());
      }
    }
    close(fd);
    it = go_files_.emplace(key, layout).first;
  }
  if (!it->second) return;
  const GoTlsLayout& g = *it->second;
  std::optional<uint64_t> bias = go_tls_load_bias(g, f.first_start, f.first_offset);
  if (!bias) {
    // Its probes are on the file (they fire wherever it is loaded), but its
    // tls.Conns cannot be told to hold a TCP socket: every call is skipped.
    go_failed_.fetch_add(1, std::memory_order_relaxed);
    LOG_WARN("cannot find where process %d loaded %s (first mapping at file offset %#llx): its Go HTTPS is not read",
             pid, f.path.c_str(), static_cast<unsigned long long>(f.first_offset));
    return;
  }
  aster_go_tls_proc proc{};
  proc.tcpconn_itab = g.tcpconn_itab + *bias;
  proc.conn_off = static_cast<uint16_t>(g.conn_off);
  proc.tcpconn_fd_off = static_cast<uint16_t>(g.tcpconn_fd_off);
  proc.netfd_sysfd_off = static_cast<uint16_t>(g.netfd_sysfd_off);
  uint32_t tgid = static_cast<uint32_t>(pid);
  if (bpf_map_update_elem(programs_.go_procs_fd, &tgid, &proc, BPF_ANY) != 0) {
    LOG_WARN("cannot note Go process %d for the TLS probes: %s", pid, strerror(errno));
  }
  // Counted once the first process's entry is in: what the gauge says is
  // probed is read from then on.
  if (probed_now) go_probed_.fetch_add(1, std::memory_order_relaxed);
}

bool TlsLibraryProbes::attach_go(const GoTlsLayout& g, int fd, const std::string& shown_path) {
  const char* what = "Go crypto/tls";
  std::vector<Probe> probes = {
      {"crypto/tls.(*Conn).Read", programs_.go_enter, false, ASTER_GO_TLS_READ, true},
      {"crypto/tls.(*Conn).Write", programs_.go_enter, false, ASTER_GO_TLS_WRITE, true},
      {"crypto/tls.(*Conn).serverHandshake", programs_.go_enter, false, ASTER_GO_TLS_HANDSHAKE, true},
      {"crypto/tls.(*Conn).clientHandshake", programs_.go_enter, false, ASTER_GO_TLS_HANDSHAKE, true},
  };
  std::vector<uint64_t> offsets = {g.read, g.write, g.server_handshake, g.client_handshake};
  for (uint64_t ret : g.read_returns) {
    // A uprobe at the instruction, not a uretprobe (see go_tls_probes.bpf.h).
    probes.push_back({"a RET of crypto/tls.(*Conn).Read", programs_.go_read_return, false, 0, true});
    offsets.push_back(ret);
  }
  if (programs_.multi) return attach_multi_at(probes, offsets, fd, shown_path, what);
  return attach_perf(probes, &offsets, "/proc/self/fd/" + std::to_string(fd), shown_path, what);
}

}  // namespace aster
