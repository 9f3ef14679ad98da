// SPDX-License-Identifier: Apache-2.0
// Route templates from configuration, in the syntaxes users already write
// in their frameworks: "/v1/agents/:id" (gin, express), "/v1/agents/{id}"
// (OpenAPI, chi, spring) and a trailing glob "/static/*" or "/files/*path"
// (gin's catch-all). A matching template becomes the path label as written,
// as gin's FullPath() would report it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace aster {

class RouteTemplate {
 public:
  // Checks and splits `text`; on a bad template returns false and says why
  // in *why (for the configuration error).
  static bool compile(const std::string& text, RouteTemplate* out, std::string* why);

  // Does the request path (query already stripped) match? Segments are
  // compared one by one: a parameter matches exactly one non-empty segment,
  // a literal matches itself, a trailing glob matches whatever follows its
  // literal prefix, including nothing. Allocation-free.
  bool matches(std::string_view path) const;
  const std::string& text() const { return text_; }

 private:
  enum class Kind : unsigned char { kLiteral, kParam, kGlob };
  struct Segment {
    Kind kind;
    std::string literal;  // kLiteral: the segment; kGlob: what must precede the '*'
  };
  std::string text_;
  std::vector<Segment> segments_;  // what follows each '/'
};

// An ordered list of templates; the first that matches wins.
class RouteTemplater {
 public:
  void add(RouteTemplate t) { templates_.push_back(std::move(t)); }
  bool empty() const { return templates_.empty(); }
  // The matching template's text (stable for the templater's life), or null.
  const std::string* match(std::string_view path) const;

 private:
  std::vector<RouteTemplate> templates_;
};

}  // namespace aster
