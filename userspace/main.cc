// SPDX-License-Identifier: Apache-2.0
// aster-exporter: configuration -> preflight -> probes -> discovery ->
// web server -> event loop, in that order; each step says what is wrong
// and what to do when it fails.
#include <prometheus/registry.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "capture/capture_file.h"
#include "config/config.h"
#include "protocols/registry.h"
#include "streams/connection_tracker.h"
#include "capture/event_loop.h"
#include "metrics/go_runtime.h"
#include "metrics/http_metrics.h"
#include "model/log.h"
#include "metrics/pipeline_self_metrics.h"
#include "capture/preflight.h"
#include "capture/probe_loader.h"
#include "metrics/process_metrics.h"
#include "capture/record_pipeline.h"
#include "replay.h"
#include "metrics/self_metrics.h"
#include "metrics/series_expiry.h"
#include "metrics/workload_metrics.h"
#include "targets/service_registry.h"
#include "targets/target_discovery.h"
#include "metrics/web_self_metrics.h"
#include "web/web_server.h"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

int fail(const std::string& what) {
  aster::log(aster::LogLevel::kError, "%s", what.c_str());
  return 1;
}

// Fork/exit events reach discovery, which keeps the registry current.
class DiscoveryEvents : public aster::ProcessEvents {
 public:
  DiscoveryEvents(aster::TargetDiscovery& d, aster::ProbeSet& probes) : d_(d), probes_(probes) {}
  void on_fork(uint32_t child, uint32_t parent, uint16_t service) override { d_.on_fork(child, parent, service); }
  void on_exit(uint32_t tgid) override { d_.on_exit(tgid); }
  void on_listen(uint32_t tgid, uint16_t) override { d_.request_check(tgid, false); }
  void on_exec(uint32_t tgid) override { d_.request_check(tgid, true); }
  void on_libraries_changed(uint32_t tgid) override { probes_.probe_tls_libraries(tgid); }
  int resolve_pending(uint32_t tgid) override { return d_.resolve_now(tgid); }

 private:
  aster::TargetDiscovery& d_;
  aster::ProbeSet& probes_;
};

