// SPDX-License-Identifier: Apache-2.0
// The path label of a request no route template matched, for one service.
//
// Each segment is first put through the identifier heuristic (numbers,
// UUIDs, long hex, tokens -> ":id", see path_normalizer.h). Then learning:
// the paths seen so far form a tree of segments, and when one position
// under the same prefix has shown more than `learn_threshold` distinct
// values, that position is collapsed for good: every value there, past and
// future, becomes ":param" ("/u/alice", "/u/bob", ... -> "/u/:param").
// The first segment ("/healthz", "/v1") is never collapsed: a scanner
// probing random top-level paths would otherwise fold every route of the
// service into "/:param/..."; distinct first segments are bounded by the
// label budget instead.
//
// Everything is bounded: at most `max_labels` distinct labels (then
// "_other_") and at most `max_nodes` tree nodes (then "_other_" for paths
// that would need new ones); collapsing frees the collapsed subtrees.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "metrics/path_normalizer.h"

namespace aster {

inline constexpr std::string_view kLearnedParam = ":param";

class RouteLearner {
 public:
  struct Limits {
    uint32_t learn_threshold = 50;  // 0: never collapse
    uint32_t max_labels = 1000;
    uint32_t max_nodes = 8000;
  };
  // Node budget for a label budget: room for deep paths, still small
  // (a node is ~150 bytes).
  static uint32_t default_max_nodes(uint32_t max_labels) {
    return max_labels * 8 > 4096 ? max_labels * 8 : 4096;
  }

  explicit RouteLearner(Limits limits) : limits_(limits), labels_(limits.max_labels) {}

  // The label for `path` (query already stripped), stable for the
  // learner's life; null when a budget is spent (the caller then uses its
  // "_other_" series). Allocation-free once a path of this shape was seen.
  const std::string* label(std::string_view path);

  uint64_t overflowed() const { return overflowed_; }  // requests given no label
  uint64_t collapses() const { return collapses_; }    // positions collapsed so far
  size_t label_count() const { return labels_.size(); }
  size_t node_count() const { return nodes_; }

 private:
  struct Node {
    std::map<std::string, std::unique_ptr<Node>, std::less<>> children;
    std::unique_ptr<Node> param;  // set once collapsed: every value goes here
    const std::string* label = nullptr;
  };
  static size_t subtree_size(const Node& n);

  Limits limits_;
  PathBudget labels_;  // interns label strings; they outlive collapsed nodes
  Node root_;
  size_t nodes_ = 1;
  uint64_t overflowed_ = 0;
  uint64_t collapses_ = 0;
  std::string scratch_;      // the label being built
  std::string clean_;        // a segment with non-printable bytes replaced
};

}  // namespace aster
