// SPDX-License-Identifier: Apache-2.0
#include "model/route_templates.h"

#include <cctype>

namespace aster {
namespace {

bool param_name_ok(std::string_view n) {
  if (n.empty()) return false;
  for (unsigned char c : n) {
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

}  // namespace

bool RouteTemplate::compile(const std::string& text, RouteTemplate* out, std::string* why) {
  auto fail = [&](const std::string& w) {
    *why = "route template '" + text + "': " + w;
    return false;
  };
  if (text.empty() || text[0] != '/') return fail("must start with '/'");
  for (unsigned char c : text) {
    if (c < 0x21 || c > 0x7e) return fail("only printable ASCII without spaces is allowed");
    if (c == '?' || c == '#') return fail("query strings and fragments are never part of a route");
  }
  RouteTemplate t;
  t.text_ = text;
  size_t i = 1;
  while (true) {
    size_t end = text.find('/', i);
    bool last = end == std::string::npos;
    if (last) end = text.size();
    std::string_view seg(text.data() + i, end - i);
    Segment s{Kind::kLiteral, std::string(seg)};
    size_t star = seg.find('*');
    if (star != std::string_view::npos) {
      // "*", "*path" (gin) or "prefix*": only as the last segment.
      if (!last) return fail("'*' is only allowed in the last segment");
      std::string_view after = seg.substr(star + 1);
      if (star > 0 && !after.empty()) return fail("write a glob as 'prefix*' or '*name', not '" + std::string(seg) + "'");
      if (!after.empty() && !param_name_ok(after)) return fail("bad catch-all name '" + std::string(after) + "'");
      s = Segment{Kind::kGlob, std::string(seg.substr(0, star))};
    } else if (!seg.empty() && seg[0] == ':') {
      if (!param_name_ok(seg.substr(1))) return fail("bad parameter name in '" + std::string(seg) + "'");
      s.kind = Kind::kParam;
    } else if (!seg.empty() && seg[0] == '{') {
      // OpenAPI/chi style; chi's "{id:[0-9]+}" regex suffix is accepted and
      // ignored (any segment matches).
      if (seg.back() != '}' || seg.size() < 3) return fail("unclosed '{' in '" + std::string(seg) + "'");
      std::string_view name = seg.substr(1, seg.size() - 2);
      name = name.substr(0, name.find(':'));
      if (!param_name_ok(name)) return fail("bad parameter name in '" + std::string(seg) + "'");
      s.kind = Kind::kParam;
    } else if (seg.find_first_of("{}") != std::string_view::npos) {
      return fail("a parameter must be a whole segment ('" + std::string(seg) + "')");
    }
    t.segments_.push_back(std::move(s));
    if (last) break;
    i = end + 1;
  }
  *out = std::move(t);
  return true;
}

bool RouteTemplate::matches(std::string_view path) const {
  if (path.empty() || path[0] != '/') return false;
  size_t i = 1;
  for (size_t k = 0; k < segments_.size(); ++k) {
    const Segment& s = segments_[k];
    if (s.kind == Kind::kGlob) {
      // The rest of the path, from this segment on, must start with the prefix.
      return path.size() >= i && path.substr(i, s.literal.size()) == s.literal;
    }
    if (i > path.size()) return false;  // the path ran out of segments
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(i, end - i);
    if (s.kind == Kind::kParam ? seg.empty() : seg != s.literal) return false;
    i = end + 1;  // past the '/', or one past the end when the path ended
  }
  return i == path.size() + 1;  // every path segment consumed, none left over
}

const std::string* RouteTemplater::match(std::string_view path) const {
  for (const auto& t : templates_) {
    if (t.matches(path)) return &t.text();
  }
  return nullptr;
}

}  // namespace aster
