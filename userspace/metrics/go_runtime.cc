// SPDX-License-Identifier: Apache-2.0
#include "metrics/go_runtime.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "capture/go_dwarf.h"
#include "metrics/metric_builder.h"
#include "targets/proc_reader.h"

namespace aster {
namespace {

constexpr size_t kMaxProcs = 4096;  // bound on the allp slice one scrape reads
// The runtime's page (_PageShift = 13 in runtime/malloc.go, the same on every
// platform and in every Go version so far; constants are not in DWARF).
constexpr uint64_t kGoPageBytes = 8192;

// RAII for an fd + libelf handle.
struct ElfFile {
  int fd = -1;
  Elf* elf = nullptr;
  explicit ElfFile(const std::string& path) {
    elf_version(EV_CURRENT);
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  }
  ~ElfFile() {
    if (elf) elf_end(elf);
    if (fd >= 0) close(fd);
  }
  Elf_Scn* section(const char* want) const {
    return elf_section(elf, want);
  }
};

bool read_uvarint(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    uint8_t b = *p++;
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

std::string version_from(const ElfFile& f) {
  Elf_Scn* s = f.section(".go.buildinfo");
  if (!s) return "";
  Elf_Data* d = elf_getdata(s, nullptr);
  if (!d || d->d_size < 48) return "";
  auto* p = static_cast<const uint8_t*>(d->d_buf);
  static const char kMagic[] = "\xff Go buildinf:";
  if (std::memcmp(p, kMagic, 14) != 0) return "";
  // Go >= 1.18 stores the version inline (flag bit 2) as a varint-prefixed
  // string at offset 32; older layouts keep pointers we do not chase.
  if (!(p[15] & 2)) return "go(unknown, pre-1.18)";
  const uint8_t* q = p + 32;
  const uint8_t* end = p + d->d_size;
  uint64_t len;
  if (!read_uvarint(q, end, &len) || len > 64 || q + len > end) return "";
  return std::string(reinterpret_cast<const char*>(q), len);
}

// Link-time addresses of the runtime variables we read.
void find_symbols(const ElfFile& f, GoLayout& g) {
  Elf_Scn* s = f.section(".symtab");
  if (!s) return;
  for_each_symbol(f.elf, s, [&](const char* name, const GElf_Sym& sym) {
    if (std::strncmp(name, "runtime.", 8) != 0) return;
    if (std::strcmp(name, "runtime.allglen") == 0) g.allglen = sym.st_value;
    else if (std::strcmp(name, "runtime.allp") == 0) g.allp = sym.st_value;
    else if (std::strcmp(name, "runtime.sched") == 0) g.sched = sym.st_value;
    else if (std::strcmp(name, "runtime.memstats") == 0) g.memstats = sym.st_value;
    else if (std::strcmp(name, "runtime.mheap_") == 0) g.mheap = sym.st_value;
  });
}

// Offset of an integer member that newer Go versions wrap in an atomic type
// (runtime/internal/atomic.Uint64 and friends: a struct whose `value` member
// holds it), plain in older ones.
int64_t counter_offset(Dwarf_Die* type, const char* member) {
  Dwarf_Die t;
  int64_t base = member_with_type(type, member, &t);
  if (base < 0 || dwarf_tag(&t) != DW_TAG_structure_type) return base;
  int64_t off = member_offset(&t, "value");
  return off < 0 ? -1 : base + off;
}

// Field offsets from DWARF: they change between Go versions, so nothing is
// hard-coded. Stops as soon as the four structs are found.
void find_offsets(const ElfFile& f, GoLayout& g) {
  Dwarf* dw = dwarf_begin_elf(f.elf, DWARF_C_READ, nullptr);
  if (!dw) return;
  bool have_p = false, have_sched = false, have_ms = false, have_mh = false;
  for_each_struct(dw, std::chrono::steady_clock::time_point::max(), [&](const char* name, Dwarf_Die* die) {
    if (!have_p && std::strcmp(name, "runtime.p") == 0) {
      g.p_gfree_n = nested_offset(die, "gFree", "n");
      have_p = true;
    } else if (!have_sched && std::strcmp(name, "runtime.schedt") == 0) {
      g.sched_ngsys = member_offset(die, "ngsys");
      g.sched_gfree_n = nested_offset(die, "gFree", "n");
      have_sched = true;
    } else if (!have_ms && std::strcmp(name, "runtime.mstats") == 0) {
      g.ms_numgc = member_offset(die, "numgc");
      g.ms_pause_total_ns = member_offset(die, "pause_total_ns");
      g.ms_pause_ns = member_offset(die, "pause_ns");
      have_ms = true;
    } else if (!have_mh && std::strcmp(name, "runtime.mheap") == 0) {
      g.mh_pages_in_use = counter_offset(die, "pagesInUse");
      have_mh = true;
    }
    return have_p && have_sched && have_ms && have_mh;
  });
  dwarf_end(dw);
}

void find_load_info(const ElfFile& f, GoLayout& g) {
  GElf_Ehdr eh;
  if (!gelf_getehdr(f.elf, &eh)) return;
  g.pie = eh.e_type == ET_DYN;
  size_t n;
  if (elf_getphdrnum(f.elf, &n) != 0) return;
  for (size_t i = 0; i < n; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(f.elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD) {
      g.first_load_vaddr = ph.p_vaddr & ~uint64_t(0xfff);
      return;
    }
  }
}

// Load bias of a position-independent executable: where its first mapping
// landed minus where the linker put it.
uint64_t load_bias(pid_t pid, const GoLayout& g) {
  if (!g.pie) return 0;
  char exe[4096];
  ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), exe, sizeof exe - 1);
  if (n <= 0) return 0;
  exe[n] = '\0';
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find(exe) == std::string::npos) continue;
    uint64_t start = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
    return start - g.first_load_vaddr;
  }
  return 0;
}

