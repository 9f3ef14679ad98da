// SPDX-License-Identifier: Apache-2.0
// Runs a capture (capture_file.h) through the same userspace pipeline the
// live exporter runs, with the configuration it was recorded with, and
// gives the metrics that pipeline produced: the HTTP families and the
// pipeline's own aster_exporter_* series. What is read from the kernel or
// /proc at scrape time (the probes' counters, process_*, go_*) is not in a
// capture and is left out. Needs no privileges and loads nothing.
#pragma once

#include <cstdint>
#include <string>

namespace aster {

struct ReplayResult {
  bool ok = false;
  std::string error;       // why it could not replay
  std::string warning;     // e.g. the file ends without its end marker
  std::string exposition;  // Prometheus text format, series sorted by labels
  uint64_t frames = 0;
  uint64_t ring_records = 0;
  uint64_t requests = 0;   // exchanges recorded in the HTTP families
};

ReplayResult replay_capture(const std::string& path);

}  // namespace aster
