// SPDX-License-Identifier: Apache-2.0
#include "capture/preflight.h"

#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "model/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

namespace aster {
namespace {

uint64_t effective_caps() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "CapEff:") {
      std::string hex;
      in >> hex;
      return std::stoull(hex, nullptr, 16);
    }
  }
  return 0;
}

bool has(uint64_t caps, int cap) { return (caps >> cap) & 1; }

bool exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

}  // namespace

std::string check_privileges() {
  uint64_t caps = effective_caps();
  bool bpf = has(caps, CAP_BPF) || has(caps, CAP_SYS_ADMIN);
  bool perfmon = has(caps, CAP_PERFMON) || has(caps, CAP_SYS_ADMIN);
  bool proc = has(caps, CAP_SYS_PTRACE) && (has(caps, CAP_DAC_READ_SEARCH) || has(caps, CAP_DAC_OVERRIDE));
  if (bpf && perfmon && proc) return "";
  std::string missing;
  if (!bpf) missing += " CAP_BPF";
  if (!perfmon) missing += " CAP_PERFMON";
  if (!proc) missing += " CAP_SYS_PTRACE+CAP_DAC_READ_SEARCH";
  return "aster-exporter needs root or the capabilities" + missing +
         " (running as uid " + std::to_string(geteuid()) +
         "); run it with sudo, as the systemd unit, or with those capabilities added";
}

std::string check_btf() {
  if (exists("/sys/kernel/btf/vmlinux")) return "";
  return "/sys/kernel/btf/vmlinux is missing: this kernel was built without CONFIG_DEBUG_INFO_BTF, "
         "which the CO-RE probes need; use a kernel with BTF (every major distribution's since 2021)";
}

std::string ensure_tracefs() {
  if (exists("/sys/kernel/tracing/events/syscalls") || exists("/sys/kernel/debug/tracing/events/syscalls")) {
    return "";
  }
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0 &&
      exists("/sys/kernel/tracing/events/syscalls")) {
    LOG_INFO("mounted tracefs at /sys/kernel/tracing for the syscall tracepoints");
    return "";
  }
  return std::string("tracefs is not mounted and mounting it failed (") + strerror(errno) +
         "); the syscalls attach mode needs it: mount -t tracefs nodev /sys/kernel/tracing "
         "(in Kubernetes, mount the host's /sys/kernel/tracing into the pod)";
}

void drop_unneeded_capabilities(bool quiet) {
  // After load and attach, the daemon still updates BPF maps (CAP_BPF),
  // reads bpf_stats and program info (CAP_PERFMON), and reads other
  // processes' /proc entries (CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH).
  const int keep[] = {CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH};
  uint64_t mask = 0;
  for (int c : keep) mask |= 1ull << c;
  for (int c = 0; c <= 63; ++c) {
    if (!(mask & (1ull << c))) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);  // EINVAL past the last cap: fine
  }
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return;
  for (int i = 0; i < 2; ++i) {
    uint32_t m = static_cast<uint32_t>(mask >> (32 * i));
    data[i].effective &= m;
    data[i].permitted &= m;
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &hdr, data) != 0) {
    LOG_WARN("could not drop unneeded capabilities: %s", strerror(errno));
  } else if (!quiet) {
    LOG_INFO("dropped all capabilities but CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH");
  }
}

}  // namespace aster
