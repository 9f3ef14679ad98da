// SPDX-License-Identifier: Apache-2.0
#include "metrics/self_metrics.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "model/event_layout.h"
#include "metrics/metric_builder.h"

namespace aster {
namespace {

std::vector<uint64_t> kernel_counters(int fd) {
  std::vector<uint64_t> totals(ASTER_CTR_MAX, 0);
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return totals;
  std::vector<uint64_t> per_cpu(cpus);
  for (__u32 i = 0; i < ASTER_CTR_MAX; ++i) {
    if (bpf_map_lookup_elem(fd, &i, per_cpu.data()) != 0) continue;
    for (uint64_t v : per_cpu) totals[i] += v;
  }
  return totals;
}

}  // namespace

std::vector<prometheus::MetricFamily> SelfMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;

  out.push_back(FamilyBuilder("aster_exporter_build_info", "Build and runtime facts; the value is 1.", MetricType::Gauge)
                    .add(1, {{"version", kVersion}, {"attach_mode", active_mode_name(probes_.mode())}})
                    .take());
  out.push_back(FamilyBuilder("aster_exporter_attach_mode",
                              "1 for the attach mode in use: socket (sock_*_length tracepoints) or syscalls (fallback).",
                              MetricType::Gauge)
                    .add(probes_.mode() == ActiveMode::kSocket ? 1 : 0, {{"mode", "socket"}})
                    .add(probes_.mode() == ActiveMode::kSyscalls ? 1 : 0, {{"mode", "syscalls"}})
                    .take());
  add_gauge(out, "aster_exporter_capture_bytes", "Bytes copied from the head of each socket read or write.", cfg_.capture_bytes);

  auto k = kernel_counters(probes_.counters_fd());
  add_counter(out, "aster_exporter_events_lost_total", "Records the probes could not put in the full ring buffer.", k[ASTER_CTR_EVENTS_LOST]);
  add_counter(out, "aster_exporter_lost_bytes_total", "Stream bytes described by records lost in the kernel.", k[ASTER_CTR_BYTES_LOST]);
  add_counter(out, "aster_exporter_peek_reads_skipped_total", "MSG_PEEK reads skipped (they consume nothing).", k[ASTER_CTR_PEEK_SKIPPED]);
  add_counter(out, "aster_exporter_conn_map_full_total", "Fallback mode: sockets not tracked because the connection map was full.", k[ASTER_CTR_CONN_STATE_FULL]);
  add_counter(out, "aster_exporter_watch_map_full_total", "Forked children of watched processes not followed: watched map full.", k[ASTER_CTR_WATCH_MAP_FULL]);
  out.push_back(FamilyBuilder("aster_exporter_boundary_walker_total",
                              "The kernel's boundary walker (framing beyond the copied head), by event: "
                              "self_armed (from a copied head), armed (by the exporter after parsing a head), "
                              "arm_late (an arm named a position already passed), windows (windows copied), "
                              "capped (more boundaries in a transfer than a record holds: the body size becomes "
                              "an estimate), lost (a window did not hold the framing expected), unsupported "
                              "(a framing kind or transfer the walker does not read).",
                              MetricType::Counter)
                    .add(static_cast<double>(k[ASTER_CTR_WALK_SELF_ARMED]), {{"event", "self_armed"}})
                    .add(static_cast<double>(k[ASTER_CTR_WALK_ARMED]), {{"event", "armed"}})
                    .add(static_cast<double>(k[ASTER_CTR_WALK_ARM_LATE]), {{"event", "arm_late"}})
                    .add(static_cast<double>(k[ASTER_CTR_WALK_WINDOWS]), {{"event", "windows"}})
                    .add(static_cast<double>(k[ASTER_CTR_WALK_CAPPED]), {{"event", "capped"}})
                    .add(static_cast<double>(k[ASTER_CTR_WALK_LOST]), {{"event", "lost"}})
                    .add(static_cast<double>(k[ASTER_CTR_WALK_UNSUPPORTED]), {{"event", "unsupported"}})
                    .take());
  out.push_back(FamilyBuilder("aster_exporter_boundary_arms_total",
                              "Boundary positions the exporter handed to the kernel's walker, by result: sent, "
                              "or failed (the arm map refused it).",
                              MetricType::Counter)
                    .add(static_cast<double>(probes_.arms_sent() - probes_.arms_failed()), {{"result", "sent"}})
                    .add(static_cast<double>(probes_.arms_failed()), {{"result", "failed"}})
                    .take());
  add_gauge(out, "aster_exporter_boundary_arms_pending",
            "Boundary positions handed to the kernel's walker that no transfer has taken yet (an arm of a connection "
            "that ended is withdrawn).",
            static_cast<double>(probes_.arms_pending()));
  add_gauge(out, "aster_exporter_record_batching",
        "1 when the probes stage small records per CPU and hand them over in batches; 0 when every record goes to the ring buffer at once.",
        probes_.batching() ? 1 : 0);
  add_counter(out, "aster_exporter_staging_busy_total", "Transfers that found their CPU's staging in use (a probe nested in another; not expected): sent without payload, counted as not_captured gaps.", k[ASTER_CTR_STAGE_BUSY]);
  add_counter(out, "aster_exporter_iov_hints_capped_total",
              "Transfers with more iovecs past --capture.bytes than the probes describe per record (64): the bytes "
              "after the last one are a not_captured gap, and a chunked body there is estimated.",
              k[ASTER_CTR_IOV_HINTS_CAPPED]);
  add_gauge(out, "aster_exporter_tls_libraries_probed", "TLS library files (OpenSSL libssl) whose read and write calls carry the TLS uprobes; 0 with --tls.enabled=false.", probes_.tls() ? probes_.tls()->libraries_probed() : 0);
  add_counter(out, "aster_exporter_tls_probe_failures_total", "Library files whose TLS or loader uprobes could not be attached (logged).", probes_.tls() ? probes_.tls()->libraries_failed() : 0);
  add_gauge(out, "aster_exporter_go_tls_binaries_probed", "Go executables of watched processes whose crypto/tls (Conn.Read, Conn.Write, the handshakes) carries the TLS uprobes.", probes_.tls() ? probes_.tls()->go_binaries_probed() : 0);
  add_counter(out, "aster_exporter_go_tls_binary_failures_total", "Go executables with crypto/tls that could not be probed (stripped, no DWARF, an unknown prologue or load address, or an attach error: logged); their HTTPS counts as not_http.", probes_.tls() ? probes_.tls()->go_binaries_failed() : 0);
  add_counter(out, "aster_exporter_go_tls_calls_skipped_total", "Go crypto/tls reads and writes not followed: the tls.Conn's connection is no *net.TCPConn, or its socket could not be read.", k[ASTER_CTR_GO_TLS_SKIPPED]);
  add_counter(out, "aster_exporter_tls_sessions_bound_total", "TLS sessions of watched processes the probes bound to their connection.", k[ASTER_CTR_TLS_BOUND]);
  add_counter(out, "aster_exporter_tls_plaintext_unbound_total", "TLS plaintext reads and writes dropped because no connection was bound to their session (a session whose socket transfers were not seen since the exporter started).", k[ASTER_CTR_TLS_UNBOUND]);
  add_counter(out, "aster_exporter_tls_scratch_busy_total", "TLS plaintext records that found their CPU's scratch in use (a uprobe program preempted another): sent without payload, counted as not_captured gaps.", k[ASTER_CTR_TLS_SCRATCH_BUSY]);
  out.push_back(FamilyBuilder("aster_exporter_stage_flushes_total",
                              "Flushes of a CPU's staged records asked by the exporter (each an inter-processor "
                              "interrupt), by result: flushed, or busy (it landed inside an append; asked again).",
                              MetricType::Counter)
                    .add(static_cast<double>(probes_.flushes_done()), {{"result", "flushed"}})
                    .add(static_cast<double>(probes_.flushes_busy()), {{"result", "busy"}})
                    .take());

