// SPDX-License-Identifier: Apache-2.0
#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "model/event_layout.h"
#include "config/yaml_keys.h"

namespace aster {
namespace {

// Every value error names the key and says what would be accepted.
struct ConfigError {
  std::string text;
};

bool parse_bool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw ConfigError{key + ": expected true or false, got '" + v + "'"};
}

uint64_t parse_uint(const std::string& key, const std::string& v, uint64_t lo, uint64_t hi) {
  errno = 0;
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || errno != 0 || *end != '\0' || n < lo || n > hi) {
    throw ConfigError{key + ": expected a whole number from " + std::to_string(lo) + " to " +
                      std::to_string(hi) + ", got '" + v + "'"};
  }
  return n;
}

AttachMode parse_mode(const std::string& key, const std::string& v) {
  if (v == "auto") return AttachMode::kAuto;
  if (v == "socket") return AttachMode::kSocket;
  if (v == "syscalls") return AttachMode::kSyscalls;
  throw ConfigError{key + ": expected auto, socket or syscalls, got '" + v + "'"};
}

std::string check_path(const std::string& key, const std::string& v) {
  if (v.size() < 2 || v[0] != '/' || v.find_first_of("?# ") != std::string::npos) {
    throw ConfigError{key + ": expected a path such as /metrics, got '" + v + "'"};
  }
  return v;
}

std::string check_listen(const std::string& key, const std::string& v) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos) {
    throw ConfigError{key + ": expected HOST:PORT or :PORT, got '" + v + "'"};
  }
  parse_uint(key + " (port)", v.substr(colon + 1), 0, 65535);
  return v;
}

std::string check_regex(const std::string& key, const std::string& v) {
  try {
    std::regex re(v, std::regex::extended);
  } catch (const std::regex_error& e) {
    throw ConfigError{key + ": not a valid regular expression '" + v + "': " + e.what()};
  }
  return v;
}

std::string check_cgroup(const std::string& key, const std::string& v) {
  if (v.empty() || v[0] != '/') throw ConfigError{key + ": expected a cgroup path such as /system.slice/x.service, got '" + v + "'"};
  return v;
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string scalar(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) throw ConfigError{key + ": expected a single value"};
  return n.Scalar();
}

void reject_unknown(const YAML::Node& map, const std::string& prefix,
                    const std::set<std::string>& known) {
  if (!map.IsMap()) throw ConfigError{(prefix.empty() ? "top level" : prefix) + ": expected a mapping"};
  std::string err = unknown_key_error(map, known, prefix);
  if (!err.empty()) throw ConfigError{err};
}

std::string check_dir(const std::string& key, const std::string& v) {
  if (v.empty() || v[0] != '/') throw ConfigError{key + ": expected an absolute directory path, got '" + v + "'"};
  return v;
}

void apply_identity(const YAML::Node& i, IdentityOptions& o) {
  reject_unknown(i, "identity.", {"from_environment", "from_kubernetes", "from_container", "pod_name_label",
                                  "containerd_state", "crio_storage", "docker_root", "pod_logs",
                                  "container_logs", "host_root"});
  auto flag = [&](const char* k, bool& out) {
    if (i[k]) out = parse_bool(std::string("identity.") + k, scalar(i[k], std::string("identity.") + k));
  };
  auto dir = [&](const char* k, std::string& out) {
    if (i[k]) out = check_dir(std::string("identity.") + k, scalar(i[k], std::string("identity.") + k));
  };
  flag("from_environment", o.from_environment);
  flag("from_kubernetes", o.from_kubernetes);
  flag("from_container", o.from_container);
  flag("pod_name_label", o.pod_name_label);
  if (auto s = i["containerd_state"]) {
    if (!s.IsSequence()) throw ConfigError{"identity.containerd_state: expected a list of directories"};
    o.containerd_state.clear();
    for (const auto& d : s) o.containerd_state.push_back(check_dir("identity.containerd_state", scalar(d, "identity.containerd_state")));
  }
  dir("crio_storage", o.crio_storage);
  dir("docker_root", o.docker_root);
  dir("pod_logs", o.pod_logs);
  dir("container_logs", o.container_logs);
  if (i["host_root"]) {
    std::string v = scalar(i["host_root"], "identity.host_root");
    o.host_root = v == "auto" || v.empty() ? v : check_dir("identity.host_root", v);
  }
}

