// Configuration precedence and error messages.
#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

namespace aster {
namespace {

std::map<std::string, std::string> g_env;
const char* fake_env(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}

ConfigResult parse(std::vector<std::string> args) {
  std::vector<const char*> argv = {"aster-exporter"};
  for (auto& a : args) argv.push_back(a.c_str());
  return load_config(static_cast<int>(argv.size()), argv.data(), fake_env);
}

std::string write_file(const std::string& text) {
  char path[] = "/tmp/aster-config-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { g_env.clear(); }
};

TEST_F(ConfigTest, DefaultsFollowTheDocumentedInterface) {
  auto r = parse({});
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->listen_address, ":8497");
  EXPECT_EQ(r.config->telemetry_path, "/metrics");
  EXPECT_TRUE(r.config->targets.empty());
  EXPECT_EQ(r.config->capture_bytes, 4096u);
  EXPECT_EQ(r.config->attach_mode, AttachMode::kAuto);
  EXPECT_TRUE(r.config->batching);
}

TEST_F(ConfigTest, BatchingIsSwitchedOffByFlagOrKey) {
  auto flag = parse({"--bpf.batching=false"});
  ASSERT_TRUE(flag.config) << flag.message;
  EXPECT_FALSE(flag.config->batching);
  std::string file = write_file("bpf:\n  batching: off\n");
  auto key = parse({"--config.file=" + file});
  std::remove(file.c_str());
  ASSERT_TRUE(key.config) << key.message;
  EXPECT_FALSE(key.config->batching);
  auto bad = parse({"--bpf.batching=maybe"});
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.message.find("--bpf.batching: expected true or false"), std::string::npos) << bad.message;
}

TEST_F(ConfigTest, FlagsBeatEnvironmentWhichBeatsTheFile) {
  std::string file = write_file(
      "observability:\n  enabled: true\n  metrics:\n    enabled: true\n    endpoint: /from-file\n"
      "web:\n  listen_address: \":9000\"\n"
      "targets:\n  - name: api\n    ports: [8080, 8081]\n  - pids: [42]\n");
  auto r = parse({"--config.file=" + file});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_EQ(r.config->telemetry_path, "/from-file");
  EXPECT_EQ(r.config->listen_address, ":9000");
  ASSERT_EQ(r.config->targets.size(), 2u);
  EXPECT_EQ(r.config->targets[0].name, "api");
  EXPECT_EQ(r.config->targets[0].ports, (std::vector<uint16_t>{8080, 8081}));
  EXPECT_EQ(r.config->targets[1].pids, (std::vector<int>{42}));

  g_env["OBSERVABILITY_METRICS_ENDPOINT"] = "/from-env";
  g_env["ASTER_WEB_LISTEN_ADDRESS"] = "127.0.0.1:9001";
  r = parse({"--config.file=" + file});
  EXPECT_EQ(r.config->telemetry_path, "/from-env");
  EXPECT_EQ(r.config->listen_address, "127.0.0.1:9001");

  r = parse({"--config.file", file, "--web.telemetry-path=/from-flag", "--target.port=1234"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_EQ(r.config->telemetry_path, "/from-flag");
  ASSERT_EQ(r.config->targets.size(), 1u) << "a --target flag replaces the file's targets";
  EXPECT_EQ(r.config->targets[0].ports, (std::vector<uint16_t>{1234}));
  std::remove(file.c_str());
}

TEST_F(ConfigTest, EnvironmentSwitchesMetricsOff) {
  g_env["OBSERVABILITY_METRICS_ENABLED"] = "false";
  auto r = parse({});
  ASSERT_TRUE(r.config);
  EXPECT_FALSE(r.config->metrics_enabled);
  g_env["OBSERVABILITY_METRICS_ENABLED"] = "maybe";
  r = parse({});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.message.find("OBSERVABILITY_METRICS_ENABLED"), std::string::npos);
}

TEST_F(ConfigTest, UnknownKeysAndBadValuesAreNamed) {
  struct Case {
    std::string yaml, needle;
  } cases[] = {
      {"observability:\n  metrics:\n    enabeld: true\n", "observability.metrics.enabeld"},
      {"observabilty: {}\n", "observabilty"},
      {"observability:\n  enabled: perhaps\n", "observability.enabled"},
      {"web:\n  listen_address: nowhere\n", "web.listen_address"},
      {"targets:\n  - ports: [70000]\n", "targets[0].ports"},
      {"targets:\n  - name: x\n", "targets[0]: needs ports, pids, exe or cgroup"},
      {"targets:\n  - exe: \"(unclosed\"\n", "targets[0].exe"},
      {"targets:\n  - cgroup: relative/path\n", "targets[0].cgroup"},
      {"capture:\n  bytes: 10\n", "capture.bytes"},
      {"bpf:\n  attach_mode: kprobe\n", "bpf.attach_mode"},
      {"bpf:\n  batching: sometimes\n", "bpf.batching"},
      {"observability: [1, 2\n", "not valid YAML"},
      {"metrics:\n  routes:\n    - templat: /x\n", "metrics.routes[0].templat"},
      {"metrics:\n  status_label: exact\n", "metrics.status_label"},
      {"identity:\n  from_kubernets: false\n", "unknown key 'identity.from_kubernets'"},
      {"identity:\n  from_environment: maybe\n", "identity.from_environment"},
      {"identity:\n  containerd_state: /run/containerd\n", "identity.containerd_state: expected a list"},
      {"identity:\n  containerd_state: [run/containerd]\n", "identity.containerd_state: expected an absolute"},
      {"identity:\n  host_root: proc/1/root\n", "identity.host_root"},
  };
  for (const auto& c : cases) {
    std::string file = write_file(c.yaml);
    auto r = parse({"--config.file=" + file});
    EXPECT_FALSE(r.config) << c.yaml;
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.message.find(c.needle), std::string::npos) << r.message;
    std::remove(file.c_str());
  }
}