  add_gauge(out, "aster_exporter_watched_processes", "Processes the probes watch.", registry_.process_count());
  // Occupancy of the kernel's watched map, to show state is freed when
  // processes exit (walked key by key: at most ASTER_MAX_WATCHED entries).
  {
    __u32 key = 0, next;
    size_t n = 0;
    int fd = probes_.watched_fd();
    __u32* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0 && n < 1000000) {
      ++n;
      key = next;
      prev = &key;
    }
    out.push_back(FamilyBuilder("aster_exporter_bpf_map_entries", "Entries in the probes' maps.", MetricType::Gauge)
                      .add(static_cast<double>(n), {{"map", "watched"}})
                      .take());
  }
  add_gauge(out, "aster_exporter_watched_services", "Services with at least one watched process.", registry_.service_count());
  {
    ServiceRegistry::TableStats t = registry_.table_stats();
    out.push_back(FamilyBuilder("aster_exporter_service_table_entries",
                                "Ids in the service table (at most 4096), by state: watched (with processes), gone "
                                "(no process, within metrics.expiry.gone_after), quarantined (expired; freed for "
                                "reuse once records staged under it can no longer arrive).",
                                MetricType::Gauge)
                      .add(static_cast<double>(t.watched), {{"state", "watched"}})
                      .add(static_cast<double>(t.gone), {{"state", "gone"}})
                      .add(static_cast<double>(t.quarantined), {{"state", "quarantined"}})
                      .take());
    add_gauge(out, "aster_exporter_service_table_allocated",
              "Ids the service table has ever handed out (its high-water mark; freed ids are reused first).",
              static_cast<double>(t.allocated));
    add_counter(out, "aster_exporter_service_ids_reused_total", "Service ids handed out again after their service expired.",
                static_cast<double>(t.reused));
    add_counter(out, "aster_exporter_service_table_full_total",
                "Services not watched because all 4096 ids were live or quarantined (logged).",
                static_cast<double>(t.full));
  }

  // Kernel time per probe; zero unless kernel.bpf_stats_enabled=1.
  FamilyBuilder runs("aster_exporter_bpf_program_runs_total", "Runs of each BPF program (needs kernel.bpf_stats_enabled=1).", MetricType::Counter);
  FamilyBuilder secs("aster_exporter_bpf_program_run_seconds_total", "Kernel time spent in each BPF program (needs kernel.bpf_stats_enabled=1).", MetricType::Counter);
  // The verifier's work at load, which is the exporter's start-up time in
  // the syscalls mode (ten exit programs): a probe change that multiplies it
  // shows here, and the integration tests hold it under a budget.
  FamilyBuilder verified("aster_exporter_bpf_program_verified_instructions",
                         "Instructions the kernel's verifier processed to load each BPF program.", MetricType::Gauge);
  for (const auto& p : probes_.programs()) {
    bpf_prog_info info{};
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(p.fd, &info, &len) != 0) continue;
    runs.add(static_cast<double>(info.run_cnt), {{"program", p.name}});
    secs.add(static_cast<double>(info.run_time_ns) / 1e9, {{"program", p.name}});
    verified.add(static_cast<double>(info.verified_insns), {{"program", p.name}});
  }
  out.push_back(runs.take());
  out.push_back(secs.take());
  out.push_back(verified.take());
  return out;
}

}  // namespace aster
