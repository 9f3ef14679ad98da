// SPDX-License-Identifier: Apache-2.0
#include "targets/watch_list.h"

#include <bpf/bpf.h>
#include <linux/types.h>

#include <vector>

#include "model/event_layout.h"

namespace aster {

void WatchList::set_bit(pid_t pid, bool on) {
  uint32_t p = static_cast<uint32_t>(pid) & (ASTER_PID_BITS - 1);
  uint64_t mask = 1ull << (p & 63);
  // The probes update the same words atomically (fork, exit).
  if (on) {
    __atomic_fetch_or(&bits_[p >> 6], mask, __ATOMIC_SEQ_CST);
  } else {
    __atomic_fetch_and(&bits_[p >> 6], ~mask, __ATOMIC_SEQ_CST);
  }
}

bool WatchList::add(pid_t pid, uint16_t service_id) {
  __u32 key = static_cast<__u32>(pid);
  aster_watch old{};
  bool had = bpf_map_lookup_elem(map_fd_, &key, &old) == 0;
  aster_watch w{};
  w.service_id = service_id;
  // Bit first, entry second: the probes never see an entry without its bit.
  set_bit(pid, true);
  if (bpf_map_update_elem(map_fd_, &key, &w, BPF_ANY) != 0) {
    if (!had) set_bit(pid, false);
    return false;
  }
  // Sockets remember the service of the last process that used them, by
  // tgid. A tgid that now means another service (moved to another service,
  // or unwatched and picked again after an exec or a PID reuse, with
  // sockets it inherited) must make them look it up again. Watching is
  // rare, so any add that is not a no-op bumps the epoch.
  if (!had || old.service_id != service_id) __atomic_fetch_add(epoch_, 1, __ATOMIC_SEQ_CST);
  return true;
}

void WatchList::remove(pid_t pid) {
  __u32 key = static_cast<__u32>(pid);
  bpf_map_delete_elem(map_fd_, &key);
  set_bit(pid, false);  // entry first, bit second
}

size_t WatchList::forget_service(uint16_t service_id) {
  std::vector<__u32> stale;
  __u32 key = 0, next = 0;
  __u32* prev = nullptr;
  // At most ASTER_MAX_WATCHED entries; a rare walk (once per expired service).
  while (bpf_map_get_next_key(map_fd_, prev, &next) == 0 && stale.size() < (1u << 22)) {
    aster_watch w{};
    if (bpf_map_lookup_elem(map_fd_, &next, &w) == 0 && w.service_id == service_id) stale.push_back(next);
    key = next;
    prev = &key;
  }
  for (__u32 pid : stale) remove(static_cast<pid_t>(pid));
  __atomic_fetch_add(epoch_, 1, __ATOMIC_SEQ_CST);
  return stale.size();
}

}  // namespace aster
