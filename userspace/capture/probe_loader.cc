// SPDX-License-Identifier: Apache-2.0
#include "capture/probe_loader.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <unistd.h>
#include <cstring>

#include "aster.skel.h"
#include "model/event_layout.h"
#include "model/log.h"

namespace aster {
namespace {

int libbpf_log(enum libbpf_print_level level, const char* fmt, va_list args) {
  // libbpf's debug output is the verifier log: only useful when asked for.
  if (level == LIBBPF_DEBUG && g_log_level != LogLevel::kDebug) return 0;
  // The verifier log arrives as one long message: keep all of it.
  static char buf[1 << 16];
  vsnprintf(buf, sizeof buf, fmt, args);
  size_t n = strlen(buf);
  while (n && buf[n - 1] == '\n') buf[--n] = '\0';
  if (n) log(level == LIBBPF_WARN ? LogLevel::kWarn : LogLevel::kDebug, "libbpf: %s", buf);
  return 0;
}

// The TLS uprobes are attached per library file (tls_libraries.h), not here.
bool is_uprobe(const bpf_program* prog) {
  return strncmp(bpf_program__section_name(prog), "uprobe", 6) == 0 ||
         strncmp(bpf_program__section_name(prog), "uretprobe", 9) == 0;
}

bool belongs_to(const bpf_program* prog, ActiveMode mode, bool tls) {
  const char* name = bpf_program__name(prog);
  if (is_uprobe(prog)) return tls;
  bool syscall_prog = strncmp(name, "sys_", 4) == 0 || strcmp(name, "sock_state_hash") == 0;
  bool socket_prog = strcmp(name, "sock_recv") == 0 || strcmp(name, "sock_send") == 0 ||
                     strcmp(name, "sock_state_storage") == 0;
  if (syscall_prog) return mode == ActiveMode::kSyscalls;
  if (socket_prog) return mode == ActiveMode::kSocket;
  return true;  // process probes: both modes
}

}  // namespace

const char* active_mode_name(ActiveMode m) {
  return m == ActiveMode::kSocket ? "socket" : "syscalls";
}

bool ProbeSet::kernel_has_uprobe_multi() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  bool has = false;
  int id = btf__find_by_name_kind(vmlinux, "bpf_attach_type", BTF_KIND_ENUM);
  if (id > 0) {
    const btf_type* t = btf__type_by_id(vmlinux, id);
    const struct btf_enum* e = btf_enum(t);
    for (int i = 0; i < btf_vlen(t); ++i) {
      if (strcmp(btf__name_by_offset(vmlinux, e[i].name_off), "BPF_TRACE_UPROBE_MULTI") == 0) has = true;
    }
  }
  btf__free(vmlinux);
  return has;
}

bool ProbeSet::kernel_has_socket_tracepoints() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  bool has = btf__find_by_name_kind(vmlinux, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) > 0 &&
             btf__find_by_name_kind(vmlinux, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) > 0;
  btf__free(vmlinux);
  return has;
}