// What /metrics shows, in order: the HTTP families one by one (each owned by
// the registry, which the aliasing pointers keep alive), then the rest.
aster::WebServer::Collectables scrape_order(const std::shared_ptr<prometheus::Registry>& http_registry,
                                     const aster::HttpMetrics& http,
                                     std::initializer_list<std::shared_ptr<prometheus::Collectable>> rest) {
  aster::WebServer::Collectables out;
  for (prometheus::Collectable* family : http.families()) out.emplace_back(http_registry, family);
  out.insert(out.end(), rest);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace aster;
  ConfigResult parsed = load_config(argc, argv, [](const char* n) -> const char* { return std::getenv(n); });
  if (!parsed.config) {
    fputs(parsed.message.c_str(), parsed.exit_code ? stderr : stdout);
    return parsed.exit_code;
  }
  const Config& cfg = *parsed.config;
  g_log_level = cfg.log_level;

  if (!cfg.capture_replay.empty()) {
    ReplayResult r = replay_capture(cfg.capture_replay);
    if (!r.ok) return fail(r.error);
    if (!r.warning.empty()) LOG_WARN("%s", r.warning.c_str());
    fputs(r.exposition.c_str(), stdout);
    return 0;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string err;
  if (!cfg.observability_enabled || !cfg.metrics_enabled) {
    // The spec's switch: no probes, no metrics; stay up so an orchestrator
    // does not restart us in a loop.
    LOG_INFO("metrics are disabled by configuration (observability.enabled / observability.metrics.enabled); "
             "no probes loaded");
    WebStats web_stats;
    auto web = WebServer::start(cfg, {}, "Metrics are disabled by configuration.", web_stats, &err);
    if (!web) return fail(err);
    while (!g_stop.load()) usleep(200 * 1000);
    return 0;
  }

  if (err = check_privileges(); !err.empty()) return fail(err);
  std::unique_ptr<CaptureWriter> capture;
  if (!cfg.capture_record.empty()) {
    capture = CaptureWriter::create(cfg.capture_record, parsed.sources, &err);
    if (!capture) return fail(err);
    LOG_WARN("recording the watched traffic to %s (--capture.record): the file holds request and response "
             "payload; it is mode 0600, keep it private and delete it when done",
             cfg.capture_record.c_str());
  }
  if (err = check_btf(); !err.empty()) return fail(err);
  bool syscalls_needed = cfg.attach_mode == AttachMode::kSyscalls ||
                         (cfg.attach_mode == AttachMode::kAuto && !ProbeSet::kernel_has_socket_tracepoints());
  if (syscalls_needed) {
    if (err = ensure_tracefs(); !err.empty()) return fail(err);
  }
  bool follow_exec = false;
  for (const auto& t : cfg.targets) follow_exec |= !t.exe.empty() || !t.cgroup.empty();
  auto probes = ProbeSet::open_and_attach(cfg, follow_exec, &err);
  if (!probes) return fail(err);
  LOG_INFO("probes attached in %s mode (%s), capturing up to %u bytes per transfer",
           active_mode_name(probes->mode()),
           probes->mode() == ActiveMode::kSocket ? "tp_btf/sock_send_length, tp_btf/sock_recv_length"
                                                  : "syscall tracepoints",
           cfg.capture_bytes);

  ServiceRegistry registry({}, cfg.identity.pod_name_label);
  PipelineStats stats;
  auto http_registry = std::make_shared<prometheus::Registry>();
  HttpMetrics http(*http_registry, cfg.metrics,
                   [&registry](uint16_t id) { return registry.name(id); });
  http.set_live_filter([&registry](uint16_t id) { return registry.is_live(id); });
  if (capture) registry.keep_assignments();
  http.set_workload_labels([&registry, &cfg](uint16_t id) {
    return series_labels(registry.identity(id), cfg.identity.pod_name_label);
  });
  TargetDiscovery discovery(cfg, registry, probes->watch_list(), getpid());
  // A newly watched process's TLS libraries are probed before its next
  // request, as far as the attaching (milliseconds) allows.
  discovery.set_on_watched([&probes](pid_t pid) { probes->probe_tls_libraries(pid); });
  discovery.scan();
  drop_unneeded_capabilities();

  DiscoveryEvents process_events(discovery, *probes);
  ConnectionTracker tracker(stats, http, builtin_protocols(), &process_events);
  tracker.set_arming(probes.get());
  RecordPipeline pipeline(tracker);
  if (capture) pipeline.record_to(capture.get(), [&registry] { return registry.take_assignments(); });
  EventLoop loop(
      probes->ring_fd(), [&probes](uint64_t now, uint64_t max_age) { return probes->flush_staged(now, max_age); },
      pipeline, cfg.poll_interval_ms);
  if (!loop.ok()) return fail("cannot open the BPF ring buffer: " + std::string(strerror(errno)));
  SeriesExpiry::Settings expiry_settings;
  expiry_settings.gone_after_ns = cfg.metrics.gone_after_ms * 1000000;
  expiry_settings.idle_after_ns = cfg.metrics.idle_after_ms * 1000000;
  expiry_settings.quarantine_ns = SeriesExpiry::quarantine_for(cfg.poll_interval_ms);
  WatchList kernel_watch = probes->watch_list();
  SeriesExpiry expiry(expiry_settings, registry, pipeline, http,
                      [&kernel_watch](uint16_t id) { return kernel_watch.forget_service(id); });
  loop.set_after_drain([&expiry](uint64_t now) { expiry.tick(now); });

  WebStats web_stats;
  auto web = WebServer::start(
      cfg,
      scrape_order(http_registry, http,
                   {std::make_shared<SelfMetrics>(*probes, registry, cfg),
                    std::make_shared<PipelineSelfMetrics>(stats, http),
                    std::make_shared<ProcessMetrics>(registry),
                    std::make_shared<WorkloadMetrics>(registry, discovery.identity_failures(), cfg.metrics.prefix),
                    std::make_shared<GoRuntimeMetrics>(registry), std::make_shared<WebSelfMetrics>(web_stats)}),
      "", web_stats, &err);
  if (!web) return fail(err);
  LOG_INFO("serving metrics on %s%s; watching %zu processes in %zu services", cfg.listen_address.c_str(),
           cfg.telemetry_path.c_str(), registry.process_count(), registry.service_count());

  std::thread discovery_thread([&] { discovery.run(g_stop); });
  int rc = loop.run(g_stop);
  g_stop.store(true);
  discovery_thread.join();
  if (capture) {
    capture->close();
    LOG_INFO("capture written to %s", cfg.capture_record.c_str());
  }
  LOG_INFO("stopped");
  return rc == 0 ? 0 : 1;
}