bool read_remote(pid_t pid, uint64_t addr, void* out, size_t len) {
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

}  // namespace

std::string read_go_version(const std::string& elf_path) {
  ElfFile f(elf_path);
  return f.elf ? version_from(f) : "";
}

std::optional<GoLayout> inspect_go_binary(const std::string& elf_path) {
  ElfFile f(elf_path);
  if (!f.elf) return std::nullopt;
  GoLayout g;
  g.version = version_from(f);
  if (g.version.empty()) return std::nullopt;
  find_symbols(f, g);
  find_offsets(f, g);
  find_load_info(f, g);
  return g;
}

GoSample sample_go_process(pid_t pid, const GoLayout& g) {
  GoSample s;
  uint64_t bias = load_bias(pid, g);
  if (g.can_count_goroutines()) {
    // The same arithmetic as runtime.gcount(); like it, a read racing with
    // the scheduler can be off by a goroutine or two.
    uint64_t allglen = 0, allp[3];  // allp is a slice: data, len, cap
    int32_t ngsys = 0, sched_free = 0;
    if (read_remote(pid, g.allglen + bias, &allglen, sizeof allglen) &&
        read_remote(pid, g.sched + bias + g.sched_ngsys, &ngsys, sizeof ngsys) &&
        read_remote(pid, g.sched + bias + g.sched_gfree_n, &sched_free, sizeof sched_free) &&
        read_remote(pid, g.allp + bias, allp, sizeof allp) && allp[1] <= kMaxProcs) {
      std::vector<uint64_t> ps(allp[1]);
      bool ok = ps.empty() || read_remote(pid, allp[0], ps.data(), ps.size() * sizeof(uint64_t));
      int64_t n = static_cast<int64_t>(allglen) - sched_free - ngsys;
      for (size_t i = 0; ok && i < ps.size(); ++i) {
        int32_t pfree = 0;
        ok = read_remote(pid, ps[i] + g.p_gfree_n, &pfree, sizeof pfree);
        n -= pfree;
      }
      if (ok) s.goroutines = std::max<int64_t>(1, n);
    }
  }
  if (g.can_read_gc()) {
    uint32_t numgc = 0;
    uint64_t total = 0;
    std::vector<uint64_t> ring(256);
    uint64_t ms = g.memstats + bias;
    if (read_remote(pid, ms + g.ms_numgc, &numgc, sizeof numgc) &&
        read_remote(pid, ms + g.ms_pause_total_ns, &total, sizeof total) &&
        read_remote(pid, ms + g.ms_pause_ns, ring.data(), ring.size() * sizeof(uint64_t))) {
      s.gc_cycles = numgc;
      s.gc_pause_total_ns = total;
      // pause_ns is a ring: the newest is at (numgc+255) % 256.
      size_t n = std::min<size_t>(numgc, 256);
      for (size_t i = 0; i < n; ++i) s.recent_pauses_ns.push_back(ring[(numgc + 255 - i) % 256]);
    }
  }
  if (g.can_read_heap()) {
    // One word the runtime updates atomically whenever a span is allocated
    // or freed, so a read never sees a torn or half-summed value (unlike
    // HeapAlloc, which lives in per-P caches until a stop-the-world).
    uint64_t pages = 0;
    if (read_remote(pid, g.mheap + bias + g.mh_pages_in_use, &pages, sizeof pages)) {
      s.heap_inuse_bytes = static_cast<int64_t>(pages * kGoPageBytes);
    }
  }
  return s;
}