aster_bpf* ProbeSet::try_mode(const Config& cfg, ActiveMode mode, bool follow_exec, bool uprobe_multi,
                              std::string* error) {
  aster_bpf* skel = aster_bpf__open();
  if (!skel) {
    *error = std::string("cannot open the BPF object: ") + strerror(errno);
    return nullptr;
  }
  skel->rodata->capture_bytes = cfg.capture_bytes;
  skel->rodata->follow_exec = follow_exec;
  skel->rodata->tls_enabled = cfg.tls_enabled;
  // A listener of a port a selector names is watched from its listen() on,
  // before discovery has checked it (bpf/maps.bpf.h: watch_ports).
  skel->rodata->self_tgid = static_cast<__u32>(getpid());
  // Wake the reader early once a quarter of the ring is waiting, so a burst
  // cannot fill it between two timed polls.
  skel->rodata->wakeup_threshold_bytes = cfg.ringbuf_bytes / 4;
  bpf_map__set_max_entries(skel->maps.events, cfg.ringbuf_bytes);
  int cpus = libbpf_num_possible_cpus();
  bpf_map__set_max_entries(skel->maps.stages, cpus > 0 ? cpus : 1);

  bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) {
    bpf_program__set_autoload(prog, belongs_to(prog, mode, cfg.tls_enabled));
    if (uprobe_multi && is_uprobe(prog)) {
      bpf_program__set_expected_attach_type(prog, static_cast<bpf_attach_type>(uprobe_multi_attach_type()));
    }
  }
  int err = aster_bpf__load(skel);
  if (err) {
    *error = std::string("the kernel refused the BPF programs for the ") + active_mode_name(mode) +
             " attach mode (" + strerror(-err) +
             "); run with --log.level=debug to see the verifier log";
    aster_bpf__destroy(skel);
    return nullptr;
  }
  for (const auto& t : cfg.targets) {
    for (uint16_t port : t.ports) {
      __u8 one = 1;
      if (bpf_map__update_elem(skel->maps.watch_ports, &port, sizeof port, &one, sizeof one, BPF_ANY)) {
        LOG_WARN("port %u: not watched from its listen() on (the kernel's port map is full: %s); discovery "
                 "still finds its listeners",
                 port, strerror(errno));
      }
    }
  }
  bpf_object__for_each_program(prog, skel->obj) {
    if (!bpf_program__autoload(prog)) continue;
    if (prog == skel->progs.stage_flush) continue;  // run by userspace, not attached
    if (is_uprobe(prog)) continue;
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      int e = errno;
      *error = std::string("cannot attach BPF program ") + bpf_program__name(prog) + " (" +
               bpf_program__section_name(prog) + "): " + strerror(e);
      if (mode == ActiveMode::kSyscalls) {
        *error += "; the syscall tracepoints need tracefs: mount -t tracefs nodev /sys/kernel/tracing";
      }
      aster_bpf__destroy(skel);
      return nullptr;
    }
    // The skeleton destroys links it knows about; record this one there.
    size_t i = 0;
    for (; i < static_cast<size_t>(skel->skeleton->prog_cnt); ++i) {
      if (*skel->skeleton->progs[i].prog == prog) {
        *skel->skeleton->progs[i].link = link;
        break;
      }
    }
  }
  return skel;
}

std::unique_ptr<ProbeSet> ProbeSet::open_and_attach(const Config& cfg, bool follow_exec, std::string* error) {
  libbpf_set_print(libbpf_log);
  bool socket_ok = kernel_has_socket_tracepoints();
  ActiveMode mode;
  switch (cfg.attach_mode) {
    case AttachMode::kSocket:
      if (!socket_ok) {
        *error = "--bpf.attach-mode=socket needs the sock_send_length/sock_recv_length tracepoints "
                 "(kernel >= 6.3); this kernel lacks them: use --bpf.attach-mode=syscalls or auto";
        return nullptr;
      }
      mode = ActiveMode::kSocket;
      break;
    case AttachMode::kSyscalls:
      mode = ActiveMode::kSyscalls;
      break;
    default:
      mode = socket_ok ? ActiveMode::kSocket : ActiveMode::kSyscalls;
  }
  // uprobe_multi links (kernel >= 6.6) need CAP_BPF and CAP_PERFMON; a
  // uprobe perf event, the only other way, needs CAP_SYS_ADMIN.
  bool uprobe_multi = cfg.tls_enabled && kernel_has_uprobe_multi();
  aster_bpf* skel = try_mode(cfg, mode, follow_exec, uprobe_multi, error);
  if (!skel && cfg.attach_mode == AttachMode::kAuto && mode == ActiveMode::kSocket) {
    LOG_WARN("socket attach mode failed (%s); falling back to syscall tracepoints", error->c_str());
    mode = ActiveMode::kSyscalls;
    skel = try_mode(cfg, mode, follow_exec, uprobe_multi, error);
  }
  if (!skel) return nullptr;
  return std::unique_ptr<ProbeSet>(new ProbeSet(skel, mode, cfg.batching, cfg.tls_enabled, uprobe_multi));
}