void apply_yaml_node(const YAML::Node& root, Config& cfg) {
  if (root.IsNull()) return;
  reject_unknown(root, "", {"observability", "web", "targets", "capture", "bpf", "tls", "discovery", "limits", "metrics", "identity"});
  if (auto o = root["observability"]) {
    reject_unknown(o, "observability.", {"enabled", "metrics"});
    if (o["enabled"]) cfg.observability_enabled = parse_bool("observability.enabled", scalar(o["enabled"], "observability.enabled"));
    if (auto m = o["metrics"]) {
      reject_unknown(m, "observability.metrics.", {"enabled", "endpoint"});
      if (m["enabled"]) cfg.metrics_enabled = parse_bool("observability.metrics.enabled", scalar(m["enabled"], "observability.metrics.enabled"));
      if (m["endpoint"]) cfg.telemetry_path = check_path("observability.metrics.endpoint", scalar(m["endpoint"], "observability.metrics.endpoint"));
    }
  }
  if (auto w = root["web"]) {
    reject_unknown(w, "web.", {"listen_address", "max_connections", "max_connections_per_peer", "header_timeout_ms", "config_file"});
    if (w["listen_address"]) cfg.listen_address = check_listen("web.listen_address", scalar(w["listen_address"], "web.listen_address"));
    if (w["max_connections"]) cfg.web_max_connections = parse_uint("web.max_connections", scalar(w["max_connections"], "web.max_connections"), 4, 4096);
    if (w["header_timeout_ms"]) cfg.web_header_timeout_ms = parse_uint("web.header_timeout_ms", scalar(w["header_timeout_ms"], "web.header_timeout_ms"), 100, 60000);
    if (w["max_connections_per_peer"]) cfg.web_max_connections_per_peer = parse_uint("web.max_connections_per_peer", scalar(w["max_connections_per_peer"], "web.max_connections_per_peer"), 1, 4096);
    if (w["config_file"]) cfg.web_config_file = scalar(w["config_file"], "web.config_file");
  }
  if (auto t = root["targets"]) {
    if (!t.IsSequence()) throw ConfigError{"targets: expected a list of selectors"};
    cfg.targets.clear();
    for (size_t i = 0; i < t.size(); ++i) {
      std::string key = "targets[" + std::to_string(i) + "]";
      reject_unknown(t[i], key + ".", {"name", "ports", "pids", "exe", "cgroup"});
      TargetSelector sel;
      if (t[i]["name"]) sel.name = scalar(t[i]["name"], key + ".name");
      if (auto ports = t[i]["ports"]) {
        if (!ports.IsSequence()) throw ConfigError{key + ".ports: expected a list of port numbers"};
        for (const auto& p : ports) sel.ports.push_back(parse_uint(key + ".ports", scalar(p, key + ".ports"), 1, 65535));
      }
      if (auto pids = t[i]["pids"]) {
        if (!pids.IsSequence()) throw ConfigError{key + ".pids: expected a list of process ids"};
        for (const auto& p : pids) sel.pids.push_back(parse_uint(key + ".pids", scalar(p, key + ".pids"), 1, 1u << 30));
      }
      if (t[i]["exe"]) sel.exe = check_regex(key + ".exe", scalar(t[i]["exe"], key + ".exe"));
      if (t[i]["cgroup"]) sel.cgroup = check_cgroup(key + ".cgroup", scalar(t[i]["cgroup"], key + ".cgroup"));
      if (sel.ports.empty() && sel.pids.empty() && sel.exe.empty() && sel.cgroup.empty()) {
        throw ConfigError{key + ": needs ports, pids, exe or cgroup"};
      }
      cfg.targets.push_back(std::move(sel));
    }
  }
  if (auto c = root["capture"]) {
    reject_unknown(c, "capture.", {"bytes"});
    if (c["bytes"]) cfg.capture_bytes = parse_uint("capture.bytes", scalar(c["bytes"], "capture.bytes"), 64, ASTER_CAPTURE_MAX);
  }
  if (auto b = root["bpf"]) {
    reject_unknown(b, "bpf.", {"attach_mode", "ringbuf_bytes", "poll_interval_ms", "batching"});
    if (b["attach_mode"]) cfg.attach_mode = parse_mode("bpf.attach_mode", scalar(b["attach_mode"], "bpf.attach_mode"));
    if (b["ringbuf_bytes"]) cfg.ringbuf_bytes = parse_uint("bpf.ringbuf_bytes", scalar(b["ringbuf_bytes"], "bpf.ringbuf_bytes"), 1u << 16, 1u << 30);
    if (b["poll_interval_ms"]) cfg.poll_interval_ms = parse_uint("bpf.poll_interval_ms", scalar(b["poll_interval_ms"], "bpf.poll_interval_ms"), 1, 1000);
    if (b["batching"]) cfg.batching = parse_bool("bpf.batching", scalar(b["batching"], "bpf.batching"));
  }
  if (auto t = root["tls"]) {
    reject_unknown(t, "tls.", {"enabled"});
    if (t["enabled"]) cfg.tls_enabled = parse_bool("tls.enabled", scalar(t["enabled"], "tls.enabled"));
  }
  if (auto d = root["discovery"]) {
    reject_unknown(d, "discovery.", {"interval_ms"});
    if (d["interval_ms"]) cfg.discovery_interval_ms = parse_uint("discovery.interval_ms", scalar(d["interval_ms"], "discovery.interval_ms"), 100, 600000);
  }
  if (auto l = root["limits"]) {
    reject_unknown(l, "limits.", {"max_paths_per_service"});
    // Kept for old files: the same bound as metrics.max_series_per_family.
    if (l["max_paths_per_service"]) cfg.metrics.max_series_per_family = parse_uint("limits.max_paths_per_service", scalar(l["max_paths_per_service"], "limits.max_paths_per_service"), 1, 100000);
  }
  if (auto m = root["metrics"]) {
    std::string err = parse_metrics_options(m, "metrics.", cfg.metrics);
    if (!err.empty()) throw ConfigError{err};
  }
  if (auto i = root["identity"]) apply_identity(i, cfg.identity);
}

