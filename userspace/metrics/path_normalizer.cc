// SPDX-License-Identifier: Apache-2.0
#include "metrics/path_normalizer.h"

#include <cctype>

namespace aster {
namespace {

bool all_of(std::string_view s, int (*pred)(int)) {
  for (unsigned char c : s) {
    if (!pred(c)) return false;
  }
  return !s.empty();
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace

bool looks_like_identifier(std::string_view seg) {
  if (seg.empty()) return false;
  if (all_of(seg, ::isdigit)) return true;
  if (is_uuid(seg)) return true;
  if (seg.size() >= 16 && all_of(seg, ::isxdigit)) return true;
  // Opaque tokens (base64url, ULIDs, hashes with letters) are long and mix
  // letters with digits; words in routes rarely do.
  if (seg.size() >= 20) {
    int digits = 0;
    for (unsigned char c : seg) digits += std::isdigit(c) ? 1 : 0;
    if (digits >= 2) return true;
  }
  return false;
}

std::string collapse_identifiers(std::string_view path) {
  std::string out;
  collapse_identifiers_into(path, out);
  return out;
}

void collapse_identifiers_into(std::string_view path, std::string& out) {
  out.clear();
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      out.push_back('/');
      ++i;
      continue;
    }
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(i, end - i);
    if (looks_like_identifier(seg)) {
      out.append(":id");
    } else {
      for (char c : seg) out.push_back(c >= 0x20 && c < 0x7f ? c : '_');
    }
    i = end;
  }
}

const std::string* PathBudget::admit(const std::string& collapsed) {
  auto it = known_.find(collapsed);
  if (it != known_.end()) return &*it;
  if (known_.size() >= max_values_) {
    ++overflowed_;
    return &overflow_;
  }
  return &*known_.insert(collapsed).first;
}

}  // namespace aster