ProbeSet::ProbeSet(aster_bpf* skel, ActiveMode mode, bool batching, bool tls, bool uprobe_multi)
    : skel_(skel), mode_(mode) {
  if (tls) {
    TlsPrograms p;
    p.io_enter = skel->progs.tls_io_enter;
    p.io_return = skel->progs.tls_io_return;
    p.handshake_enter = skel->progs.tls_handshake_enter;
    p.handshake_return = skel->progs.tls_handshake_return;
    p.libs_changed = skel->progs.tls_libs_changed;
    p.bio_write = skel->progs.tls_bio_write;
    p.go_enter = skel->progs.go_tls_enter;
    p.go_read_return = skel->progs.go_tls_read_return;
    p.go_procs_fd = bpf_map__fd(skel->maps.go_tls_procs);
    p.go_binaries = &skel->bss->go_tls_binaries;
    p.multi = uprobe_multi;
    tls_ = std::make_unique<TlsLibraryProbes>(p);
    if (!uprobe_multi) {
      LOG_WARN("this kernel has no uprobe_multi links (before 6.6): the TLS uprobes are perf events, which "
               "need CAP_SYS_ADMIN; without it HTTPS counts as not_http");
    }
  } else {
    LOG_INFO("TLS plaintext is not read (--tls.enabled=false): HTTPS connections count as not_http");
  }
  int n = libbpf_num_possible_cpus();
  cpus_ = n > 0 ? n : 1;
  if (batching) {
    start_batching();
  } else {
    LOG_INFO("the probes hand over every record at once (--bpf.batching=false)");
  }
}

ProbeSet::~ProbeSet() {
  tls_.reset();  // its links go before the programs
  if (stages_) {
    skel_->bss->batching = false;
    munmap(const_cast<uint8_t*>(stages_), stages_len_);
  }
  aster_bpf__destroy(skel_);
}

int ProbeSet::ring_fd() const { return bpf_map__fd(skel_->maps.events); }
int ProbeSet::watched_fd() const { return bpf_map__fd(skel_->maps.watched); }
WatchList ProbeSet::watch_list() const {
  // __u64 is unsigned long long, uint64_t unsigned long: the same 8 bytes.
  return WatchList(watched_fd(), reinterpret_cast<uint64_t*>(skel_->bss->watched_bits), &skel_->bss->watch_epoch);
}
int ProbeSet::counters_fd() const { return bpf_map__fd(skel_->maps.counters); }

bool ProbeSet::run_flush(int cpu, bool* interrupted) {
  LIBBPF_OPTS(bpf_test_run_opts, opts, .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = static_cast<__u32>(cpu));
  int err = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.stage_flush), &opts);
  if (err) {
    if (!flush_warned_) {
      flush_warned_ = true;
      LOG_WARN("flushing the probes' staged records on CPU %d failed (%s); records staged there wait "
               "until the CPU stages more", cpu, strerror(-err));
    }
    return false;
  }
  *interrupted = opts.retval != 0;
  return true;
}

void ProbeSet::start_batching() {
  int fd = bpf_map__fd(skel_->maps.stages);
  size_t stride = (bpf_map__value_size(skel_->maps.stages) + 7) & ~size_t{7};
  size_t len = stride * cpus_;
  void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  bool interrupted = false;
  if (p == MAP_FAILED || !run_flush(0, &interrupted)) {
    LOG_WARN("the probes hand over every record at once: %s",
             p == MAP_FAILED ? "cannot map their staging" : "this kernel cannot run their flush on a chosen CPU");
    if (p != MAP_FAILED) munmap(p, len);
    return;
  }
  stages_ = static_cast<const uint8_t*>(p);
  stages_len_ = len;
  stage_stride_ = stride;
  skel_->bss->batching = true;
}