struct Flag {
  std::string name;
  std::string value;
  bool has_value;
};

void apply_flag(const Flag& f, Config& cfg) {
  auto need = [&]() -> const std::string& {
    if (!f.has_value) throw ConfigError{"--" + f.name + " needs a value (--" + f.name + "=VALUE)"};
    return f.value;
  };
  const std::string key = "--" + f.name;
  if (f.name == "web.listen-address") {
    cfg.listen_address = check_listen(key, need());
  } else if (f.name == "web.max-connections") {
    cfg.web_max_connections = parse_uint(key, need(), 4, 4096);
  } else if (f.name == "web.header-timeout-ms") {
    cfg.web_header_timeout_ms = parse_uint(key, need(), 100, 60000);
  } else if (f.name == "web.max-connections-per-peer") {
    cfg.web_max_connections_per_peer = parse_uint(key, need(), 1, 4096);
  } else if (f.name == "web.config.file") {
    cfg.web_config_file = need();
  } else if (f.name == "web.telemetry-path") {
    cfg.telemetry_path = check_path(key, need());
  } else if (f.name == "config.file") {
    cfg.config_file = need();
  } else if (f.name == "target.port") {
    TargetSelector sel;
    for (const auto& p : split_list(need())) sel.ports.push_back(parse_uint(key, p, 1, 65535));
    if (sel.ports.empty()) throw ConfigError{key + ": expected P[,P...]"};
    cfg.targets.push_back(std::move(sel));
  } else if (f.name == "target.pid") {
    TargetSelector sel;
    for (const auto& p : split_list(need())) sel.pids.push_back(parse_uint(key, p, 1, 1u << 30));
    if (sel.pids.empty()) throw ConfigError{key + ": expected PID[,PID...]"};
    cfg.targets.push_back(std::move(sel));
  } else if (f.name == "target.exe") {
    TargetSelector sel;
    sel.exe = check_regex(key, need());
    cfg.targets.push_back(std::move(sel));
  } else if (f.name == "target.cgroup") {
    TargetSelector sel;
    sel.cgroup = check_cgroup(key, need());
    cfg.targets.push_back(std::move(sel));
  } else if (f.name == "capture.bytes") {
    cfg.capture_bytes = parse_uint(key, need(), 64, ASTER_CAPTURE_MAX);
  } else if (f.name == "bpf.attach-mode") {
    cfg.attach_mode = parse_mode(key, need());
  } else if (f.name == "bpf.ringbuf-bytes") {
    cfg.ringbuf_bytes = parse_uint(key, need(), 1u << 16, 1u << 30);
  } else if (f.name == "bpf.poll-interval-ms") {
    cfg.poll_interval_ms = parse_uint(key, need(), 1, 1000);
  } else if (f.name == "bpf.batching") {
    cfg.batching = parse_bool(key, need());
  } else if (f.name == "tls.enabled") {
    cfg.tls_enabled = parse_bool(key, need());
  } else if (f.name == "limits.max-paths-per-service") {
    cfg.metrics.max_series_per_family = parse_uint(key, need(), 1, 100000);
  } else if (is_metrics_flag(f.name)) {
    std::string err = apply_metrics_flag(f.name, need(), cfg.metrics);
    if (!err.empty()) throw ConfigError{err};
  } else if (f.name == "capture.record") {
    cfg.capture_record = need();
  } else if (f.name == "capture.replay") {
    cfg.capture_replay = need();
  } else if (f.name == "log.level") {
    const std::string& v = need();
    if (v == "debug") cfg.log_level = LogLevel::kDebug;
    else if (v == "info") cfg.log_level = LogLevel::kInfo;
    else if (v == "warn") cfg.log_level = LogLevel::kWarn;
    else if (v == "error") cfg.log_level = LogLevel::kError;
    else throw ConfigError{key + ": expected debug, info, warn or error, got '" + v + "'"};
  } else if (f.name == "discovery.interval-ms") {
    cfg.discovery_interval_ms = parse_uint(key, need(), 100, 600000);
  } else {
    throw ConfigError{"unknown flag --" + f.name + " (see --help)"};
  }
}

}  // namespace

