// SPDX-License-Identifier: Apache-2.0
#include "model/parse_error.h"

namespace aster {

std::string_view parse_error_name(ParseError e) {
  constexpr std::string_view kNames[] = {"bad_start_line", "bad_header",
                                         "header_too_large", "bad_content_length", "bad_chunk",
                                         "head_not_captured", "chunk_framing_lost", "resync",
                                         "chunk_hint_rejected"};
  static_assert(sizeof kNames / sizeof kNames[0] == static_cast<size_t>(ParseError::kCount));
  auto i = static_cast<size_t>(e);
  return i < sizeof kNames / sizeof kNames[0] ? kNames[i] : "unknown";
}

}  // namespace aster
