// SPDX-License-Identifier: Apache-2.0
// Go runtime metrics of watched Go programs, read from outside at scrape
// time: the version from the binary's build-info section, and goroutines,
// GC pauses and the heap in use from the runtime's own variables (located through the
// binary's symbol table and DWARF, read with process_vm_readv). Nothing is
// attached to the Go program: no uprobes, so no per-call cost and none of
// the stack trouble uretprobes cause in Go.
#pragma once

#include <prometheus/collectable.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "targets/service_registry.h"

namespace aster {

// Where a Go binary keeps what we read; -1 offsets were not found.
struct GoLayout {
  std::string version;  // "go1.19.8"
  bool pie = false;
  uint64_t first_load_vaddr = 0;
  uint64_t allglen = 0, allp = 0, sched = 0, memstats = 0, mheap = 0;  // link-time addresses
  // runtime.gcount(), which NumGoroutine returns, is
  //   allglen - sched.gFree.n - sum(p.gFree.n for p in allp) - sched.ngsys
  int64_t sched_ngsys = -1, sched_gfree_n = -1, p_gfree_n = -1;
  int64_t ms_numgc = -1, ms_pause_total_ns = -1, ms_pause_ns = -1;
  int64_t mh_pages_in_use = -1;  // mheap_.pagesInUse (its `value` where it is an atomic type)
  bool can_count_goroutines() const {
    return allglen && allp && sched && sched_ngsys >= 0 && sched_gfree_n >= 0 && p_gfree_n >= 0;
  }
  bool can_read_gc() const { return memstats && ms_numgc >= 0 && ms_pause_total_ns >= 0 && ms_pause_ns >= 0; }
  bool can_read_heap() const { return mheap && mh_pages_in_use >= 0; }
};

// The Go version in the build-info section, or "" if this is not a Go binary.
std::string read_go_version(const std::string& elf_path);
// Version plus runtime layout; nullopt if not a Go binary.
std::optional<GoLayout> inspect_go_binary(const std::string& elf_path);

struct GoSample {
  int64_t goroutines = -1;  // as runtime.NumGoroutine(): user goroutines alive
  int64_t gc_cycles = -1;
  int64_t heap_inuse_bytes = -1;  // HeapInuse: bytes in in-use spans
  uint64_t gc_pause_total_ns = 0;
  std::vector<uint64_t> recent_pauses_ns;  // up to the last 256
};
// Reads a live process; fields stay -1 when they cannot be read.
GoSample sample_go_process(pid_t pid, const GoLayout& layout);

class GoRuntimeMetrics : public prometheus::Collectable {
 public:
  explicit GoRuntimeMetrics(const ServiceRegistry& registry) : registry_(registry) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // The layout of a process's executable, inspected once per binary.
  std::shared_ptr<const GoLayout> layout_for(pid_t pid) const;
  const ServiceRegistry& registry_;
  mutable std::mutex mu_;
  mutable std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<const GoLayout>> by_file_;  // (dev, inode)
};

}  // namespace aster
