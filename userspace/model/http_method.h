// SPDX-License-Identifier: Apache-2.0
// Request methods as the metrics label them, whatever protocol carried
// them (HTTP/1.x request lines, HTTP/2 :method).
#pragma once

#include <cstdint>
#include <string_view>

namespace aster {

enum class HttpMethod : uint8_t {
  kGet,
  kHead,
  kPost,
  kPut,
  kDelete,
  kPatch,
  kOptions,
  kConnect,
  kTrace,
  kOther,  // any other token: the label value is "OTHER", never the token
  kCount,
};

std::string_view method_name(HttpMethod m);
// The standard methods are case-sensitive tokens (RFC 9110): "get" is
// another method, so OTHER.
HttpMethod method_from_token(std::string_view token);

}  // namespace aster