const char* attach_mode_name(AttachMode m) {
  switch (m) {
    case AttachMode::kAuto: return "auto";
    case AttachMode::kSocket: return "socket";
    case AttachMode::kSyscalls: return "syscalls";
  }
  return "auto";
}

std::string usage_text() {
  return std::string(
      "usage: aster-exporter [flags]\n"
      "\n"
      "Watches HTTP/1.x servers on this node with eBPF and serves their RED metrics\n"
      "for Prometheus. Needs root (or CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE,\n"
      "CAP_DAC_READ_SEARCH).\n"
      "\n"
      "flags (each also settable in the YAML file; flags win over environment, environment over file):\n"
      "  --web.listen-address=HOST:PORT   where to serve metrics (default :8497)\n"
      "  --web.telemetry-path=PATH        metrics path (default /metrics)\n"
      "  --web.max-connections=N          clients served at once, a worker thread each (4..4096,\n"
      "                                   default 128)\n"
      "  --web.header-timeout-ms=N        time a client has to send its request head\n"
      "                                   (100..60000, default 3000)\n"
      "  --web.max-connections-per-peer=N connections one client address may hold open; its\n"
      "                                   further ones are closed at once (1..4096, default 16)\n"
      "  --web.config.file=FILE           basic auth and headers, in the Prometheus\n"
      "                                   exporter-toolkit web config format (reread on change)\n"
      "  --config.file=FILE               YAML configuration file\n"
      "  --target.port=P[,P...]           watch the processes listening on these TCP ports\n"
      "  --target.pid=PID[,PID...]        watch these processes\n"
      "  --target.exe=REGEX               watch processes whose executable path or name matches\n"
      "  --target.cgroup=PATH             watch processes in this cgroup (v2 path prefix)\n"
      "                                   (no target at all: every process listening on TCP)\n"
      "  --capture.bytes=N                bytes copied from the head of each socket read/write\n"
      "                                   (64.." + std::to_string(ASTER_CAPTURE_MAX) + ", default 4096)\n"
      "  --capture.record=FILE            write what the pipeline reads to FILE (mode 0600), for\n"
      "                                   --capture.replay. OPT-IN: the file holds the PAYLOAD\n"
      "                                   (request and response bytes) of the watched traffic\n"
      "  --capture.replay=FILE            run a capture through the pipeline offline, print the\n"
      "                                   HTTP and pipeline metrics it gives, and exit (no root)\n"
      "  --bpf.attach-mode=MODE           auto, socket (sock_*_length tracepoints, kernel >= 6.3)\n"
      "                                   or syscalls (syscall tracepoints; the fallback)\n"
      "  --bpf.ringbuf-bytes=N            ring buffer size, a power of two (default 8388608)\n"
      "  --bpf.poll-interval-ms=N         longest delay before events are read (default 10)\n"
      "  --bpf.batching=BOOL              pack records per CPU before the ring buffer (default true)\n"
      "  --tls.enabled=BOOL               read HTTPS plaintext through uprobes on the TLS libraries\n"
      "                                   (OpenSSL's libssl) the watched processes map (default true)\n"
      "  --limits.max-paths-per-service=N the same as --metrics.max-series-per-family (older name)\n" +
      metrics_flags_usage() +
      "  --discovery.interval-ms=N        /proc rescan period for new listeners (default 1000)\n"
      "  --log.level=LEVEL                debug, info, warn or error (default info)\n"
      "  --version                        print the version and exit\n"
      "  --help                           print this text and exit\n"
      "\n"
      "environment: OBSERVABILITY_ENABLED, OBSERVABILITY_METRICS_ENABLED,\n"
      "  OBSERVABILITY_METRICS_ENDPOINT, ASTER_WEB_LISTEN_ADDRESS, ASTER_CAPTURE_BYTES,\n"
      "  ASTER_BPF_ATTACH_MODE\n");
}

