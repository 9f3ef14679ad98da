// SPDX-License-Identifier: Apache-2.0
#include "config/metrics_options.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "config/yaml_keys.h"

namespace aster {
namespace {

struct OptionError {
  std::string text;
};

// `where` names the mapping in errors; unknown keys are reported as
// `key_prefix + key`, which is where + "." unless the mapping is the top level.
void reject_unknown(const YAML::Node& map, const std::string& where, const std::set<std::string>& known,
                    const std::string& key_prefix) {
  if (!map.IsMap()) throw OptionError{where + ": expected a mapping"};
  std::string err = unknown_key_error(map, known, key_prefix);
  if (!err.empty()) throw OptionError{err};
}

void reject_unknown(const YAML::Node& map, const std::string& where, const std::set<std::string>& known) {
  reject_unknown(map, where, known, where + ".");
}

std::string scalar(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) throw OptionError{key + ": expected a single value"};
  return n.Scalar();
}

uint64_t parse_uint(const std::string& key, const std::string& v, uint64_t lo, uint64_t hi) {
  errno = 0;
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || errno != 0 || *end != '\0' || n < lo || n > hi) {
    throw OptionError{key + ": expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                      ", got '" + v + "'"};
  }
  return n;
}

bool valid_metric_name(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    bool ok = std::isalpha(c) || c == '_' || c == ':' || (i > 0 && std::isdigit(c));
    if (!ok) return false;
  }
  return true;
}

std::string parse_prefix(const std::string& key, const std::string& v) {
  if (!valid_metric_name(v)) {
    throw OptionError{key + ": expected a metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got '" + v + "'"};
  }
  return v;
}

StatusLabel parse_status_label(const std::string& key, const std::string& v) {
  if (v == "class") return StatusLabel::kClass;
  if (v == "code") return StatusLabel::kCode;
  throw OptionError{key + ": expected class (2xx) or code (201), got '" + v + "'"};
}

GrpcNames parse_grpc_names(const std::string& key, const std::string& v) {
  if (v == "prefixed") return GrpcNames::kPrefixed;
  if (v == "unprefixed") return GrpcNames::kUnprefixed;
  throw OptionError{key + ": expected prefixed (PREFIX_grpc_server_*) or unprefixed (grpc_server_*, "
                          "go-grpc-prometheus's names), got '" + v + "'"};
}

// The options that take one value, whether from the YAML file
// (metrics.<yaml>) or a flag (--<flag>): one parser each, so both spellings
// accept and reject the same values with the same words.
struct ScalarOption {
  const char* yaml;
  const char* flag;
  void (*apply)(const std::string& key, const std::string& value, MetricsOptions& out);
};

const ScalarOption kScalarOptions[] = {
    {"prefix", "metrics.prefix",
     [](const std::string& k, const std::string& v, MetricsOptions& o) { o.prefix = parse_prefix(k, v); }},
    {"status_label", "metrics.status-label",
     [](const std::string& k, const std::string& v, MetricsOptions& o) { o.status_label = parse_status_label(k, v); }},
    {"grpc_names", "metrics.grpc-names",
     [](const std::string& k, const std::string& v, MetricsOptions& o) { o.grpc_names = parse_grpc_names(k, v); }},
    {"max_series_per_family", "metrics.max-series-per-family",
     [](const std::string& k, const std::string& v, MetricsOptions& o) {
       o.max_series_per_family = parse_uint(k, v, 1, 100000);
     }},
    {"learn_threshold", "metrics.learn-threshold",
     [](const std::string& k, const std::string& v, MetricsOptions& o) { o.learn_threshold = parse_uint(k, v, 0, 100000); }},
};

uint64_t duration_or_throw(const std::string& key, const std::string& v) {
  std::string err;
  uint64_t ms = parse_duration_ms(key, v, &err);
  if (!err.empty()) throw OptionError{err};
  return ms;
}

uint64_t parse_gone_after(const std::string& key, const std::string& v) {
  uint64_t ms = duration_or_throw(key, v);
  if (ms < kMinExpiryMs) {
    throw OptionError{key + ": expected at least 1s (series must outlive a restart and be scraped once more; "
                            "set it to two scrape intervals or more, default 10m), got '" + v + "'"};
  }
  return ms;
}

uint64_t parse_idle_after(const std::string& key, const std::string& v) {
  uint64_t ms = duration_or_throw(key, v);
  if (ms != 0 && ms < kMinExpiryMs) {
    throw OptionError{key + ": expected 0 (off) or at least 1s, got '" + v + "'"};
  }
  return ms;
}

