// SPDX-License-Identifier: Apache-2.0
#include "identity/pod_owner.h"

namespace aster {
namespace {

bool safe_chars(std::string_view s) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  if (s.empty()) return false;
  for (char c : s) {
    if (kAlphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool digits(std::string_view s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return s.size() == 1 || s[0] != '0';
}

}  // namespace

PodOwner pod_owner(std::string_view pod) {
  size_t last = pod.rfind('-');
  if (last == std::string_view::npos || last == 0) return {"unknown", std::string(pod)};
  std::string_view head = pod.substr(0, last), tail = pod.substr(last + 1);
  if (tail.size() == 5 && safe_chars(tail)) {
    size_t prev = head.rfind('-');
    if (prev != std::string_view::npos && prev > 0) {
      // pod-template-hash: a 32-bit FNV hash written in that alphabet, 6 to
      // 10 characters.
      std::string_view hash = head.substr(prev + 1);
      if (hash.size() >= 6 && hash.size() <= 10 && safe_chars(hash)) {
        return {"Deployment", std::string(head.substr(0, prev))};
      }
    }
    return {"unknown", std::string(head)};
  }
  if (digits(tail)) return {"StatefulSet", std::string(head)};
  return {"unknown", std::string(pod)};
}

}  // namespace aster
