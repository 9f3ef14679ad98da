// SPDX-License-Identifier: Apache-2.0
// The workload that owns a pod, from the pod name's shape alone (no API
// server). Beyla and Coroot guess the same way; where the shape cannot tell,
// the kind is "unknown" rather than a guess.
#pragma once

#include <string>
#include <string_view>

namespace aster {

struct PodOwner {
  std::string kind;  // "Deployment", "StatefulSet" or "unknown"
  std::string name;
};

// "<deployment>-<pod-template-hash>-<5>" is a Deployment's;
// "<statefulset>-<ordinal>" a StatefulSet's; a DaemonSet's, a Job's and a
// bare ReplicaSet's all end in "-<5>", so those are "unknown" named without
// the suffix; any other name (a bare pod) is "unknown" named as the pod.
// The random parts use Kubernetes' rand.String alphabet
// ("bcdfghjklmnpqrstvwxz2456789": no vowels, no 0, 1, 3), which is what
// keeps an ordinary word from reading as a hash.
PodOwner pod_owner(std::string_view pod_name);

}  // namespace aster
