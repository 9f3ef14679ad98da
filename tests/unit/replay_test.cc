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
#include <unistd.h>

#include <cstring>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "capture/capture_file.h"
#include "model/exchange.h"
#include "streams/data_record.h"

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

// A capture file of its own, written by the test, removed after.
struct TempCapture {
  TempCapture() {
    if (!mkdtemp(dir)) return;
    path = std::string(dir) + "/t.cap";
    ConfigSources sources;
    sources.argv = {"--target.port=80"};
    writer = CaptureWriter::create(path, sources, &error);
  }
  ~TempCapture() {
    writer.reset();
    std::remove(path.c_str());
    rmdir(dir);
  }
  char dir[32] = "/tmp/aster-replay-XXXXXX";
  std::string path, error;
  std::unique_ptr<CaptureWriter> writer;
};

// One GET /x and its 200 on `conn`, tagged with `service`, written as a
// drain of its own (released, batch ended).
void write_exchange(CaptureWriter& w, uint64_t conn, uint16_t service, uint64_t& ts) {
  const std::string req = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  for (auto rec : {data_record(conn, ASTER_DIR_INGRESS, 0, req, ts++), data_record(conn, ASTER_DIR_EGRESS, 0, resp, ts++)}) {
    aster_event ev;
    std::memcpy(&ev, rec.data(), sizeof ev);
    ev.service_id = service;
    std::memcpy(rec.data(), &ev, sizeof ev);
    w.ring_record(rec.data(), rec.size());
  }
  w.release(ts);
  w.end_batch(ts);
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

// An expiry is recorded where it happened, and an id handed out again is
// named anew: the replay drops the first service's series there and counts
// the id's next owner from zero, as the live exporter did.
TEST(Replay, AnExpiryAndAReusedIdReplayAsTheyHappened) {
  TempCapture cap;
  ASSERT_TRUE(cap.writer) << cap.error;
  CaptureWriter* w = cap.writer.get();
  uint64_t ts = 1000;
  auto exchange = [&](uint64_t conn) { write_exchange(*w, conn, 0, ts); };
  w->service(0, "first");
  exchange(1);
  exchange(2);
  w->service_expired(0, static_cast<uint8_t>(ExpiryReason::kGone));
  w->service(0, "second");
  exchange(3);
  w->close();
  ReplayResult r = replay_capture(cap.path);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exposition.find("service=\"first\""), std::string::npos) << r.exposition;
  EXPECT_NE(r.exposition.find("aster_http_requests_total{method=\"GET\",path=\"/x\",service=\"second\",status=\"2xx\"} 1\n"),
            std::string::npos)
      << r.exposition;
  EXPECT_NE(r.exposition.find("aster_exporter_series_expired_total{reason=\"gone\"} 4\n"), std::string::npos)
      << r.exposition;
}

// A workload's identity is recorded with its id (kWorkload after
// kService), so the replay labels its series as the live exporter did; a
// reused id named for a host process carries none of the old facts.
TEST(Replay, AWorkloadsIdentityLabelsItsReplayedSeries) {
  TempCapture cap;
  ASSERT_TRUE(cap.writer) << cap.error;
  CaptureWriter* w = cap.writer.get();
  uint64_t ts = 1000;
  auto exchange = [&](uint64_t conn, uint16_t service) { write_exchange(*w, conn, service, ts); };
  WorkloadIdentity pod;
  pod.service = "checkout";
  pod.service_namespace = "shop";
  pod.k8s_namespace_name = "prod";
  pod.k8s_pod_name = "checkout-7d9f8b6c5d-x2k4p";
  pod.k8s_container_name = "app";
  pod.k8s_owner_kind = "Deployment";
  pod.k8s_owner_name = "checkout";
  pod.k8s_pod_uid = "0b4c";
  w->workload(0, pod);
  WorkloadIdentity cart = pod;
  cart.service = cart.k8s_owner_name = "cart";
  cart.k8s_pod_name = "cart-0";
  w->workload(1, cart);
  exchange(1, 0);
  exchange(2, 1);
  // Id 1 goes and comes back as a host process: none of the pod's labels.
  w->service_expired(1, static_cast<uint8_t>(ExpiryReason::kGone));
  WorkloadIdentity later;
  later.service = "later";
  w->workload(1, later);
  exchange(3, 1);
  w->close();
  ReplayResult r = replay_capture(cap.path);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_NE(r.exposition.find("aster_http_requests_total{k8s_container_name=\"app\",k8s_namespace_name=\"prod\","
                              "k8s_owner_kind=\"Deployment\",k8s_owner_name=\"checkout\","
                              "k8s_pod_name=\"checkout-7d9f8b6c5d-x2k4p\",method=\"GET\",path=\"/x\","
                              "service=\"checkout\",service_namespace=\"shop\",status=\"2xx\"} 1\n"),
            std::string::npos)
      << r.exposition;
  EXPECT_EQ(r.exposition.find("0b4c"), std::string::npos) << "the pod uid is no series label";
  EXPECT_EQ(r.exposition.find("cart"), std::string::npos) << "expired";
  EXPECT_NE(r.exposition.find("aster_http_requests_total{method=\"GET\",path=\"/x\",service=\"later\",status=\"2xx\"} 1\n"),
            std::string::npos)
      << r.exposition;
}

TEST(Replay, AWorkloadFrameRoundTrips) {
  WorkloadIdentity in;
  in.service = "ignored";  // kService's
  in.k8s_pod_uid = "u=1";  // a value may hold '='
  in.systemd_unit = "a.service";
  uint16_t id = 0;
  WorkloadIdentity out;
  ASSERT_TRUE(decode_workload(encode_workload(7, in), &id, &out));
  EXPECT_EQ(id, 7);
  EXPECT_EQ(out.service, "");
  EXPECT_EQ(out.k8s_pod_uid, "u=1");
  EXPECT_EQ(out.systemd_unit, "a.service");
  std::vector<uint8_t> damaged = encode_workload(7, in);
  damaged.resize(damaged.size() - 3);
  EXPECT_FALSE(decode_workload(damaged, &id, &out));
  std::vector<uint8_t> later = encode_workload(7, WorkloadIdentity{});
  std::vector<uint8_t> extra = encode_strings({"k8s_node_name=n1"});  // a later build's field: skipped
  later.insert(later.end(), extra.begin(), extra.end());
  WorkloadIdentity skipped;
  ASSERT_TRUE(decode_workload(later, &id, &skipped));
  EXPECT_EQ(skipped, WorkloadIdentity{});
}

}  // namespace
}  // namespace aster
