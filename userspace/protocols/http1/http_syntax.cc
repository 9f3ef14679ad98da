// SPDX-License-Identifier: Apache-2.0
#include "protocols/http1/http_syntax.h"

#include <algorithm>
#include <cstring>

namespace aster::http_syntax {

// Every header value passes here, so it checks 8 bytes at a time and looks
// at single bytes only in words holding a control byte (or an HTAB).
const char* FieldValueEnd(const char* p, const char* end) {
  // Eight bytes at a time: a word with no byte below 0x20 and no DEL is all
  // field-value bytes. In a word with one, the lowest flagged byte is exact
  // (the subtractions' borrows only flag bytes above it), so it is found by
  // counting trailing zeros; a tab there is a value byte, and the scan goes
  // on after it.
  constexpr uint64_t kOnes = ~uint64_t{0} / 255;
  constexpr uint64_t kHighs = kOnes * 0x80;
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);  // little-endian: p[0] is the lowest byte
    const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;
    const uint64_t x = w ^ (kOnes * 0x7f);
    const uint64_t del = (x - kOnes) & ~x & kHighs;
    const uint64_t flagged = below_space | del;
    if (flagged == 0) {
      p += 8;
      continue;
    }
    const char* c = p + (__builtin_ctzll(flagged) >> 3);
    if (*c != '\t') return c;
    p = c + 1;
  }
  for (; p < end; ++p) {
    if (!IsFieldValueByte(*p)) return p;
  }
  return end;
}

bool HasBadFieldByte(std::string_view s) { return FieldValueEnd(s.data(), s.data() + s.size()) != s.data() + s.size(); }

// `lower` must be lower case.
bool IEquals(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (Lower(s[i]) != lower[i]) return false;
  }
  return true;
}

// "HTTP/1.0" or "HTTP/1.1" -> minor version; -1 otherwise.
int ParseVersion(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 7) != "HTTP/1.") return -1;
  if (v[7] == '0') return 0;
  if (v[7] == '1') return 1;
  return -1;
}

// The path of a request target, before '?' or '#'. Absolute-form keeps the
// part after the authority; authority-form (CONNECT) has no path.
std::string_view TargetPath(std::string_view target) {
  if (target.front() != '/') {
    if (target == "*") return target;
    const size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return {};
    for (size_t i = 0; i < scheme_end; ++i) {
      const char c = target[i];
      const bool scheme_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
      if (!scheme_char) return {};
    }
    target.remove_prefix(scheme_end + 3);
    const size_t slash = target.find_first_of("/?#");
    if (slash == std::string_view::npos || target[slash] != '/') return "/";
    target.remove_prefix(slash);
  }
  return target.substr(0, target.find_first_of("?#"));
}

// Could a start line begin with these bytes? Checks only the first few bytes,
// so a resync does not buffer lines that cannot be start lines.
bool PlausibleStart(StreamKind kind, const char* p, size_t n) {
  if (kind == StreamKind::kResponses) {
    static constexpr std::string_view kPrefix = "HTTP/1.";
    const size_t k = std::min(n, kPrefix.size());
    if (std::memcmp(p, kPrefix.data(), k) != 0) return false;
    return n <= kPrefix.size() || p[7] == '0' || p[7] == '1';
  }
  size_t i = 0;
  while (i < n && i <= kMaxMethodBytes && IsTchar(p[i])) ++i;
  if (i == n) return i > 0 && i <= kMaxMethodBytes;
  return i > 0 && i <= kMaxMethodBytes && p[i] == ' ';
}

// Hex chunk size with optional extensions. -1 when unparsable.
int64_t ParseChunkSize(std::string_view line) {
  uint64_t size = 0;
  size_t i = 0;
  for (; i < line.size(); ++i) {
    const char c = line[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      break;
    }
    size = size * 16 + static_cast<uint64_t>(digit);
    if (size > kMaxContentLength) return -1;
  }
  if (i == 0) return -1;
  const std::string_view rest = TrimOws(line.substr(i));
  if (!rest.empty() && rest.front() != ';') return -1;
  for (char c : rest) {
    if (!IsFieldValueByte(c)) return -1;
  }
  return static_cast<int64_t>(size);
}

// The first line of a syscall's bytes, or "" when it has no LF.
std::string_view FirstLine(const uint8_t* p, size_t len) {
  const void* lf = std::memchr(p, '\n', len);
  if (lf == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(p),
                          static_cast<size_t>(static_cast<const uint8_t*>(lf) - p));
}

bool ParseStartLineSyntax(StreamKind kind, std::string_view line, StartLine* out) {
  if (kind == StreamKind::kResponses) {
    if (line.size() < 12 || line[8] != ' ') return false;
    const int minor = ParseVersion(line.substr(0, 8));
    if (minor < 0) return false;
    uint16_t status = 0;
    for (size_t i = 9; i < 12; ++i) {
      if (line[i] < '0' || line[i] > '9') return false;
      status = static_cast<uint16_t>(status * 10 + (line[i] - '0'));
    }
    if (status < 100) return false;
    if (line.size() > 12) {
      if (line[12] != ' ') return false;
      for (char c : line.substr(13)) {
        if (!IsFieldValueByte(c)) return false;
      }
    }
    out->version_minor = minor;
    out->status = status;
    return true;
  }
  const size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos || sp1 > kMaxMethodBytes) return false;
  const std::string_view method = line.substr(0, sp1);
  for (char c : method) {
    if (!IsTchar(c)) return false;
  }
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (char c : target) {
    const auto u = static_cast<uint8_t>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  const int minor = ParseVersion(line.substr(sp2 + 1));
  if (minor < 0) return false;
  out->method = method;
  out->target = target;
  out->version_minor = minor;
  return true;
}

bool ParseCutRequestLine(std::string_view partial, size_t path_limit, StartLine* out) {
  const size_t sp1 = partial.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos || sp1 > kMaxMethodBytes) return false;
  const std::string_view method = partial.substr(0, sp1);
  for (char c : method) {
    if (!IsTchar(c)) return false;
  }
  const std::string_view rest = partial.substr(sp1 + 1);
  const size_t sp2 = rest.find(' ');
  const std::string_view target = rest.substr(0, sp2);
  if (target.empty()) return false;
  for (char c : target) {
    const auto u = static_cast<uint8_t>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  if (sp2 != std::string_view::npos) {
    std::string_view version = rest.substr(sp2 + 1);
    if (!version.empty() && version.back() == '\r') version.remove_suffix(1);
    static constexpr std::string_view kVersion = "HTTP/1.";
    if (version.size() > kVersion.size() + 1) return false;
    if (version.substr(0, kVersion.size()) != kVersion.substr(0, std::min(version.size(), kVersion.size()))) {
      return false;
    }
    if (version.size() > kVersion.size() && version.back() != '0' && version.back() != '1') return false;
  }
  const std::string_view path = TargetPath(target);
  if (path.empty()) return false;
  // The path is known only if it ended in what was captured: a path that
  // runs into the cut may go on (TargetPath's "/" for an absolute-form
  // target without a path is not in `target`, and ends only with it).
  const char* target_end = target.data() + target.size();
  const bool inside = path.data() >= target.data() && path.data() < target_end;
  const bool ended = sp2 != std::string_view::npos || path.size() >= path_limit ||
                     (inside && path.data() + path.size() < target_end);
  if (!ended) return false;
  out->method = method;
  out->target = target;
  return true;
}

}  // namespace aster::http_syntax
