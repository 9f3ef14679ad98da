// SPDX-License-Identifier: Apache-2.0
// Attaches the TLS uprobes (bpf/tls_probes.bpf.h) to the TLS libraries the
// watched processes map, once per library file: a uprobe on a file fires in
// every process that maps it, and the programs turn away unwatched ones.
// The dynamic loader of each watched process gets a probe on
// _dl_debug_state too, so a library loaded later (dlopen, Python's
// `import ssl`) is found when it is loaded, not at the next rescan.
//
// Each kind of TLS library is one entry of a table (tls_libraries.cc): how
// its file is recognised and which functions get which program. OpenSSL's
// libssl is the first; Go's crypto/tls and libraries with their own I/O
// (memory BIOs) plug in as other entries.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct bpf_link;
struct bpf_program;

namespace aster {

struct TlsPrograms {
  bpf_program* io_enter = nullptr;
  bpf_program* io_return = nullptr;
  bpf_program* handshake_enter = nullptr;
  bpf_program* handshake_return = nullptr;
  bpf_program* libs_changed = nullptr;
  bpf_program* bio_write = nullptr;  // memory-BIO users' records (tls_probes.bpf.h)
  // The programs were loaded for uprobe_multi links (kernel >= 6.6), which
  // CAP_BPF and CAP_PERFMON may create; otherwise each probe is a perf
  // event, which the kernel grants only with CAP_SYS_ADMIN.
  bool multi = false;
};

// The expected attach type the uprobe programs are loaded with for
// uprobe_multi links (BPF_TRACE_UPROBE_MULTI).
uint32_t uprobe_multi_attach_type();

class TlsLibraryProbes {
 public:
  explicit TlsLibraryProbes(TlsPrograms programs);
  ~TlsLibraryProbes();  // stops the worker, detaches every probe
  TlsLibraryProbes(const TlsLibraryProbes&) = delete;
  TlsLibraryProbes& operator=(const TlsLibraryProbes&) = delete;

  // Look at this process's libraries soon (from any thread; never blocks on
  // the attaching, which reads ELF files and takes milliseconds).
  void request(pid_t pid);
  // For tests and start-up: returns once every request made so far is done.
  void wait_idle();

  uint64_t libraries_probed() const { return probed_.load(std::memory_order_relaxed); }
  uint64_t libraries_failed() const { return failed_.load(std::memory_order_relaxed); }

  struct Library;  // one entry of the table of known libraries
  struct Probe;    // a function of a library and the program it gets

 private:
  void run();
  void scan(pid_t pid);
  // Attaches every probe of `lib` to the file open as `fd`; false (logged)
  // when a function it needs is missing.
  bool attach(const Library& lib, int fd, const std::string& shown_path);
  bool attach_multi(const std::vector<Probe>& probes, int fd, const std::string& shown_path, const char* what);

  TlsPrograms programs_;
  std::set<std::pair<uint64_t, uint64_t>> files_done_;  // (device, inode): probed, or failed once
  std::vector<bpf_link*> links_;
  std::vector<int> link_fds_;  // uprobe_multi links
  std::atomic<uint64_t> probed_{0}, failed_{0};

  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::set<pid_t> pending_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace aster
