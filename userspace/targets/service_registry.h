// SPDX-License-Identifier: Apache-2.0
// Which processes are watched and which service each one feeds. Written by
// target discovery and by the event loop (fork/exit events), read by the
// metric collectors at scrape time; a mutex guards it, and nothing on the
// per-event path takes it.
//
// Service ids are the 16-bit index every ring record carries, at most
// kMaxServices at once. An id has a life:
//   live         intern() named it; it has watched processes, or had them
//                (gone since the last one left) or has not had one yet
//   quarantined  take_gone() found it gone for gone_after: its name is no
//                longer looked up, the caller has dropped its series; records
//                staged under it may still arrive (they are dropped)
//   free         release() after the quarantine: intern() may hand it out
//                again, oldest freed first
// See series_expiry.h for why a quarantine makes reuse safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/event_layout.h"

#include "identity/workload_identity.h"

namespace aster {

struct WatchedProcess {
  pid_t pid = 0;
  uint64_t start_ticks = 0;  // tells a reused PID from the process we chose
  uint16_t service_id = 0;
};

class ServiceRegistry {
 public:
  static constexpr uint16_t kMaxServices = 4096;
  static_assert(kMaxServices < ASTER_SERVICE_PENDING, "the kernel's pending id is no service's id");
  // Monotonic nanoseconds; tests pass their own clock.
  using Clock = std::function<uint64_t()>;
  // `pod_name_label`: whether k8s_pod_name is a series label, which
  // decides which workloads share an id (series_key()).
  explicit ServiceRegistry(Clock clock = {}, bool pod_name_label = true);

  // The id of the named service, created on first use (a free id is
  // reused). Returns kMaxServices when all ids are live or quarantined: the
  // caller then does not watch the process; counted in table_full() and
  // logged (once a minute at most).
  // The id is the workload's (identity/): records carry it, so two pods of
  // one Deployment (one service name) have two ids.
  uint16_t intern(const WorkloadIdentity& identity);
  // A workload known by its service name only (replays, tests).
  uint16_t intern(const std::string& name);
  std::string name(uint16_t id) const;
  WorkloadIdentity identity(uint16_t id) const;
  // Whether records under `id` belong to a service that may still be
  // recorded (not quarantined or free).
  bool is_live(uint16_t id) const;

  // Every id handed out (new or reused) with its workload's identity (its
  // first workload's: what its series are labelled by), in order, since the
  // last call (a capture records them). Kept only once a recorder asked
  // (keep_assignments, which also lists the ids live at that moment).
  void keep_assignments();
  std::vector<std::pair<uint16_t, WorkloadIdentity>> take_assignments();

  // False (and nothing changes) when `p.service_id` is not live: a fork
  // record from before the service expired.
  // `identity`: the process's own facts. Workloads whose series labels are
  // the same share an id (intern()), not their facts: two units of one
  // name, or two pods with k8s_pod_name off, are two workloads of one id,
  // each with its own aster_workload_info series.
  bool add(const WatchedProcess& p, const WorkloadIdentity& identity);
  // A process known by its id only: the facts of the id's first workload.
  bool add(const WatchedProcess& p);
  // A forked child: the parent's facts when the parent is watched under the
  // same id, else the id's.
  bool add_child(const WatchedProcess& child, pid_t parent);
  void remove(pid_t pid);
  bool find(pid_t pid, WatchedProcess* out) const;
  // The process's own facts (add()); false when it is not watched.
  bool identity_of(pid_t pid, WorkloadIdentity* out) const;
  std::vector<WatchedProcess> processes() const;
  // service name -> its processes, for the per-service collectors.
  std::map<std::string, std::vector<pid_t>> by_service() const;
  // workload (the processes' own facts) -> its processes, for the
  // per-workload collectors.
  std::vector<std::pair<WorkloadIdentity, std::vector<pid_t>>> by_identity() const;
  // The series labels (service, then series_labels()) -> their processes,
  // for the collectors read at scrape time that label as the request series
  // do (process_*, go_*): workloads that differ only in facts that are no
  // label (a pod's uid with k8s_pod_name off) are one series.
  std::map<LabelPairs, std::vector<pid_t>> by_series_labels() const;
  size_t process_count() const;
  size_t service_count() const;

  // Expiry, from one thread (the event loop's sweep).
  // Live ids without a process for `gone_after_ns`: now quarantined.
  std::vector<uint16_t> take_gone(uint64_t gone_after_ns);
  // Quarantined ids whose quarantine has lasted `quarantine_ns`; they stay
  // quarantined until release().
  std::vector<uint16_t> quarantine_over(uint64_t quarantine_ns) const;
  void release(const std::vector<uint16_t>& ids);

  struct TableStats {
    size_t watched = 0;      // live ids with processes
    size_t gone = 0;         // live ids without (within their grace period)
    size_t quarantined = 0;
    size_t allocated = 0;    // ids ever handed out: the table's high-water mark
    uint64_t full = 0;       // intern() calls refused: the table was full
    uint64_t reused = 0;     // ids handed out again after a release
  };
  TableStats table_stats() const;

 private:
  enum class State : uint8_t { kFree, kLive, kQuarantined };
  struct Slot {
    std::string name;
    WorkloadIdentity identity;
    State state = State::kFree;
    uint32_t processes = 0;
    uint64_t since_ns = 0;  // live without processes: since when; quarantined: since when
  };
  void drop_process(uint16_t id, uint64_t now);

  Clock clock_;
  bool pod_name_label_;
  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  std::unordered_map<std::string, uint16_t> ids_;  // live workloads, by series_key()
  std::deque<uint16_t> free_;                      // released ids, oldest first
  struct Process {
    WatchedProcess p;
    // Shared by a process and its forked children.
    std::shared_ptr<const WorkloadIdentity> identity;
  };
  bool add_locked(const WatchedProcess& p, std::shared_ptr<const WorkloadIdentity> identity);
  std::unordered_map<pid_t, Process> procs_;
  bool keep_assignments_ = false;
  std::vector<std::pair<uint16_t, WorkloadIdentity>> assignments_;
  uint64_t full_ = 0;
  uint64_t reused_ = 0;
  uint64_t last_full_log_ns_ = 0;
};

}  // namespace aster