TEST_F(ConfigTest, ExpiryDurationsByKeyOrFlagWithNamedErrors) {
  auto d = parse({});
  ASSERT_TRUE(d.config);
  EXPECT_EQ(d.config->metrics.gone_after_ms, 600000u) << "default 10m";
  EXPECT_EQ(d.config->metrics.idle_after_ms, 0u) << "default off";
  std::string file = write_file("metrics:\n  expiry:\n    gone_after: 1h30m\n    idle_after: 45s\n");
  auto key = parse({"--config.file=" + file});
  ASSERT_TRUE(key.config) << key.message;
  EXPECT_EQ(key.config->metrics.gone_after_ms, 5400000u);
  EXPECT_EQ(key.config->metrics.idle_after_ms, 45000u);
  auto flag = parse({"--config.file=" + file, "--metrics.expiry.gone-after=2s", "--metrics.expiry.idle-after=0"});
  std::remove(file.c_str());
  ASSERT_TRUE(flag.config) << flag.message;
  EXPECT_EQ(flag.config->metrics.gone_after_ms, 2000u);
  EXPECT_EQ(flag.config->metrics.idle_after_ms, 0u);
  auto ms = parse({"--metrics.expiry.gone-after=1500ms"});
  ASSERT_TRUE(ms.config) << ms.message;
  EXPECT_EQ(ms.config->metrics.gone_after_ms, 1500u);
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  } cases[] = {
      {{"--metrics.expiry.gone-after=0"}, "--metrics.expiry.gone-after: expected at least 1s"},
      {{"--metrics.expiry.gone-after=500ms"}, "--metrics.expiry.gone-after: expected at least 1s"},
      {{"--metrics.expiry.gone-after=10"}, "expected a duration such as 30s"},
      {{"--metrics.expiry.gone-after=10x"}, "expected a duration such as 30s"},
      {{"--metrics.expiry.gone-after=-5m"}, "expected a duration such as 30s"},
      {{"--metrics.expiry.gone-after="}, "--metrics.expiry.gone-after"},
      {{"--metrics.expiry.idle-after=999ms"}, "--metrics.expiry.idle-after: expected 0 (off) or at least 1s"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.args);
    EXPECT_FALSE(r.config) << c.args[0];
    EXPECT_NE(r.message.find(c.needle), std::string::npos) << r.message;
  }
  std::string typo = write_file("metrics:\n  expiry:\n    gone: 10m\n");
  auto t = parse({"--config.file=" + typo});
  std::remove(typo.c_str());
  EXPECT_FALSE(t.config);
  EXPECT_NE(t.message.find("metrics.expiry.gone"), std::string::npos) << t.message;
}

TEST_F(ConfigTest, IdentityRulesAreSwitchedInTheFile) {
  auto r = parse({});
  ASSERT_TRUE(r.config);
  EXPECT_TRUE(r.config->identity.from_environment && r.config->identity.from_kubernetes &&
              r.config->identity.from_container && r.config->identity.pod_name_label);
  EXPECT_EQ(r.config->identity.containerd_state, std::vector<std::string>{"/run/containerd"});
  std::string file = write_file(
      "identity:\n  from_environment: false\n  from_kubernetes: off\n  from_container: no\n"
      "  pod_name_label: false\n  containerd_state: [/run/containerd, /run/k3s/containerd]\n"
      "  pod_logs: /srv/pods\n  host_root: /host\n");
  r = parse({"--config.file=" + file});
  std::remove(file.c_str());
  ASSERT_TRUE(r.config) << r.message;
  const IdentityOptions& o = r.config->identity;
  EXPECT_FALSE(o.from_environment || o.from_kubernetes || o.from_container || o.pod_name_label);
  EXPECT_EQ(o.containerd_state, (std::vector<std::string>{"/run/containerd", "/run/k3s/containerd"}));
  EXPECT_EQ(o.pod_logs, "/srv/pods");
  EXPECT_EQ(o.host_root, "/host");
}