// metrics.expiry.<yaml> and --metrics.expiry.<flag>.
const ScalarOption kExpiryOptions[] = {
    {"gone_after", "metrics.expiry.gone-after",
     [](const std::string& k, const std::string& v, MetricsOptions& o) { o.gone_after_ms = parse_gone_after(k, v); }},
    {"idle_after", "metrics.expiry.idle-after",
     [](const std::string& k, const std::string& v, MetricsOptions& o) { o.idle_after_ms = parse_idle_after(k, v); }},
};

std::vector<double> parse_buckets(const YAML::Node& n, const std::string& key) {
  if (!n.IsSequence() || n.size() == 0) throw OptionError{key + ": expected a list of bucket upper bounds"};
  std::vector<double> out;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string v = scalar(n[i], key + "[" + std::to_string(i) + "]");
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(d)) {
      throw OptionError{key + "[" + std::to_string(i) + "]: expected a number, got '" + v + "'"};
    }
    if (!out.empty() && d <= out.back()) {
      throw OptionError{key + ": bucket bounds must increase strictly (" + v + " follows " +
                        std::to_string(out.back()) + ")"};
    }
    out.push_back(d);
  }
  return out;
}

std::vector<std::string> parse_services(const YAML::Node& n, const std::string& key) {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) out.push_back(scalar(n[i], key + "[" + std::to_string(i) + "]"));
  } else {
    throw OptionError{key + ": expected a service name or a list of them"};
  }
  for (const auto& s : out) {
    if (s.empty()) throw OptionError{key + ": a service name cannot be empty"};
  }
  return out;
}

RouteTemplate parse_template(const std::string& key, const std::string& text) {
  RouteTemplate t;
  std::string why;
  if (!RouteTemplate::compile(text, &t, &why)) throw OptionError{key + ": " + why};
  return t;
}

HttpMethod parse_method(const std::string& key, const std::string& v) {
  for (int i = 0; i < static_cast<int>(HttpMethod::kCount); ++i) {
    auto m = static_cast<HttpMethod>(i);
    if (v == method_name(m)) return m;
  }
  throw OptionError{key + ": expected GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT, TRACE or OTHER, got '" +
                    v + "'"};
}

void parse_status(const std::string& key, const std::string& v, ExchangeMatch& m) {
  if (v == "any") {
    m.status_min = 0;
    m.status_max = 999;
  } else if (v.size() == 3 && v[0] >= '1' && v[0] <= '5' && v[1] == 'x' && v[2] == 'x') {
    m.status_min = static_cast<uint16_t>((v[0] - '0') * 100);
    m.status_max = static_cast<uint16_t>(m.status_min + 99);
  } else {
    m.status_min = m.status_max = static_cast<uint16_t>(parse_uint(key + " (2xx, a code such as 201, or any)", v, 100, 599));
  }
}

ExchangeMatch parse_match(const YAML::Node& n, const std::string& key, bool with_status) {
  if (with_status) {
    reject_unknown(n, key, {"method", "route", "status"});
  } else {
    reject_unknown(n, key, {"method", "route"});
  }
  ExchangeMatch m;
  if (!n["route"]) throw OptionError{key + ": needs a route (a template such as /v1/agents/:id)"};
  m.route = parse_template(key + ".route", scalar(n["route"], key + ".route"));
  if (n["method"]) {
    m.any_method = false;
    m.method = parse_method(key + ".method", scalar(n["method"], key + ".method"));
  }
  if (with_status && n["status"]) parse_status(key + ".status", scalar(n["status"], key + ".status"), m);
  return m;
}

// One mapping or a list of them.
std::vector<ExchangeMatch> parse_matches(const YAML::Node& n, const std::string& key, bool with_status) {
  std::vector<ExchangeMatch> out;
  if (n.IsSequence()) {
    if (n.size() == 0) throw OptionError{key + ": expected at least one {method, route" + (with_status ? std::string(", status}") : "}")};
    for (size_t i = 0; i < n.size(); ++i) out.push_back(parse_match(n[i], key + "[" + std::to_string(i) + "]", with_status));
  } else {
    out.push_back(parse_match(n, key, with_status));
  }
  return out;
}

