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
// libssl is the first; libraries with their own I/O (memory BIOs) plug in
// as other entries. Go's crypto/tls is linked into each Go executable: a
// watched process's executable is inspected for it (scan_go).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct bpf_link;
struct bpf_program;

namespace aster {

struct GoTlsLayout;
struct MappedFile;

struct TlsPrograms {
  bpf_program* io_enter = nullptr;
  bpf_program* io_return = nullptr;
  bpf_program* handshake_enter = nullptr;
  bpf_program* handshake_return = nullptr;
  bpf_program* libs_changed = nullptr;
  bpf_program* bio_write = nullptr;  // memory-BIO users' records (tls_probes.bpf.h)
  // Go crypto/tls (bpf/go_tls_probes.bpf.h): the entry program (cookie:
  // ASTER_GO_TLS_*), the program at Read's RETs, the per-process map of
  // where a tls.Conn keeps its socket, and the BPF global that turns the
  // socket programs' look-up of pending Go bindings on.
  bpf_program* go_enter = nullptr;
  bpf_program* go_read_return = nullptr;
  int go_procs_fd = -1;
  uint32_t* go_binaries = nullptr;
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
  // Go executables whose crypto/tls carries the uprobes, and those that
  // could not be probed (stripped, no DWARF, position-independent: logged).
  uint64_t go_binaries_probed() const { return go_probed_.load(std::memory_order_relaxed); }
  uint64_t go_binaries_failed() const { return go_failed_.load(std::memory_order_relaxed); }

  struct Library;  // one entry of the table of known libraries
  struct Probe;    // a function of a library and the program it gets

 private:
  void run();
  void scan(pid_t pid);
  // Attaches every probe of `lib` to the file open as `fd`; false (logged)
  // when a function it needs is missing.
  bool attach(const Library& lib, int fd, const std::string& shown_path);
  bool attach_multi(const std::vector<Probe>& probes, int fd, const std::string& shown_path, const char* what);
  // Perf-event uprobes (kernels before 6.6), by function name or, with
  // `offsets`, at offsets[i] for probes[i].
  bool attach_perf(const std::vector<Probe>& probes, const std::vector<uint64_t>* offsets, const std::string& path,
                   const std::string& shown_path, const char* what);
  // The same with the file offsets known (offsets[i] for probes[i]; 0: skip it).
  bool attach_multi_at(const std::vector<Probe>& probes, const std::vector<uint64_t>& offsets, int fd,
                       const std::string& shown_path, const char* what);
  // The Go executable of `pid` (mapped as `f`): inspected and probed once
  // per file, then this process's entry of the per-process map written.
  void scan_go(pid_t pid, const MappedFile& f);
  bool attach_go(const GoTlsLayout& g, int fd, const std::string& shown_path);

  TlsPrograms programs_;
  std::set<std::pair<uint64_t, uint64_t>> files_done_;  // (device, inode): probed, or failed once
  std::vector<bpf_link*> links_;
  std::vector<int> link_fds_;  // uprobe_multi links
  std::atomic<uint64_t> probed_{0}, failed_{0}, go_probed_{0}, go_failed_{0};
  // Go executables by (device, inode): their layout, or null (not Go with
  // crypto/tls, or not probeable). Layouts by Go build ID, so copies of one
  // build (containers) are inspected once.
  std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<const GoTlsLayout>> go_files_;
  std::map<std::string, std::shared_ptr<const GoTlsLayout>> go_builds_;

  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::set<pid_t> pending_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace aster