std::shared_ptr<const GoLayout> GoRuntimeMetrics::layout_for(pid_t pid) const {
  std::string exe = "/proc/" + std::to_string(pid) + "/exe";
  struct stat st;
  if (stat(exe.c_str(), &st) != 0) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
  auto it = by_file_.find(key);
  if (it != by_file_.end()) return it->second;
  auto layout = inspect_go_binary(exe);
  std::shared_ptr<const GoLayout> p = layout ? std::make_shared<GoLayout>(*layout) : nullptr;
  by_file_.emplace(key, p);  // a null entry remembers "not Go"
  return p;
}

std::vector<prometheus::MetricFamily> GoRuntimeMetrics::Collect() const {
  using prometheus::MetricType;
  FamilyBuilder info("go_info", "Information about the Go environment of a watched service's binary.", MetricType::Gauge);
  FamilyBuilder goroutines("go_goroutines", "Number of goroutines that currently exist (runtime.NumGoroutine, summed over the service's processes).", MetricType::Gauge);
  FamilyBuilder threads("go_threads", "Number of OS threads (from /proc, summed over the service's processes).", MetricType::Gauge);
  FamilyBuilder heap("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use (the runtime's in-use spans: mheap_.pagesInUse x 8 KiB, summed over the service's processes).", MetricType::Gauge);
  prometheus::MetricFamily gc;
  gc.name = "go_gc_duration_seconds";
  gc.help = "A summary of the pause duration of garbage collection cycles (from the runtime's memstats).";
  gc.type = MetricType::Summary;

  // Per workload, labelled as its request series and process_* are.
  for (const auto& [labels, pids] : registry_.by_series_labels()) {
    auto with = [&labels = labels](const char* k, const std::string& v) {
      std::vector<std::pair<std::string, std::string>> l = labels;
      l.emplace_back(k, v);
      return l;
    };
    std::set<std::string> versions;
    int64_t total_g = 0, total_threads = 0, total_heap = 0;
    bool any = false, any_g = false, any_gc = false, any_heap = false;
    uint64_t cycles = 0, pause_total = 0;
    std::vector<uint64_t> pauses;
    for (pid_t pid : pids) {
      auto layout = layout_for(pid);
      if (!layout) continue;
      any = true;
      versions.insert(layout->version);
      if (auto st = read_proc_stat(pid)) total_threads += static_cast<int64_t>(st->threads);
      GoSample s = sample_go_process(pid, *layout);
      if (s.goroutines >= 0) {
        total_g += s.goroutines;
        any_g = true;
      }
      if (s.heap_inuse_bytes >= 0) {
        total_heap += s.heap_inuse_bytes;
        any_heap = true;
      }
      if (s.gc_cycles >= 0) {
        any_gc = true;
        cycles += static_cast<uint64_t>(s.gc_cycles);
        pause_total += s.gc_pause_total_ns;
        pauses.insert(pauses.end(), s.recent_pauses_ns.begin(), s.recent_pauses_ns.end());
      }
    }
    if (!any) continue;
    for (const auto& v : versions) info.add(1, with("version", v));
    threads.add(static_cast<double>(total_threads), labels);
    if (any_g) goroutines.add(static_cast<double>(total_g), labels);
    if (any_heap) heap.add(static_cast<double>(total_heap), labels);
    if (any_gc) {
      // Quantiles over the recent pauses, as client_golang computes them
      // from debug.ReadGCStats.
      std::sort(pauses.begin(), pauses.end());
      prometheus::ClientMetric m;
      for (const auto& [k, v] : labels) m.label.push_back({k, v});
      m.summary.sample_count = cycles;
      m.summary.sample_sum = static_cast<double>(pause_total) / 1e9;
      for (double q : {0.0, 0.25, 0.5, 0.75, 1.0}) {
        double v = 0;
        if (!pauses.empty()) v = static_cast<double>(pauses[static_cast<size_t>(q * (pauses.size() - 1))]) / 1e9;
        m.summary.quantile.push_back({q, v});
      }
      gc.metric.push_back(std::move(m));
    }
  }
  return {info.take(), goroutines.take(), threads.take(), heap.take(), std::move(gc)};
}

}  // namespace aster