TEST_F(ConfigTest, BadFlagsAreErrorsNotCrashes) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--target.port=http"}, {"--target.port="}, {"--nonsense=1"}, {"positional"},
           {"--web.telemetry-path=metrics"}, {"--capture.bytes=999999"}, {"--bpf.ringbuf-bytes=100000"}}) {
    auto r = parse(args);
    EXPECT_FALSE(r.config) << args[0];
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_FALSE(r.message.empty());
  }
  auto missing = parse({"--config.file=/nonexistent/aster.yaml"});
  EXPECT_NE(missing.message.find("/nonexistent/aster.yaml"), std::string::npos);
}

TEST_F(ConfigTest, HelpAndVersionExitZero) {
  auto h = parse({"--help"});
  EXPECT_FALSE(h.config);
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.message.find("--web.listen-address"), std::string::npos);
  auto v = parse({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.message.find(kVersion), std::string::npos);
}

TEST_F(ConfigTest, SourcesKeepWhatTheConfigWasMadeOf) {
  std::string path = write_file("metrics:\n  prefix: shop\n");
  g_env["ASTER_CAPTURE_BYTES"] = "512";
  auto r = parse({"--config.file=" + path, "--capture.record=/tmp/x.cap"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_EQ(r.config->capture_record, "/tmp/x.cap");
  EXPECT_EQ(r.sources.argv, (std::vector<std::string>{"--config.file=" + path, "--capture.record=/tmp/x.cap"}));
  EXPECT_EQ(r.sources.env, (std::vector<std::pair<std::string, std::string>>{{"ASTER_CAPTURE_BYTES", "512"}}));
  EXPECT_EQ(r.sources.config_path, path);
  EXPECT_EQ(r.sources.config_text, "metrics:\n  prefix: shop\n");
  std::remove(path.c_str());
  // A replay gives the recorded text instead of reading the file.
  std::vector<const char*> argv = {"aster-exporter", "--config.file=/gone.yaml"};
  auto again = load_config(2, argv.data(), fake_env, [](const std::string& p, std::string* text) {
    *text = "metrics:\n  prefix: shop\n";
    return p == "/gone.yaml";
  });
  ASSERT_TRUE(again.config) << again.message;
  EXPECT_EQ(again.config->metrics.prefix, "shop");
}

TEST_F(ConfigTest, WebLimitsByFlagOrKeyAndBadValuesNamed) {
  auto d = parse({});
  ASSERT_TRUE(d.config);
  EXPECT_EQ(d.config->web_max_connections, 128u);
  EXPECT_EQ(d.config->web_header_timeout_ms, 3000u);
  std::string path = write_file("web:\n  max_connections: 40\n  header_timeout_ms: 1500\n");
  auto f = parse({"--config.file=" + path});
  ASSERT_TRUE(f.config) << f.message;
  EXPECT_EQ(f.config->web_max_connections, 40u);
  EXPECT_EQ(f.config->web_header_timeout_ms, 1500u);
  auto g = parse({"--config.file=" + path, "--web.max-connections=300"});
  ASSERT_TRUE(g.config) << g.message;
  EXPECT_EQ(g.config->web_max_connections, 300u);
  std::remove(path.c_str());
  auto bad = parse({"--web.header-timeout-ms=5"});
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.message.find("--web.header-timeout-ms"), std::string::npos) << bad.message;
}

TEST_F(ConfigTest, PerPeerCapAndWebConfigFileByFlagOrKey) {
  auto d = parse({});
  ASSERT_TRUE(d.config);
  EXPECT_EQ(d.config->web_max_connections_per_peer, 16u);
  EXPECT_EQ(d.config->web_config_file, "");
  std::string path = write_file("web:\n  max_connections_per_peer: 4\n  config_file: /etc/x/web.yml\n");
  auto f = parse({"--config.file=" + path});
  ASSERT_TRUE(f.config) << f.message;
  EXPECT_EQ(f.config->web_max_connections_per_peer, 4u);
  EXPECT_EQ(f.config->web_config_file, "/etc/x/web.yml");
  auto g = parse({"--config.file=" + path, "--web.max-connections-per-peer=2", "--web.config.file=/w.yml"});
  ASSERT_TRUE(g.config) << g.message;
  EXPECT_EQ(g.config->web_max_connections_per_peer, 2u);
  EXPECT_EQ(g.config->web_config_file, "/w.yml");
  std::remove(path.c_str());
  auto bad = parse({"--web.max-connections-per-peer=0"});
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.message.find("--web.max-connections-per-peer"), std::string::npos) << bad.message;
}

TEST_F(ConfigTest, RecordAndReplayExcludeEachOther) {
  auto r = parse({"--capture.record=/tmp/a.cap", "--capture.replay=/tmp/b.cap"});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.message.find("exclude each other"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace aster
