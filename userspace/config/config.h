// SPDX-License-Identifier: Apache-2.0
// What the exporter watches and how it serves, from (lowest to highest
// precedence) built-in defaults, the YAML file, the environment, and flags.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/config_sources.h"
#include "config/identity_options.h"
#include "model/log.h"
#include "config/metrics_options.h"

namespace aster {

inline constexpr const char* kVersion = "0.1.0";
inline constexpr uint16_t kDefaultPort = 8497;

enum class AttachMode { kAuto, kSocket, kSyscalls };
const char* attach_mode_name(AttachMode m);

// One rule choosing processes to watch. Within a rule every criterion given
// must hold; a process matching several rules belongs to the first. Empty
// `name`: the executable's name.
struct TargetSelector {
  std::string name;
  std::vector<uint16_t> ports;  // processes listening on any of these TCP ports
  std::vector<int> pids;        // these processes
  std::string exe;              // regex, matched against the executable's full path or its name
  std::string cgroup;           // cgroup v2 path prefix, e.g. /system.slice/nginx.service
};

struct Config {
  bool observability_enabled = true;
  bool metrics_enabled = true;
  std::string telemetry_path = "/metrics";
  std::string listen_address = ":8497";
  // /metrics under slow or many clients: civetweb serves each connection on
  // a thread of its own, so the workers bound the clients served at once,
  // and a client gets this long to send its request head before it is
  // dropped (Prometheus's default scrape timeout is 10 s).
  uint32_t web_max_connections = 128;
  uint32_t web_header_timeout_ms = 3000;
  // Connections one client address may hold open at once; past it, its
  // further connections are closed at once, so one host cannot take every
  // worker (Prometheus keeps one connection per target, an HA pair two).
  uint32_t web_max_connections_per_peer = 16;
  // Basic auth and headers in the Prometheus exporter-toolkit format
  // (web/web_config.h); empty: plain HTTP, no authentication.
  std::string web_config_file;
  // No selector: watch every process listening on a TCP port.
  std::vector<TargetSelector> targets;
  uint32_t capture_bytes = 4096;
  AttachMode attach_mode = AttachMode::kAuto;
  uint32_t ringbuf_bytes = 8u << 20;
  // Longest time an event waits in the ring buffer before userspace reads it.
  uint32_t poll_interval_ms = 10;
  // Stage records per CPU and hand them to the ring in batches (see
  // ASTER_STAGE_BYTES); false hands each record over at once.
  bool batching = true;
  // Read the plaintext of TLS connections through uprobes on the TLS
  // libraries the watched processes map (bpf/tls_probes.bpf.h).
  bool tls_enabled = true;
  // Naming, labels, cardinality bounds, route templates, business gauges.
  MetricsOptions metrics;
  // How watched processes are named and labelled (identity/).
  IdentityOptions identity;
  // How often /proc is rescanned for new listeners of the selected ports.
  uint32_t discovery_interval_ms = 1000;
  std::string config_file;
  LogLevel log_level = LogLevel::kInfo;
  // --capture.record: write what the pipeline consumes (payload included)
  // to this file; --capture.replay: run a capture through the pipeline
  // offline and print the metrics it gives (capture_file.h, replay.h).
  std::string capture_record;
  std::string capture_replay;
};

// Result of parsing the command line: either a config, or a reason to stop
// (help/version text to print with status 0, or an error with status 2).
struct ConfigResult {
  std::optional<Config> config;
  std::string message;
  int exit_code = 0;
  // What the config was made of: the arguments, the variables read, the
  // file's text. A capture keeps them, so a replay builds the same config.
  ConfigSources sources;
};

// `env` returns the value of an environment variable or nullptr; tests pass
// their own. `read_file` gives a file's text (false if it cannot be read,
// errno set); null reads the filesystem (a replay passes the recorded text).
using EnvLookup = std::function<const char*(const char*)>;
using FileReader = std::function<bool(const std::string& path, std::string* text)>;
ConfigResult load_config(int argc, const char* const* argv, const EnvLookup& env,
                         const FileReader& read_file = nullptr);

// Parses a YAML document into `cfg`; returns an error naming the key, or "".
std::string apply_yaml(const std::string& yaml_text, const std::string& origin, Config& cfg);

std::string usage_text();

}  // namespace aster
