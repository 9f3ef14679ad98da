// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.x syntax the stream parser checks (RFC 9110 and 9112): token
// and field-value bytes, comma-separated lists, start lines, chunk-size
// lines. Pure functions over bytes already in memory; the parser's state
// machine (http_parser.cc) decides when to call them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocols/http1/http_parser.h"

namespace aster::http_syntax {

// Content-Length and chunk sizes above this are treated as unparsable: no
// real body is that large, and it keeps every sum far from overflowing.
constexpr uint64_t kMaxContentLength = uint64_t{1} << 52;
// A method token longer than this is not one a resync should stop for.
constexpr size_t kMaxMethodBytes = 24;

constexpr std::array<bool, 256> MakeTcharTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<uint8_t>(c)] = true;
  return t;
}
inline constexpr std::array<bool, 256> kTchar = MakeTcharTable();

inline bool IsTchar(char c) { return kTchar[static_cast<uint8_t>(c)]; }

// Field values may hold HTAB, SP, visible ASCII and obs-text; any other
// control byte (NUL, bare CR, DEL...) marks a broken or hostile line.
inline bool IsFieldValueByte(char c) {
  const auto u = static_cast<uint8_t>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

// True when any byte of `s` is not a field-value byte.
bool HasBadFieldByte(std::string_view s);
// The first byte of [p, end) that is not a field-value byte (the CR or LF
// that ends a line, or a bad byte), or `end`.
const char* FieldValueEnd(const char* p, const char* end);

inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Case-insensitive comparison; `lower` must be lower case.
bool IEquals(std::string_view s, std::string_view lower);

inline std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each trimmed, non-empty element of a comma list.
template <typename F>
void ForEachListElement(std::string_view v, F f) {
  while (!v.empty()) {
    const size_t comma = v.find(',');
    const std::string_view elem = TrimOws(v.substr(0, comma));
    if (!elem.empty()) f(elem);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

// "HTTP/1.0" or "HTTP/1.1" -> minor version; -1 otherwise.
int ParseVersion(std::string_view v);

// The path of a request target, before '?' or '#'. Absolute-form keeps the
// part after the authority; authority-form (CONNECT) has no path.
std::string_view TargetPath(std::string_view target);

// Could a start line begin with these bytes? Checks only the first few bytes,
// so a resync does not buffer lines that cannot be start lines.
bool PlausibleStart(StreamKind kind, const char* p, size_t n);

// Hex chunk size with optional extensions. -1 when unparsable.
int64_t ParseChunkSize(std::string_view line);

// The first line of a syscall's bytes, or "" when it has no LF.
std::string_view FirstLine(const uint8_t* p, size_t len);

// A start line's parts, pointing into the line.
struct StartLine {
  std::string_view method;  // requests
  std::string_view target;  // requests
  uint16_t status = 0;      // responses
  int version_minor = 1;
};
// Checks a start line (CR already stripped) and splits it:
//   request:  METHOD SP request-target SP HTTP/1.x
//   response: HTTP/1.x SP 3DIGIT [SP reason]
bool ParseStartLineSyntax(StreamKind kind, std::string_view line, StartLine* out);

// The method and target of a request line whose end was not captured (a
// long query string past the copied bytes): true when `partial` (no LF
// yet) is a method token, a space and a target whose path ended within it
// (at '?', '#' or the space before the version) or is at least
// `path_limit` bytes, and what follows the target is the start of
// " HTTP/1.x". Then out->method and out->target are set.
bool ParseCutRequestLine(std::string_view partial, size_t path_limit, StartLine* out);

// Whether `line` (CR not stripped) is a start line, without keeping anything:
// spots the next message at a syscall boundary while estimating a body.
inline bool IsStartLine(StreamKind kind, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  StartLine unused;
  return ParseStartLineSyntax(kind, line, &unused);
}

}  // namespace aster::http_syntax
