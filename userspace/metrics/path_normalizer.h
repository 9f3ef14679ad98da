// SPDX-License-Identifier: Apache-2.0
// The identifier heuristic (identifier-like segments become ":id") and the
// budget of distinct label values that interns them; route_learner.h builds
// the path label from both, after the configured route templates.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

namespace aster {

inline constexpr std::string_view kOverflowPath = "_other_";

// Pure function, no state: "/v1/agents/42/logs" -> "/v1/agents/:id/logs".
// Collapses decimal numbers, UUIDs, hex strings of 16+ digits, and segments
// mixing letters and 2+ digits that are 20+ characters long (tokens). Also
// drops empty trailing segments after the first ("/a/" -> "/a/") unchanged.
std::string collapse_identifiers(std::string_view path);
// The same into a caller-owned buffer (no allocation once it has grown).
// Bytes that are not printable ASCII become '_' so label values stay valid
// UTF-8 whatever a client sends.
void collapse_identifiers_into(std::string_view path, std::string& out);
bool looks_like_identifier(std::string_view segment);

// Per-service budget of distinct path label values.
class PathBudget {
 public:
  explicit PathBudget(uint32_t max_values) : max_values_(max_values) {}
  // Returns the label value for this (already collapsed) path: itself while
  // it is known or the budget allows one more, else "_other_".
  // The returned string lives as long as the budget.
  const std::string* admit(const std::string& collapsed);
  size_t size() const { return known_.size(); }
  uint64_t overflowed() const { return overflowed_; }
  // The "_other_" value admit() returns past the budget.
  const std::string* overflow_value() const { return &overflow_; }

 private:
  uint32_t max_values_;
  std::unordered_set<std::string> known_;
  std::string overflow_{kOverflowPath};
  uint64_t overflowed_ = 0;
};

}  // namespace aster
