// SPDX-License-Identifier: Apache-2.0
#include "model/http_method.h"

namespace aster {
namespace {

// Indexed by HttpMethod; one table serves both directions.
constexpr std::string_view kNames[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT",
                                       "TRACE", "OTHER"};
static_assert(sizeof kNames / sizeof kNames[0] == static_cast<size_t>(HttpMethod::kCount));

}  // namespace

std::string_view method_name(HttpMethod m) {
  auto i = static_cast<size_t>(m);
  return i < static_cast<size_t>(HttpMethod::kCount) ? kNames[i] : kNames[static_cast<size_t>(HttpMethod::kOther)];
}

HttpMethod method_from_token(std::string_view token) {
  for (size_t i = 0; i < static_cast<size_t>(HttpMethod::kOther); ++i) {
    if (kNames[i] == token) return static_cast<HttpMethod>(i);
  }
  return HttpMethod::kOther;
}

}  // namespace aster