GaugeRule parse_gauge(const YAML::Node& n, const std::string& key) {
  reject_unknown(n, key, {"name", "help", "service", "up", "down", "inflight"});
  GaugeRule g;
  if (!n["name"]) throw OptionError{key + ": needs a name (such as aster_agents_total)"};
  g.name = scalar(n["name"], key + ".name");
  if (!valid_metric_name(g.name)) {
    throw OptionError{key + ".name: expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got '" + g.name + "'"};
  }
  if (n["help"]) g.help = scalar(n["help"], key + ".help");
  if (n["service"]) g.services = parse_services(n["service"], key + ".service");
  if (n["up"]) g.up = parse_matches(n["up"], key + ".up", true);
  if (n["down"]) g.down = parse_matches(n["down"], key + ".down", true);
  if (n["inflight"]) g.inflight = parse_matches(n["inflight"], key + ".inflight", false);
  bool counting = !g.up.empty() || !g.down.empty();
  if (counting && !g.inflight.empty()) {
    throw OptionError{key + ": a gauge either counts (up/down) or is in-flight (inflight), not both"};
  }
  if (!counting && g.inflight.empty()) throw OptionError{key + ": needs up (and usually down), or inflight"};
  if (counting && g.up.empty()) throw OptionError{key + ": a counting gauge needs up"};
  if (g.help.empty()) {
    g.help = counting ? "Exchanges matching 'up' minus those matching 'down' since the exporter started, never below zero "
                        "(derived from observed HTTP traffic)."
                      : "Requests started and not yet answered (derived from observed HTTP traffic).";
  }
  return g;
}

void parse(const YAML::Node& m, const std::string& prefix, MetricsOptions& out) {
  // `prefix` is "metrics." or ""; `where` is how errors name this mapping.
  std::string where = prefix.empty() ? "top level" : prefix.substr(0, prefix.size() - 1);
  if (m.IsNull()) return;
  auto key = [&](const std::string& k) { return prefix + k; };
  std::set<std::string> known = {"buckets", "routes", "gauges", "expiry"};
  for (const auto& o : kScalarOptions) known.insert(o.yaml);
  reject_unknown(m, where, known, prefix);
  for (const auto& o : kScalarOptions) {
    if (m[o.yaml]) o.apply(key(o.yaml), scalar(m[o.yaml], key(o.yaml)), out);
  }
  if (auto b = m["buckets"]) {
    reject_unknown(b, key("buckets"), {"request_duration_seconds", "request_size_bytes", "response_size_bytes"});
    if (b["request_duration_seconds"]) out.duration_buckets = parse_buckets(b["request_duration_seconds"], key("buckets.request_duration_seconds"));
    if (b["request_size_bytes"]) out.request_size_buckets = parse_buckets(b["request_size_bytes"], key("buckets.request_size_bytes"));
    if (b["response_size_bytes"]) out.response_size_buckets = parse_buckets(b["response_size_bytes"], key("buckets.response_size_bytes"));
  }
  if (auto e = m["expiry"]) {
    std::set<std::string> ek;
    for (const auto& o : kExpiryOptions) ek.insert(o.yaml);
    reject_unknown(e, key("expiry"), ek);
    for (const auto& o : kExpiryOptions) {
      std::string k = key("expiry." + std::string(o.yaml));
      if (e[o.yaml]) o.apply(k, scalar(e[o.yaml], k), out);
    }
  }
  if (auto r = m["routes"]) {
    if (!r.IsSequence()) throw OptionError{key("routes") + ": expected a list of route templates"};
    out.routes.clear();
    for (size_t i = 0; i < r.size(); ++i) {
      std::string k = key("routes") + "[" + std::to_string(i) + "]";
      RouteRule rule;
      if (r[i].IsScalar()) {
        rule.route = parse_template(k, r[i].Scalar());
      } else {
        reject_unknown(r[i], k, {"template", "service"});
        if (!r[i]["template"]) throw OptionError{k + ": needs a template (such as /v1/agents/:id)"};
        rule.route = parse_template(k + ".template", scalar(r[i]["template"], k + ".template"));
        if (r[i]["service"]) rule.services = parse_services(r[i]["service"], k + ".service");
      }
      out.routes.push_back(std::move(rule));
    }
  }
  if (auto g = m["gauges"]) {
    if (!g.IsSequence()) throw OptionError{key("gauges") + ": expected a list of gauges"};
    out.gauges.clear();
    std::set<std::string> names;
    for (size_t i = 0; i < g.size(); ++i) {
      std::string k = key("gauges") + "[" + std::to_string(i) + "]";
      GaugeRule rule = parse_gauge(g[i], k);
      if (!names.insert(rule.name).second) throw OptionError{k + ".name: '" + rule.name + "' is already defined"};
      out.gauges.push_back(std::move(rule));
    }
  }
  // Gauges must not collide with the HTTP or gRPC families, whatever the prefix.
  for (size_t i = 0; i < out.gauges.size(); ++i) {
    const std::string& n = out.gauges[i].name;
    for (const std::string& taken : {out.prefix + "_http_", out.prefix + "_grpc_server_", std::string("grpc_server_"), std::string("aster_exporter_"),
                                     std::string("aster_service_"), std::string("process_"), std::string("go_")}) {
      if (n.rfind(taken, 0) == 0) {
        throw OptionError{key("gauges") + "[" + std::to_string(i) + "].name: '" + n + "' would collide with the " +
                          taken + "* families; choose another name"};
      }
    }
  }
}

}  // namespace

