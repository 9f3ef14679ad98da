// CaptureWriter/CaptureReader: frames come back as written, a file cut by a
// kill replays up to its last whole frame and says so, and a capture is
// private (mode 0600, never written through a symlink).
#include "capture/capture_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace aster {
namespace {

class CaptureFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aster-capture-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/c.cap";
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  ConfigSources sources() {
    ConfigSources s;
    s.argv = {"--target.port=80", "--metrics.prefix=x"};
    s.env = {{"ASTER_CAPTURE_BYTES", "512"}};
    s.config_path = "/etc/x.yaml";
    s.config_text = "capture:\n  bytes: 512\n";
    return s;
  }
  std::string dir_, path_;
};

TEST_F(CaptureFileTest, FramesComeBackAsWritten) {
  std::string err;
  {
    auto w = CaptureWriter::create(path_, sources(), &err);
    ASSERT_TRUE(w) << err;
    const char rec[] = "0123456789abc";  // 13 bytes: padded on disk
    w->ring_record(rec, 13);
    w->service(7, "checkout");
    w->release(42);
    w->end_batch(43);
    w->close();
  }
  auto r = CaptureReader::open(path_, &err);
  ASSERT_TRUE(r) << err;
  CaptureFrame t;
  std::vector<uint8_t> p;
  std::vector<std::string> items;
  ASSERT_TRUE(r->next(&t, &p));
  ASSERT_EQ(t, CaptureFrame::kConfig);
  ASSERT_TRUE(decode_strings(p, &items));
  EXPECT_EQ(items, (std::vector<std::string>{"argv", "--target.port=80", "--metrics.prefix=x"}));
  ASSERT_TRUE(r->next(&t, &p));
  ASSERT_TRUE(decode_strings(p, &items));
  EXPECT_EQ(items, (std::vector<std::string>{"env", "ASTER_CAPTURE_BYTES=512"}));
  ASSERT_TRUE(r->next(&t, &p));
  ASSERT_TRUE(decode_strings(p, &items));
  EXPECT_EQ(items, (std::vector<std::string>{"config_file", "/etc/x.yaml", "capture:\n  bytes: 512\n"}));
  ASSERT_TRUE(r->next(&t, &p));
  EXPECT_EQ(t, CaptureFrame::kRingRecord);
  EXPECT_EQ(std::string(p.begin(), p.end()), "0123456789abc");
  ASSERT_TRUE(r->next(&t, &p));
  EXPECT_EQ(t, CaptureFrame::kService);
  ASSERT_EQ(p.size(), 2u + 8u);
  EXPECT_EQ(p[0], 7);
  EXPECT_EQ(std::string(p.begin() + 2, p.end()), "checkout");
  ASSERT_TRUE(r->next(&t, &p));
  EXPECT_EQ(t, CaptureFrame::kRelease);
  ASSERT_TRUE(r->next(&t, &p));
  EXPECT_EQ(t, CaptureFrame::kEndBatch);
  EXPECT_FALSE(r->next(&t, &p));
  EXPECT_FALSE(r->truncated());
}

TEST_F(CaptureFileTest, PrivateAndNeverThroughASymlink) {
  std::string err;
  // An existing file with a wider mode is narrowed, not kept.
  FILE* f = fopen(path_.c_str(), "w");
  ASSERT_TRUE(f);
  fclose(f);
  ASSERT_EQ(chmod(path_.c_str(), 0644), 0);
  ASSERT_TRUE(CaptureWriter::create(path_, sources(), &err)) << err;
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string link = dir_ + "/link.cap";
  ASSERT_EQ(symlink(path_.c_str(), link.c_str()), 0);
  EXPECT_FALSE(CaptureWriter::create(link, sources(), &err));
  EXPECT_NE(err.find("--capture.record"), std::string::npos) << err;
}

TEST_F(CaptureFileTest, ACutFileReplaysItsWholeFramesAndSaysSo) {
  std::string err;
  {
    auto w = CaptureWriter::create(path_, sources(), &err);
    ASSERT_TRUE(w) << err;
    std::vector<uint8_t> rec(100, 'r');
    for (int i = 0; i < 10; ++i) w->ring_record(rec.data(), rec.size());
    w->close();
  }
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  ASSERT_EQ(truncate(path_.c_str(), st.st_size - 8 - 50), 0);  // the end marker and half a record
  auto r = CaptureReader::open(path_, &err);
  ASSERT_TRUE(r) << err;
  CaptureFrame t;
  std::vector<uint8_t> p;
  int records = 0;
  while (r->next(&t, &p)) records += t == CaptureFrame::kRingRecord;
  EXPECT_EQ(records, 9);
  EXPECT_TRUE(r->truncated());
}

TEST_F(CaptureFileTest, NotACaptureOrAnotherVersionIsAClearError) {
  std::string err;
  FILE* f = fopen(path_.c_str(), "w");
  ASSERT_TRUE(f);
  fputs("GET / HTTP/1.1\r\n\r\n", f);
  fclose(f);
  EXPECT_FALSE(CaptureReader::open(path_, &err));
  EXPECT_NE(err.find("not an aster-exporter capture"), std::string::npos) << err;
  f = fopen(path_.c_str(), "w");
  ASSERT_TRUE(f);
  uint32_t head[2] = {kCaptureVersion + 1, 0};
  fwrite(kCaptureMagic, 1, sizeof kCaptureMagic, f);
  fwrite(head, 1, sizeof head, f);
  fclose(f);
  EXPECT_FALSE(CaptureReader::open(path_, &err));
  EXPECT_NE(err.find("version"), std::string::npos) << err;
  EXPECT_FALSE(CaptureReader::open(dir_ + "/missing.cap", &err));
  EXPECT_NE(err.find("cannot read"), std::string::npos) << err;
}

}  // namespace
}  // namespace aster
