// The captures in tests/captures were recorded from the integration
// suite's real servers (tests/integration/test_capture.py, which also
// checks that each replay equals the live exporter's metrics). Each must
// replay to its golden exposition, byte for byte: a change to the pipeline
// that changes what a capture gives shows here first.
//
// Regenerate a golden only for an intended change of output:
//   ASTER_UPDATE_GOLDENS=1 build/aster_unit_tests --gtest_filter='ReplayGolden*'
#include "replay.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace aster {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> captures() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(ASTER_CAPTURES_DIR)) {
    if (e.path().extension() == ".cap") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first line where two expositions differ, for the failure message.
std::string first_difference(const std::string& want, const std::string& got) {
  std::istringstream a(want), b(got);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool ea = !std::getline(a, la), eb = !std::getline(b, lb);
    if (ea && eb) return "none";
    if (ea || eb || la != lb) {
      return "line " + std::to_string(line) + ":\n  golden: " + (ea ? "<end>" : la) + "\n  replay: " + (eb ? "<end>" : lb);
    }
  }
}

TEST(ReplayGolden, EveryRecordedServerReplaysToItsGolden) {
  auto files = captures();
  // nginx, Python, Node.js, Go (under load and streaming), Apache, and a
  // capture with gaps at least.
  ASSERT_GE(files.size(), 7u) << "captures missing from " << ASTER_CAPTURES_DIR;
  bool update = std::getenv("ASTER_UPDATE_GOLDENS") != nullptr;
  for (const auto& cap : files) {
    SCOPED_TRACE(cap.filename().string());
    ReplayResult r = replay_capture(cap.string());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.warning, "");
    EXPECT_GT(r.requests, 0u);
    fs::path golden = cap;
    golden.replace_extension(".prom");
    if (update) {
      std::ofstream(golden) << r.exposition;
      continue;
    }
    std::string want = read(golden);
    ASSERT_FALSE(want.empty()) << "no golden " << golden;
    EXPECT_TRUE(want == r.exposition) << "replay differs from " << golden.filename() << " at "
                                      << first_difference(want, r.exposition);
  }
}

TEST(ReplayGolden, AReplayIsTheSameEveryTime) {
  auto files = captures();
  ASSERT_FALSE(files.empty());
  ReplayResult a = replay_capture(files.front().string());
  ReplayResult b = replay_capture(files.front().string());
  ASSERT_TRUE(a.ok && b.ok);
  EXPECT_EQ(a.exposition, b.exposition);
}

TEST(Replay, ACaptureThatIsNotThereIsAClearError) {
  ReplayResult r = replay_capture("/nonexistent/x.cap");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("cannot read the capture file"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace aster
