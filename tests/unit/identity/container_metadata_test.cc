// What the runtimes' files say about a container. The texts are shaped as
// containerd (CRI), CRI-O and Docker write them; the integration suite reads
// the files a real containerd writes (tests/integration/test_identity.py).
#include "identity/container_metadata.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "identity/identity_resolver.h"

namespace aster {
namespace {

const std::string kId = "3f9a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
const std::string kSandbox = "aa9a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

std::string cri_spec(const std::string& pod, const std::string& container, const std::string& type) {
  return R"({"ociVersion":"1.0.2-dev","process":{"user":{"uid":0,"gid":0},"args":["/bin/httpd"],)"
         R"("env":["PATH=/usr/bin","SECRET=\u003cx\u003e"],"cwd":"/"},"root":{"path":"rootfs"},)"
         R"("annotations":{"io.kubernetes.cri.container-name":")" + container +
         R"(","io.kubernetes.cri.container-type":")" + type +
         R"(","io.kubernetes.cri.image-name":"docker.io/library/nginx:1.25",)"
         R"("io.kubernetes.cri.sandbox-id":")" + kSandbox +
         R"(","io.kubernetes.cri.sandbox-name":")" + pod +
         R"(","io.kubernetes.cri.sandbox-namespace":"shop","io.kubernetes.cri.sandbox-uid":"0f4c6b1e-2a3d-4b5c-8d9e-1f2a3b4c5d6e"},)"
         R"("linux":{"cgroupsPath":"/kubepods/burstable/pod0f4c6b1e-2a3d-4b5c-8d9e-1f2a3b4c5d6e/x"}})";
}

TEST(ContainerMetadata, ContainerdCriAnnotations) {
  ContainerMetadata m;
  ASSERT_TRUE(parse_oci_annotations(cri_spec("checkout-7d9f8b6c5d-x2k4p", "app", "container"), &m));
  EXPECT_EQ(m.pod_name, "checkout-7d9f8b6c5d-x2k4p");
  EXPECT_EQ(m.pod_namespace, "shop");
  EXPECT_EQ(m.pod_uid, "0f4c6b1e-2a3d-4b5c-8d9e-1f2a3b4c5d6e");
  EXPECT_EQ(m.container_name, "app");
  EXPECT_EQ(m.sandbox_id, kSandbox);
  EXPECT_EQ(m.container_type, "container");
}

TEST(ContainerMetadata, CrioAnnotations) {
  ContainerMetadata m;
  ASSERT_TRUE(parse_oci_annotations(
      R"({"ociVersion":"1.0.2","annotations":{"io.kubernetes.pod.name":"web-0","io.kubernetes.pod.namespace":"db",)"
      R"("io.kubernetes.pod.uid":"u","io.kubernetes.container.name":"pg"}})",
      &m));
  EXPECT_EQ(m.pod_name, "web-0");
  EXPECT_EQ(m.pod_namespace, "db");
  EXPECT_EQ(m.container_name, "pg");
}

TEST(ContainerMetadata, DockerConfig) {
  ContainerMetadata m;
  ASSERT_TRUE(parse_docker_config(
      R"({"StreamConfig":{},"State":{"Running":true,"Pid":4242},"ID":")" + kId +
          R"(","Name":"/shop-api","Config":{"Hostname":"3f9a","Env":["A=b"],"Labels":{"com.example":"x"}}})",
      &m));
  EXPECT_EQ(m.name, "shop-api");
  EXPECT_EQ(m.pod_name, "");
}

TEST(ContainerMetadata, BadTextIsNoMetadata) {
  ContainerMetadata m;
  EXPECT_FALSE(parse_oci_annotations("{not json", &m));
  EXPECT_FALSE(parse_oci_annotations("[1,2]", &m));
  EXPECT_FALSE(parse_oci_annotations(R"({"annotations":{}})", &m)) << "no ociVersion: not a spec";
  EXPECT_FALSE(parse_docker_config("", &m));
  EXPECT_FALSE(parse_pod_log_dir("no-underscores", &m));
  EXPECT_FALSE(parse_pod_log_dir("ns__uid", &m));
  ASSERT_TRUE(parse_pod_log_dir("shop_checkout-7d9f8b6c5d-x2k4p_0f4c6b1e-2a3d", &m));
  EXPECT_EQ(m.pod_namespace, "shop");
  EXPECT_EQ(m.pod_name, "checkout-7d9f8b6c5d-x2k4p");
  EXPECT_EQ(m.pod_uid, "0f4c6b1e-2a3d");
}

class RuntimeFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aster-identity-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dirs_.containerd_state = {root_ + "/containerd"};
    dirs_.crio_storage = root_ + "/crio";
    dirs_.docker_root = root_ + "/docker";
    dirs_.pod_logs = root_ + "/pods";
    dirs_.container_logs = root_ + "/containers";
  }
  void TearDown() override { std::system(("rm -rf " + root_).c_str()); }
  void write(const std::string& rel, const std::string& text) {
    std::string path = root_ + "/" + rel;
    std::system(("mkdir -p " + path.substr(0, path.rfind('/'))).c_str());
    std::ofstream(path) << text;
  }
  std::string root_;
  RuntimeDirs dirs_;
};

TEST_F(RuntimeFiles, ContainerdTaskBundleInAnyNamespace) {
  write("containerd/io.containerd.runtime.v2.task/k8s.io/" + kId + "/config.json",
        cri_spec("checkout-7d9f8b6c5d-x2k4p", "app", "container"));
  write("containerd/io.containerd.runtime.v2.task/k8s.io/" + kSandbox + "/config.json",
        cri_spec("checkout-7d9f8b6c5d-x2k4p", "", "sandbox"));
  ContainerMetadata m = read_container_metadata(dirs_, kId, "");
  EXPECT_EQ(m.runtime, "containerd");
  EXPECT_EQ(m.container_name, "app");
  EXPECT_EQ(containerd_pod_containers(dirs_, kSandbox), std::vector<std::string>{"app"})
      << "the sandbox (pause) is not an app container";
  write("containerd/io.containerd.runtime.v2.task/k8s.io/" + std::string(64, 'b') + "/config.json",
        cri_spec("checkout-7d9f8b6c5d-x2k4p", "sidecar", "container"));
  EXPECT_EQ(containerd_pod_containers(dirs_, kSandbox).size(), 2u);
}

TEST_F(RuntimeFiles, KubeletLogsAreTheFallback) {
  const std::string uid = "0f4c6b1e-2a3d-4b5c-8d9e-1f2a3b4c5d6e";
  write("pods/shop_checkout-7d9f8b6c5d-x2k4p_" + uid + "/app/0.log", "");
  write("pods/shop_checkout-7d9f8b6c5d-x2k4p_" + uid + "/proxy/0.log", "");
  write("containers/checkout-7d9f8b6c5d-x2k4p_shop_proxy-" + kId + ".log", "");
  ContainerMetadata m = read_container_metadata(dirs_, kId, uid);
  EXPECT_EQ(m.runtime, "kubelet-logs");
  EXPECT_EQ(m.pod_namespace, "shop");
  EXPECT_EQ(m.pod_name, "checkout-7d9f8b6c5d-x2k4p");
  EXPECT_EQ(m.container_name, "proxy");
  EXPECT_FALSE(read_container_metadata(dirs_, kId, "").found()) << "without a pod uid nothing names it";
}

TEST_F(RuntimeFiles, DockerByItsStateFile) {
  write("docker/containers/" + kId + "/config.v2.json", R"({"ID":")" + kId + R"(","Name":"/shop-api"})");
  ContainerMetadata m = read_container_metadata(dirs_, kId, "");
  EXPECT_EQ(m.runtime, "docker");
  EXPECT_EQ(m.name, "shop-api");
}

TEST(ServiceName, RulesInOrderEachSwitchable) {
  IdentityOptions o;
  WorkloadIdentity pod;
  pod.k8s_pod_uid = "u";
  pod.k8s_pod_name = "checkout-7d9f8b6c5d-x2k4p";
  pod.k8s_owner_name = "checkout";
  pod.k8s_container_name = "app";
  EXPECT_EQ(service_name_for(o, "otel", pod, "", false, "", "python3"), "otel");
  EXPECT_EQ(service_name_for(o, "", pod, "", false, "", "python3"), "checkout");
  EXPECT_EQ(service_name_for(o, "", pod, "", true, "", "python3"), "checkout/app");
  o.from_environment = false;
  EXPECT_EQ(service_name_for(o, "otel", pod, "", false, "", "python3"), "checkout");
  o.from_kubernetes = false;
  EXPECT_EQ(service_name_for(o, "otel", pod, "", false, "", "python3"), "python3")
      << "a pod is not named by its container runtime's name";
  WorkloadIdentity host;
  o = IdentityOptions();
  EXPECT_EQ(service_name_for(o, "", host, "shop-api", false, "", "python3"), "shop-api");
  EXPECT_EQ(service_name_for(o, "", host, "", false, "nginx", "nginx"), "nginx");
  o.from_container = false;
  EXPECT_EQ(service_name_for(o, "", host, "shop-api", false, "api", "python3"), "python3");
}

}  // namespace
}  // namespace aster
