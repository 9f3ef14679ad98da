// SPDX-License-Identifier: Apache-2.0
#include "metrics/route_learner.h"

namespace aster {
namespace {

bool printable(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// Marks a node whose label was refused (the budget was spent when it was
// first reached), so later requests need no second look-up.
const std::string kNoLabel;

}  // namespace

size_t RouteLearner::subtree_size(const Node& n) {
  size_t total = 1;
  for (const auto& [key, child] : n.children) total += subtree_size(*child);
  if (n.param) total += subtree_size(*n.param);
  return total;
}

const std::string* RouteLearner::label(std::string_view path) {
  scratch_.clear();
  Node* n = &root_;
  // Token 0 is what precedes the first '/' (empty for origin-form paths,
  // "*" for "OPTIONS *"); token 1 is the first segment.
  size_t index = 0;
  size_t i = 0;
  while (true) {
    size_t end = path.find('/', i);
    bool last = end == std::string_view::npos;
    if (last) end = path.size();
    std::string_view token = path.substr(i, end - i);
    std::string_view key;
    if (looks_like_identifier(token)) {
      key = ":id";
    } else if (printable(token)) {
      key = token;
    } else {
      // Label values must stay valid UTF-8 whatever a client sends.
      clean_.assign(token);
      for (char& c : clean_) {
        if (c < 0x20 || c >= 0x7f) c = '_';
      }
      key = clean_;
    }

    Node* next = nullptr;
    if (n->param) {
      next = n->param.get();
      key = kLearnedParam;
    } else if (auto it = n->children.find(key); it != n->children.end()) {
      next = it->second.get();
    } else if (limits_.learn_threshold > 0 && index >= 2 && n->children.size() >= limits_.learn_threshold) {
      // One value more than the threshold at this position: a parameter.
      size_t freed = 0;
      for (const auto& [k, child] : n->children) freed += subtree_size(*child);
      n->children.clear();
      nodes_ -= freed;
      n->param = std::make_unique<Node>();
      ++nodes_;
      ++collapses_;
      next = n->param.get();
      key = kLearnedParam;
    } else if (nodes_ >= limits_.max_nodes) {
      ++overflowed_;
      return nullptr;
    } else {
      next = n->children.emplace(std::string(key), std::make_unique<Node>()).first->second.get();
      ++nodes_;
    }
    if (index > 0) scratch_.push_back('/');
    scratch_.append(key);
    n = next;
    if (last) break;
    i = end + 1;
    ++index;
  }
  if (!n->label) {
    const std::string* l = labels_.admit(scratch_);
    n->label = l == labels_.overflow_value() ? &kNoLabel : l;
  }
  if (n->label == &kNoLabel) {
    ++overflowed_;
    return nullptr;
  }
  return n->label;
}

}  // namespace aster
