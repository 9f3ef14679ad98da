// Path label values: identifiers collapsed, bytes sanitised, series bounded.
#include "metrics/path_normalizer.h"

#include <gtest/gtest.h>

namespace aster {
namespace {

TEST(CollapseIdentifiers, CollapsesIdsKeepsWords) {
  EXPECT_EQ(collapse_identifiers("/v1/agents/42"), "/v1/agents/:id");
  EXPECT_EQ(collapse_identifiers("/v1/agents/42/logs/7"), "/v1/agents/:id/logs/:id");
  EXPECT_EQ(collapse_identifiers("/u/123e4567-e89b-12d3-a456-426614174000"), "/u/:id");
  EXPECT_EQ(collapse_identifiers("/blob/0123456789abcdef0123"), "/blob/:id");
  EXPECT_EQ(collapse_identifiers("/t/eyJhbGciOiJIUzI1NiJ9x1y2"), "/t/:id");
  EXPECT_EQ(collapse_identifiers("/v2/healthz"), "/v2/healthz");
  EXPECT_EQ(collapse_identifiers("/deadbeef"), "/deadbeef") << "short hex words stay";
  EXPECT_EQ(collapse_identifiers("/"), "/");
  EXPECT_EQ(collapse_identifiers("/a//b/"), "/a//b/");
  EXPECT_EQ(collapse_identifiers("*"), "*");
}

TEST(CollapseIdentifiers, NonPrintableBytesBecomeUnderscore) {
  std::string raw = "/caf\xc3\xa9/\x01x";
  EXPECT_EQ(collapse_identifiers(raw), "/caf__/_x");
}

TEST(PathBudget, CapsDistinctValuesAndCountsOverflow) {
  PathBudget b(3);
  const std::string* a = b.admit("/a");
  EXPECT_EQ(*a, "/a");
  EXPECT_EQ(b.admit("/a"), a) << "known values are interned";
  b.admit("/b");
  b.admit("/c");
  EXPECT_EQ(*b.admit("/d"), std::string(kOverflowPath));
  EXPECT_EQ(*b.admit("/e"), std::string(kOverflowPath));
  EXPECT_EQ(*b.admit("/b"), "/b") << "values admitted before the cap keep their own series";
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b.overflowed(), 2u);
  EXPECT_EQ(b.admit("/f"), b.overflow_value()) << "one overflow value, comparable by address";
}

}  // namespace
}  // namespace aster
