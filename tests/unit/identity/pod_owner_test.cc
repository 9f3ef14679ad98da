// The owner of a pod, from its name's shape.
#include "identity/pod_owner.h"

#include <gtest/gtest.h>

namespace aster {
namespace {

TEST(PodOwner, FromTheNameShape) {
  struct {
    const char* pod;
    const char* kind;
    const char* name;
  } cases[] = {
      {"checkout-7d9f8b6c5d-x2k4p", "Deployment", "checkout"},
      {"my-api-v2-5c8d7f9b4-qwz7n", "Deployment", "my-api-v2"},
      {"coredns-565d847f94-8kx9z", "Deployment", "coredns"},
      {"web-0", "StatefulSet", "web"},
      {"postgres-cluster-12", "StatefulSet", "postgres-cluster"},
      {"fluentd-x7k2q", "unknown", "fluentd"},         // DaemonSet, Job or ReplicaSet: cannot tell
      {"backup-28391042-tq5vz", "unknown", "backup-28391042"},  // CronJob's Job: digits are no rs hash
      {"nginx-frontend-b7x9q", "unknown", "nginx-frontend"},  // "frontend" has vowels: no hash
      {"standalone", "unknown", "standalone"},
      {"web-01", "unknown", "web-01"},  // no ordinal has a leading zero
      {"web-", "unknown", "web-"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pod);
    PodOwner o = pod_owner(c.pod);
    EXPECT_EQ(o.kind, c.kind);
    EXPECT_EQ(o.name, c.name);
  }
}

}  // namespace
}  // namespace aster