std::string apply_yaml(const std::string& yaml_text, const std::string& origin, Config& cfg) {
  try {
    apply_yaml_node(YAML::Load(yaml_text), cfg);
  } catch (const ConfigError& e) {
    return origin + ": " + e.text;
  } catch (const YAML::Exception& e) {
    return origin + ": not valid YAML: " + e.what();
  }
  return "";
}

ConfigResult load_config(int argc, const char* const* argv, const EnvLookup& lookup, const FileReader& read_file) {
  ConfigResult r;
  for (int i = 1; i < argc; ++i) r.sources.argv.emplace_back(argv[i]);
  // Every variable read, and its value, goes into the sources.
  auto env = [&](const char* name) -> const char* {
    const char* v = lookup(name);
    if (v) r.sources.env.emplace_back(name, v);
    return v;
  };
  std::vector<Flag> flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      r.message = usage_text();
      return r;
    }
    if (a == "--version") {
      r.message = std::string("aster-exporter ") + kVersion + "\n";
      return r;
    }
    if (a.rfind("--", 0) != 0) {
      r.message = "unexpected argument '" + a + "' (flags look like --name=value; see --help)\n";
      r.exit_code = 2;
      return r;
    }
    a = a.substr(2);
    auto eq = a.find('=');
    Flag f{a.substr(0, eq), eq == std::string::npos ? "" : a.substr(eq + 1), eq != std::string::npos};
    // Accept "--flag value" too, as kingpin-based exporters do.
    if (!f.has_value && i + 1 < argc && argv[i + 1][0] != '-') {
      f.value = argv[++i];
      f.has_value = true;
    }
    flags.push_back(f);
  }

  Config cfg;
  try {
    // The file first, so environment and flags can override it.
    for (const auto& f : flags) {
      if (f.name == "config.file") apply_flag(f, cfg);
    }
    if (!cfg.config_file.empty()) {
      std::string text;
      bool read = false;
      if (read_file) {
        read = read_file(cfg.config_file, &text);
      } else if (std::ifstream in(cfg.config_file); in) {
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
        read = true;
      }
      if (!read) throw ConfigError{"cannot read config file '" + cfg.config_file + "': " + std::strerror(errno)};
      r.sources.config_path = cfg.config_file;
      r.sources.config_text = text;
      std::string err = apply_yaml(text, cfg.config_file, cfg);
      if (!err.empty()) throw ConfigError{err};
    }
    if (const char* v = env("OBSERVABILITY_ENABLED")) cfg.observability_enabled = parse_bool("OBSERVABILITY_ENABLED", v);
    if (const char* v = env("OBSERVABILITY_METRICS_ENABLED")) cfg.metrics_enabled = parse_bool("OBSERVABILITY_METRICS_ENABLED", v);
    if (const char* v = env("OBSERVABILITY_METRICS_ENDPOINT")) cfg.telemetry_path = check_path("OBSERVABILITY_METRICS_ENDPOINT", v);
    if (const char* v = env("ASTER_WEB_LISTEN_ADDRESS")) cfg.listen_address = check_listen("ASTER_WEB_LISTEN_ADDRESS", v);
    if (const char* v = env("ASTER_CAPTURE_BYTES")) cfg.capture_bytes = parse_uint("ASTER_CAPTURE_BYTES", v, 64, ASTER_CAPTURE_MAX);
    if (const char* v = env("ASTER_BPF_ATTACH_MODE")) cfg.attach_mode = parse_mode("ASTER_BPF_ATTACH_MODE", v);
    // Flags name targets on their own: a --target.* flag replaces the file's list.
    bool flag_targets = false;
    for (const auto& f : flags) {
      if (f.name == "config.file") continue;
      if (f.name.rfind("target.", 0) == 0 && !flag_targets) {
        cfg.targets.clear();
        flag_targets = true;
      }
      apply_flag(f, cfg);
    }
    if (!cfg.capture_record.empty() && !cfg.capture_replay.empty()) {
      throw ConfigError{"--capture.record and --capture.replay exclude each other: a replay reads no kernel"};
    }
    if ((cfg.ringbuf_bytes & (cfg.ringbuf_bytes - 1)) != 0) {
      throw ConfigError{"ring buffer size " + std::to_string(cfg.ringbuf_bytes) + " must be a power of two"};
    }
  } catch (const ConfigError& e) {
    r.message = "aster-exporter: " + e.text + "\n";
    r.exit_code = 2;
    return r;
  }
  r.config = std::move(cfg);
  return r;
}

}  // namespace aster