bool applies_to(const std::vector<std::string>& services, const std::string& service) {
  if (services.empty()) return true;
  for (const auto& s : services) {
    if (s == service) return true;
  }
  return false;
}

std::string parse_metrics_options(const YAML::Node& node, const std::string& key_prefix, MetricsOptions& out) {
  try {
    parse(node, key_prefix, out);
  } catch (const OptionError& e) {
    return e.text;
  } catch (const YAML::Exception& e) {
    return (key_prefix.empty() ? std::string("metrics") : key_prefix) + ": " + e.what();
  }
  return "";
}

uint64_t parse_duration_ms(const std::string& key, const std::string& text, std::string* error) {
  error->clear();
  auto bad = [&]() {
    *error = key + ": expected a duration such as 30s, 10m, 1h30m or 500ms (units ms, s, m, h, d), or 0, got '" +
             text + "'";
    return uint64_t{0};
  };
  if (text == "0") return 0;
  if (text.empty()) return bad();
  uint64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad();
    uint64_t n = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      n = n * 10 + static_cast<uint64_t>(text[i] - '0');
      if (n > (1ull << 40)) return bad();
    }
    uint64_t unit = 0;
    if (text.compare(i, 2, "ms") == 0) {
      unit = 1, i += 2;
    } else if (i < text.size()) {
      switch (text[i]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60 * 1000; break;
        case 'h': unit = 3600 * 1000; break;
        case 'd': unit = 86400 * 1000; break;
        default: return bad();
      }
      ++i;
    } else {
      return bad();  // a number without its unit
    }
    total += n * unit;
    if (total > (1ull << 50)) return bad();
  }
  return total;
}

bool is_metrics_flag(const std::string& name) {
  for (const auto& o : kScalarOptions) {
    if (name == o.flag) return true;
  }
  for (const auto& o : kExpiryOptions) {
    if (name == o.flag) return true;
  }
  return false;
}

std::string apply_metrics_flag(const std::string& name, const std::string& value, MetricsOptions& out) {
  try {
    for (const auto& o : kScalarOptions) {
      if (name == o.flag) {
        o.apply("--" + name, value, out);
        return "";
      }
    }
    for (const auto& o : kExpiryOptions) {
      if (name == o.flag) {
        o.apply("--" + name, value, out);
        return "";
      }
    }
  } catch (const OptionError& e) {
    return e.text;
  }
  return "unknown flag --" + name + " (see --help)";
}

std::string metrics_flags_usage() {
  return "  --metrics.prefix=NAME            metric name prefix: NAME_http_requests_total, ... (default aster)\n"
         "  --metrics.status-label=KIND      status label: class (2xx, default) or code (201)\n"
         "  --metrics.grpc-names=KIND        gRPC families: prefixed (NAME_grpc_server_*, default) or\n"
         "                                   unprefixed (grpc_server_*, go-grpc-prometheus's names)\n"
         "  --metrics.max-series-per-family=N\n"
         "                                   label combinations per family per service before\n"
         "                                   path=\"_other_\" (default 1000)\n"
         "  --metrics.learn-threshold=N      distinct values at one path position before it becomes\n"
         "                                   \":param\"; 0 turns learning off (default 50)\n"
         "  --metrics.expiry.gone-after=DUR  drop a workload's series, route learning and service id\n"
         "                                   this long after its last process exited (default 10m,\n"
         "                                   at least 1s; keep it above two scrape intervals)\n"
         "  --metrics.expiry.idle-after=DUR  drop the HTTP series of a live workload without a request\n"
         "                                   this long (default 0: never)\n";
}

}  // namespace aster
