// SPDX-License-Identifier: Apache-2.0
// Kinds of trouble a protocol parser meets and recovers from, exported as
// aster_exporter_parse_errors_total{kind}.
#pragma once

#include <cstdint>
#include <string_view>

namespace aster {

enum class ParseError : uint8_t {
  kBadStartLine,      // bytes where a start line should be are not one
  kBadHeader,         // a header line without ':' or with bad characters
  kHeaderTooLarge,    // head longer than the parser keeps
  kBadContentLength,  // unparsable or conflicting Content-Length
  kBadChunk,          // unparsable chunk-size line
  kHeadNotCaptured,   // a gap fell inside a start line or headers
  kChunkFramingLost,  // a gap swallowed chunk-size lines: size estimated
  kResync,            // bytes skipped while looking for the next start line
  kChunkHintRejected, // an iovec hint was not the chunk framing expected there: size estimated
  kCount,
};

std::string_view parse_error_name(ParseError e);

}  // namespace aster
