// SPDX-License-Identifier: Apache-2.0
#include "metrics/process_metrics.h"

#include <unistd.h>

#include <algorithm>
#include <map>

#include "metrics/metric_builder.h"
#include "targets/proc_reader.h"

namespace aster {
namespace {

struct Totals {
  double cpu_seconds = 0, rss = 0, vsize = 0, open_fds = 0, max_fds = 0, threads = 0;
  double start_time = 0;  // the oldest process's
  bool any = false;
};

void add_process(pid_t pid, Totals& t) {
  auto st = read_proc_stat(pid);
  if (!st) return;
  double ticks = static_cast<double>(clock_ticks_per_second());
  t.cpu_seconds += static_cast<double>(st->utime_ticks + st->stime_ticks) / ticks;
  t.rss += static_cast<double>(st->rss_pages) * page_size_bytes();
  t.vsize += static_cast<double>(st->vsize_bytes);
  t.open_fds += static_cast<double>(count_open_fds(pid));
  t.max_fds += static_cast<double>(read_max_fds(pid));
  t.threads += static_cast<double>(st->threads);
  double start = static_cast<double>(boot_time_seconds()) + static_cast<double>(st->start_ticks) / ticks;
  t.start_time = t.any ? std::min(t.start_time, start) : start;
  t.any = true;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  using prometheus::MetricType;
  using Labels = std::vector<std::pair<std::string, std::string>>;
  FamilyBuilder cpu("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter);
  FamilyBuilder rss("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge);
  FamilyBuilder vms("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge);
  FamilyBuilder fds("process_open_fds", "Number of open file descriptors.", MetricType::Gauge);
  FamilyBuilder maxfds("process_max_fds", "Maximum number of open file descriptors (soft limit, summed over a service's processes).", MetricType::Gauge);
  FamilyBuilder threads("process_threads", "Number of OS threads.", MetricType::Gauge);
  FamilyBuilder start("process_start_time_seconds", "Start time since unix epoch in seconds (a service's oldest process).", MetricType::Gauge);
  FamilyBuilder procs("aster_service_processes", "Processes currently watched for the service.", MetricType::Gauge);

  auto emit = [&](const Totals& t, const Labels& labels) {
    cpu.add(t.cpu_seconds, labels);
    rss.add(t.rss, labels);
    vms.add(t.vsize, labels);
    fds.add(t.open_fds, labels);
    maxfds.add(t.max_fds, labels);
    threads.add(t.threads, labels);
    start.add(t.start_time, labels);
  };
  Totals self;
  add_process(getpid(), self);
  if (self.any) emit(self, {});
  // Per workload, labelled as its request series.
  for (const auto& [labels, pids] : registry_.by_series_labels()) {
    Totals t;
    for (pid_t pid : pids) add_process(pid, t);
    if (t.any) emit(t, labels);
    procs.add(static_cast<double>(pids.size()), labels);
  }
  return {cpu.take(), rss.take(), vms.take(), fds.take(), maxfds.take(), threads.take(), start.take(), procs.take()};
}

}  // namespace aster
