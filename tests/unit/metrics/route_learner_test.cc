// Labels for paths no template matched: heuristics, learning, budgets.
#include "metrics/route_learner.h"

#include <gtest/gtest.h>

namespace aster {
namespace {

RouteLearner::Limits limits(uint32_t threshold, uint32_t labels = 1000, uint32_t nodes = 8000) {
  RouteLearner::Limits l;
  l.learn_threshold = threshold;
  l.max_labels = labels;
  l.max_nodes = nodes;
  return l;
}

std::string label(RouteLearner& r, const std::string& path) {
  const std::string* l = r.label(path);
  return l ? *l : std::string("<none>");
}

TEST(RouteLearner, HeuristicsCollapseIdentifiers) {
  RouteLearner r(limits(50));
  EXPECT_EQ(label(r, "/v1/agents/42/logs/7"), "/v1/agents/:id/logs/:id");
  EXPECT_EQ(label(r, "/u/123e4567-e89b-12d3-a456-426614174000"), "/u/:id");
  EXPECT_EQ(label(r, "/blob/0123456789abcdef0123"), "/blob/:id");
  EXPECT_EQ(label(r, "/t/eyJhbGciOiJIUzI1NiJ9x1y2"), "/t/:id");
  EXPECT_EQ(label(r, "/v2/healthz"), "/v2/healthz");
  EXPECT_EQ(label(r, "/deadbeef"), "/deadbeef");
  EXPECT_EQ(label(r, "/"), "/");
  EXPECT_EQ(label(r, "/a//b/"), "/a//b/");
  EXPECT_EQ(label(r, "*"), "*");
  EXPECT_EQ(label(r, "/caf\xc3\xa9/\x01x"), "/caf__/_x");
  EXPECT_EQ(r.label("/v1/agents/1/logs/2"), r.label("/v1/agents/3/logs/4")) << "same label, same string";
}

TEST(RouteLearner, CollapsesAPositionPastTheThresholdForGood) {
  RouteLearner r(limits(5));
  for (int i = 0; i < 5; ++i) {
    std::string name = "user" + std::string(1, 'a' + i);
    EXPECT_EQ(label(r, "/users/" + name + "/profile"), "/users/" + name + "/profile");
  }
  EXPECT_EQ(r.collapses(), 0u);
  EXPECT_EQ(label(r, "/users/userf/profile"), "/users/:param/profile") << "the sixth distinct value";
  EXPECT_EQ(r.collapses(), 1u);
  EXPECT_EQ(label(r, "/users/usera/profile"), "/users/:param/profile") << "values seen before collapse too";
  EXPECT_EQ(label(r, "/users/42"), "/users/:param") << "identifiers too";
  EXPECT_EQ(label(r, "/users"), "/users") << "the prefix itself is untouched";
  // Other prefixes keep their own counts.
  EXPECT_EQ(label(r, "/teams/red"), "/teams/red");
}

TEST(RouteLearner, IdentifiersCountAsOneValue) {
  RouteLearner r(limits(3));
  for (int i = 0; i < 1000; ++i) label(r, "/orders/" + std::to_string(i));
  EXPECT_EQ(label(r, "/orders/7"), "/orders/:id");
  EXPECT_EQ(r.collapses(), 0u);
}

TEST(RouteLearner, NeverCollapsesTheFirstSegment) {
  RouteLearner r(limits(3, 10));
  for (int i = 0; i < 8; ++i) label(r, "/page" + std::string(1, 'a' + i));
  EXPECT_EQ(r.collapses(), 0u);
  EXPECT_EQ(label(r, "/pagea"), "/pagea");
  EXPECT_EQ(label(r, "/pagez"), "/pagez");
  EXPECT_EQ(label(r, "/pagey"), "/pagey");  // the tenth label
  EXPECT_EQ(label(r, "/pagex"), "<none>") << "past the label budget";
  EXPECT_EQ(r.overflowed(), 1u);
  EXPECT_EQ(label(r, "/pagex"), "<none>") << "refused for good";
  EXPECT_EQ(r.overflowed(), 2u);
}

TEST(RouteLearner, ThresholdZeroTurnsLearningOff) {
  RouteLearner r(limits(0, 100000, 100000));
  for (int i = 0; i < 500; ++i) label(r, "/u/name" + std::to_string(i) + "x");
  EXPECT_EQ(r.collapses(), 0u);
  EXPECT_EQ(r.label_count(), 500u);
}

TEST(RouteLearner, NodeBudgetBoundsMemoryWhateverTheTraffic) {
  RouteLearner r(limits(0, 100000, 200));
  int refused = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string p = "/a" + std::to_string(i % 97) + "x/b" + std::to_string(i) + "y/c";
    refused += r.label(p) == nullptr;
  }
  EXPECT_LE(r.node_count(), 200u);
  EXPECT_GT(refused, 9000);
  EXPECT_EQ(r.overflowed(), static_cast<uint64_t>(refused));
}

TEST(RouteLearner, CollapseFreesTheCollapsedSubtrees) {
  RouteLearner r(limits(50));
  for (int i = 0; i < 50; ++i) label(r, "/u/name" + std::string(1, 'a' + i % 26) + std::string(1, 'a' + i / 26) + "/x/y/z");
  size_t before = r.node_count();
  label(r, "/u/another/x/y/z");
  EXPECT_LT(r.node_count(), before / 10);
  // Distinct names by the hundred thousand: bounded, one label.
  for (int i = 0; i < 100000; ++i) label(r, "/u/n" + std::to_string(i) + "q/x/y/z");
  EXPECT_LT(r.node_count(), 20u);
  EXPECT_EQ(label(r, "/u/zzz/x/y/z"), "/u/:param/x/y/z");
}

}  // namespace
}  // namespace aster