uint64_t ProbeSet::flush_staged(uint64_t now_ns, uint64_t max_age_ns) {
  if (!stages_) return now_ns;
  uint64_t watermark = now_ns;
  for (int cpu = 0; cpu < cpus_; ++cpu) {
    auto* st = reinterpret_cast<const volatile aster_stage*>(stages_ + cpu * stage_stride_);
    // Nothing staged: any record this CPU is still appending was stamped
    // after everything it depends on was staged, and nothing that depends
    // on it exists yet (see RecordOrder).
    if (st->staged == 0) continue;
    uint64_t oldest = st->oldest_ts;
    if (now_ns < oldest + max_age_ns) {
      // A busy CPU fills its staging and hands it over itself; until then
      // its records bound what may be ordered.
      watermark = std::min(watermark, oldest);
      continue;
    }
    bool interrupted = false;
    // A CPU the flush cannot reach (offline) does not hold the watermark:
    // one such CPU would otherwise stop every metric. Its records arrive
    // when it is back, late, and show as gaps or unpaired answers (README,
    // Limits); the failure was logged once.
    if (!run_flush(cpu, &interrupted)) continue;
    if (interrupted) {
      // The flush landed inside an append: the next drain asks again.
      flushes_busy_.fetch_add(1, std::memory_order_relaxed);
      watermark = std::min(watermark, oldest);
    } else {
      flushes_done_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return watermark;
}

void ProbeSet::arm(uint64_t conn_id, uint8_t dir, uint64_t stream_pos, const BoundaryHint& hint) {
  int fd = bpf_map__fd(skel_->maps.walk_arms);
  aster_walk_arm_key key{};
  key.conn_id = conn_id;
  key.dir = dir;
  aster_walk_arm value{};
  value.next = stream_pos;
  value.kind = hint.kind;
  value.after_data = hint.after_data ? 1 : 0;
  arms_sent_.fetch_add(1, std::memory_order_relaxed);
  // An arm not yet taken is replaced in place: its slot already counts it.
  if (bpf_map_update_elem(fd, &key, &value, BPF_EXIST) == 0) return;
  // The slot counts the arm before it exists, so the kernel never skips
  // an arm it could take (see ASTER_WALK_ARM_SLOTS).
  __u32* pending = &skel_->bss->walk_arm_pending[conn_id & (ASTER_WALK_ARM_SLOTS - 1)];
  __atomic_fetch_add(pending, 1, __ATOMIC_SEQ_CST);
  if (bpf_map_update_elem(fd, &key, &value, BPF_NOEXIST) != 0) {
    __atomic_fetch_sub(pending, 1, __ATOMIC_SEQ_CST);
    arms_failed_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ProbeSet::disarm(uint64_t conn_id, uint8_t dir) {
  aster_walk_arm_key key{};
  key.conn_id = conn_id;
  key.dir = dir;
  // Whoever deletes the entry, this or the kernel taking it, drops its
  // slot's count: a delete succeeds once.
  if (bpf_map_delete_elem(bpf_map__fd(skel_->maps.walk_arms), &key) == 0) {
    __atomic_fetch_sub(&skel_->bss->walk_arm_pending[conn_id & (ASTER_WALK_ARM_SLOTS - 1)], 1, __ATOMIC_SEQ_CST);
  }
}

uint64_t ProbeSet::arms_pending() const {
  uint64_t n = 0;
  for (uint32_t i = 0; i < ASTER_WALK_ARM_SLOTS; ++i) {
    n += __atomic_load_n(&skel_->bss->walk_arm_pending[i], __ATOMIC_RELAXED);
  }
  return n;
}

std::vector<ProgramInfo> ProbeSet::programs() const {
  std::vector<ProgramInfo> out;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    if (bpf_program__autoload(prog)) out.push_back({bpf_program__name(prog), bpf_program__fd(prog)});
  }
  return out;
}

}  // namespace aster
