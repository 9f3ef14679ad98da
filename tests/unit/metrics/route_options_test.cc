// The metrics: section and --metrics.* flags: values, defaults, and errors
// that name the key.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "config/metrics_options.h"

namespace aster {
namespace {

std::string parse(const std::string& yaml, MetricsOptions& o) {
  return parse_metrics_options(YAML::Load(yaml)["metrics"], "metrics.", o);
}

std::string error_of(const std::string& yaml) {
  MetricsOptions o;
  return parse(yaml, o);
}

TEST(MetricsOptions, Defaults) {
  MetricsOptions o;
  EXPECT_EQ(o.prefix, "aster");
  EXPECT_EQ(o.status_label, StatusLabel::kClass);
  EXPECT_EQ(o.max_series_per_family, 1000u);
  EXPECT_EQ(o.learn_threshold, 50u);
  EXPECT_EQ(parse("metrics:\n", o), "");
}

TEST(MetricsOptions, FullSection) {
  MetricsOptions o;
  ASSERT_EQ(parse(R"(
metrics:
  prefix: myco
  status_label: code
  max_series_per_family: 200
  learn_threshold: 0
  buckets:
    request_duration_seconds: [0.001, 0.01, 0.1, 1]
    response_size_bytes: [0, 1024]
  routes:
    - /healthz
    - template: /v1/agents/{id}
      service: [agents, agents-canary]
    - template: /static/*
      service: web
  gauges:
    - name: myco_agents
      help: Agents.
      up: {method: POST, route: /v1/agents}
      down: {method: DELETE, route: /v1/agents/:id, status: any}
)", o), "");
  EXPECT_EQ(o.prefix, "myco");
  EXPECT_EQ(o.status_label, StatusLabel::kCode);
  EXPECT_EQ(o.max_series_per_family, 200u);
  EXPECT_EQ(o.learn_threshold, 0u);
  EXPECT_EQ(o.duration_buckets, (std::vector<double>{0.001, 0.01, 0.1, 1}));
  EXPECT_TRUE(o.request_size_buckets.empty()) << "unset: the default";
  ASSERT_EQ(o.routes.size(), 3u);
  EXPECT_EQ(o.routes[0].route.text(), "/healthz");
  EXPECT_TRUE(o.routes[0].services.empty());
  EXPECT_EQ(o.routes[1].services, (std::vector<std::string>{"agents", "agents-canary"}));
  ASSERT_EQ(o.gauges.size(), 1u);
  EXPECT_EQ(o.gauges[0].up[0].status_min, 200);
  EXPECT_EQ(o.gauges[0].up[0].status_max, 299) << "2xx unless told";
  EXPECT_EQ(o.gauges[0].down[0].status_max, 999);
  EXPECT_TRUE(o.gauges[0].down[0].matches(HttpMethod::kDelete, "/v1/agents/4", 404));
}

TEST(MetricsOptions, ErrorsNameTheKey) {
  EXPECT_EQ(error_of("metrics:\n  routes:\n    - templat: /a\n"),
            "unknown key 'metrics.routes[0].templat' (known here: service, template)");
  EXPECT_EQ(error_of("metrics:\n  prefx: a\n").find("unknown key 'metrics.prefx'"), 0u);
  // Each bad document and a part of the error it must give.
  const struct {
    const char* yaml;
    const char* says;
  } cases[] = {
      {"metrics:\n  routes:\n    - /a/{id\n", "metrics.routes[0]: route template '/a/{id': unclosed"},
      {"metrics:\n  status_label: exact\n", "metrics.status_label: expected class"},
      {"metrics:\n  max_series_per_family: 0\n", "metrics.max_series_per_family"},
      {"metrics:\n  prefix: 9x\n", "metrics.prefix"},
      {"metrics:\n  buckets:\n    request_duration_seconds: [1, 0.5]\n", "increase strictly"},
      {"metrics:\n  buckets:\n    request_duration_seconds: [1, x]\n", "metrics.buckets.request_duration_seconds[1]"},
      {"metrics:\n  gauges:\n    - name: g\n      up: {method: FETCH, route: /a}\n",
       "metrics.gauges[0].up.method: expected GET"},
      {"metrics:\n  gauges:\n    - name: g\n      up: {method: GET}\n", "metrics.gauges[0].up: needs a route"},
      {"metrics:\n  gauges:\n    - name: g\n      up: {route: /a, status: 2xy}\n", "metrics.gauges[0].up.status"},
      {"metrics:\n  gauges:\n    - name: g\n", "needs up"},
      {"metrics:\n  gauges:\n    - name: g\n      up: {route: /a}\n      inflight: {route: /b}\n", "not both"},
      {"metrics:\n  gauges:\n    - name: g\n      inflight: {route: /b, status: 2xx}\n",
       "unknown key 'metrics.gauges[0].inflight.status'"},
      {"metrics:\n  gauges:\n    - {name: g, up: {route: /a}}\n    - {name: g, up: {route: /b}}\n", "already defined"},
      {"metrics:\n  gauges:\n    - {name: aster_http_requests_total, up: {route: /a}}\n", "collide"},
      {"metrics:\n  gauges:\n    - {name: process_things, up: {route: /a}}\n", "collide"},
  };
  for (const auto& c : cases) {
    std::string err = error_of(c.yaml);
    EXPECT_NE(err.find(c.says), std::string::npos) << c.yaml << "gave: " << err;
  }
}

TEST(MetricsOptions, Flags) {
  MetricsOptions o;
  EXPECT_TRUE(is_metrics_flag("metrics.prefix"));
  EXPECT_FALSE(is_metrics_flag("metrics.routes"));
  EXPECT_EQ(apply_metrics_flag("metrics.prefix", "edge", o), "");
  EXPECT_EQ(apply_metrics_flag("metrics.status-label", "code", o), "");
  EXPECT_EQ(apply_metrics_flag("metrics.max-series-per-family", "64", o), "");
  EXPECT_EQ(apply_metrics_flag("metrics.learn-threshold", "0", o), "");
  EXPECT_EQ(o.prefix, "edge");
  EXPECT_EQ(o.status_label, StatusLabel::kCode);
  EXPECT_EQ(o.max_series_per_family, 64u);
  EXPECT_EQ(o.learn_threshold, 0u);
  EXPECT_NE(apply_metrics_flag("metrics.max-series-per-family", "lots", o).find("--metrics.max-series-per-family"),
            std::string::npos);
  // A flag and its YAML key share one parser: the same value is refused in
  // the same words, each naming its own spelling.
  EXPECT_EQ(apply_metrics_flag("metrics.status-label", "exact", o),
            "--metrics.status-label: expected class (2xx) or code (201), got 'exact'");
  EXPECT_EQ(error_of("metrics:\n  status_label: exact\n"),
            "metrics.status_label: expected class (2xx) or code (201), got 'exact'");
  EXPECT_EQ(o.status_label, StatusLabel::kCode) << "a refused value leaves the option as it was";
  EXPECT_EQ(apply_metrics_flag("metrics.routes", "/a", o), "unknown flag --metrics.routes (see --help)");
}

}  // namespace
}  // namespace aster
