// The connection layer with protocols it has never heard of: a minimal
// line protocol defined here plugs in through model/protocol.h alone (no
// metrics, no capture code), gets each direction's bytes in order with
// their gaps, completes exchanges out of order, and can hand a connection
// over to another protocol mid-record. Also: detection before HTTP/1
// classification, and the per-connection cap on held records.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "model/protocol.h"
#include "protocols/registry.h"
#include "streams/connection_tracker.h"
#include "streams/tracker_feed.h"

namespace aster {
namespace {

constexpr uint8_t IN = ASTER_DIR_INGRESS;
constexpr uint8_t OUT = ASTER_DIR_EGRESS;

// Everything the protocols hand over, in order.
class RecordingSink : public ExchangeSink {
 public:
  struct Seen {
    AppProtocol protocol;
    std::string path;
    uint16_t status;
    bool request_seen;
    uint64_t first_ns, last_ns;
  };
  void on_exchange(const Exchange& x) override {
    seen.push_back({x.protocol, x.path ? *x.path : "", x.status, x.request_seen, x.first_byte_ns, x.last_byte_ns});
  }
  std::vector<Seen> seen;
};

// "ASK <id> <name>\n" in, "ANS <id> <code>\n" out, answered in any order;
// "SWITCH\n" in hands the connection to the protocol named "second",
// whose request <id> 1 is the last ASK.
class LineSession : public ProtocolSession {
 public:
  LineSession(const ConnectionContext& ctx, std::string* log) : ctx_(ctx), log_(log) {}
  void feed(uint8_t dir, const uint8_t* data, size_t len, uint64_t ts_ns) override {
    for (size_t i = 0; i < len; ++i) {
      if (switching_) {
        rest_.bytes.assign(data + i, data + len);
        rest_.dir = dir;
        rest_.ts_ns = ts_ns;
        return;
      }
      std::string& line = line_[dir];
      if (data[i] != '\n') {
        line.push_back(static_cast<char>(data[i]));
        continue;
      }
      on_line(dir, line, ts_ns);
      line.clear();
    }
  }
  void gap(uint8_t dir, uint64_t len, uint64_t) override {
    *log_ += "gap" + std::to_string(dir) + ":" + std::to_string(len) + ";";
    line_[dir].clear();  // a line cut by a gap is not trusted
  }
  void close(uint64_t) override { *log_ += "close;"; }
  Next next() const override { return switching_ ? Next::kSwitch : Next::kContinue; }
  std::string_view switch_to() const override { return "second"; }
  const Handover* handover() const override { return &handover_; }
  Unconsumed take_unconsumed() override { return std::move(rest_); }

 private:
  void on_line(uint8_t dir, const std::string& line, uint64_t ts) {
    char name[64] = {};
    unsigned id = 0, code = 0;
    if (dir == IN && line == "SWITCH") {
      switching_ = true;
    } else if (dir == IN && std::sscanf(line.c_str(), "ASK %u %63s", &id, name) == 2) {
      asks_[id] = {name, ts};
      handover_.path = std::string("/") + name;
      handover_.first_byte_ns = ts;
    } else if (dir == OUT && std::sscanf(line.c_str(), "ANS %u %u", &id, &code) == 2) {
      auto it = asks_.find(id);
      Exchange x;
      x.service_id = ctx_.service_id;
      x.protocol = AppProtocol::kHttp2;  // any protocol but HTTP/1's
      std::string path = it == asks_.end() ? "" : "/" + it->second.first;
      x.request_seen = it != asks_.end();
      x.path = &path;
      x.status = static_cast<uint16_t>(code);
      x.first_byte_ns = it == asks_.end() ? 0 : it->second.second;
      x.last_byte_ns = ts;
      ctx_.sink->on_exchange(x);
      if (it != asks_.end()) asks_.erase(it);
    }
  }
  ConnectionContext ctx_;
  std::string* log_;
  std::string line_[2];
  std::map<unsigned, std::pair<std::string, uint64_t>> asks_;
  bool switching_ = false;
  Handover handover_;
  Unconsumed rest_;
};

class LineProtocol : public Protocol {
 public:
  std::string_view name() const override { return "line"; }
  Detection detect(const FirstBytes& b) const override {
    if (b.len < 4) return std::memcmp(b.data, "ASK ", b.len) == 0 ? Detection::kNeedMore : Detection::kNotMine;
    if (std::memcmp(b.data, "ASK ", 4) == 0) return b.dir == IN ? Detection::kServer : Detection::kClient;
    return Detection::kNotMine;
  }
  std::unique_ptr<ProtocolSession> open(const ConnectionContext& ctx, const Handover*) const override {
    return std::make_unique<LineSession>(ctx, &log);
  }
  mutable std::string log;
};

// Takes over after SWITCH: counts every byte it gets, and reports the
// handed-over request as its first exchange when it sees "DONE".
class SecondSession : public ProtocolSession {
 public:
  SecondSession(const ConnectionContext& ctx, const Handover* h, std::string* got)
      : ctx_(ctx), inherited_(h ? *h : Handover{}), got_(got) {}
  void feed(uint8_t, const uint8_t* data, size_t len, uint64_t ts) override {
    got_->append(reinterpret_cast<const char*>(data), len);
    if (got_->find("DONE") != std::string::npos && !reported_) {
      reported_ = true;
      Exchange x;
      x.path = &inherited_.path;
      x.status = 200;
      x.first_byte_ns = inherited_.first_byte_ns;
      x.last_byte_ns = ts;
      ctx_.sink->on_exchange(x);
    }
  }
  void gap(uint8_t, uint64_t, uint64_t) override {}
  void close(uint64_t) override {}

 private:
  ConnectionContext ctx_;
  Handover inherited_;
  std::string* got_;
  bool reported_ = false;
};

class SecondProtocol : public Protocol {
 public:
  std::string_view name() const override { return "second"; }
  Detection detect(const FirstBytes&) const override { return Detection::kNotMine; }
  std::unique_ptr<ProtocolSession> open(const ConnectionContext& ctx, const Handover* h) const override {
    return std::make_unique<SecondSession>(ctx, h, &got);
  }
  mutable std::string got;
};

using Feed = TrackerFeed<RecordingSink>;

TEST(ProtocolPlugin, ASecondProtocolPlugsInAndCompletesOutOfOrder) {
  LineProtocol line;
  std::vector<const Protocol*> protocols = builtin_protocols();
  protocols.insert(protocols.begin(), &line);
  Feed f(protocols);
  f.data(1, IN, "ASK 1 alpha\nASK 2 beta\n", 10);
  f.data(1, OUT, "ANS 2 204\n", 20);  // the second request is answered first
  f.data(1, OUT, "ANS 1 200\nANS 9 500\n", 30);
  // An HTTP/1 connection beside it still goes to HTTP/1.
  f.data(2, IN, "GET /h HTTP/1.1\r\n\r\n", 40);
  f.data(2, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 50);
  ASSERT_EQ(f.sink.seen.size(), 4u);
  EXPECT_EQ(f.sink.seen[0].path, "/beta");
  EXPECT_EQ(f.sink.seen[0].status, 204);
  EXPECT_EQ(f.sink.seen[0].first_ns, 10u);
  EXPECT_EQ(f.sink.seen[1].path, "/alpha");
  EXPECT_FALSE(f.sink.seen[2].request_seen) << "an answer to nothing asked";
  EXPECT_EQ(f.sink.seen[3].protocol, AppProtocol::kHttp1);
  EXPECT_EQ(f.sink.seen[3].path, "/h");
  EXPECT_EQ(f.stats.requests_recorded.get(), 1u) << "only HTTP/1 counts its own";
}

TEST(ProtocolPlugin, BytesArriveInStreamOrderWithTheirGaps) {
  LineProtocol line;
  Feed f({&line});
  f.data(1, IN, "ASK 1 a\n", 10);
  f.at(1, IN, 8 + 100, "ASK 3 c\n", 30);         // ahead of a record still on its way
  f.at(1, IN, 8, std::string(100, 'x'), 20, 0);  // arrives late, nothing captured
  f.data(1, OUT, "ANS 3 200\n", 40);
  EXPECT_EQ(line.log, "gap0:100;");
  ASSERT_EQ(f.sink.seen.size(), 1u);
  EXPECT_EQ(f.sink.seen[0].path, "/c");
  EXPECT_EQ(f.stats.chunks_reordered.get(), 1u);
  f.close(1);
  EXPECT_EQ(line.log, "gap0:100;close;");
}

TEST(ProtocolPlugin, AConnectionSwitchesProtocolMidRecord) {
  LineProtocol line;
  SecondProtocol second;
  Feed f({&line, &second});
  f.data(1, IN, "ASK 1 up\nSWITCH\nframe-a ", 10);
  f.data(1, IN, "frame-b DONE", 20);
  EXPECT_EQ(second.got, "frame-a frame-b DONE")
      << "the bytes after the switch in the same record are the new protocol's";
  ASSERT_EQ(f.sink.seen.size(), 1u);
  EXPECT_EQ(f.sink.seen[0].path, "/up") << "the request that asked to switch is handed over";
  EXPECT_EQ(f.sink.seen[0].first_ns, 10u);
}

TEST(ProtocolPlugin, TheHttp2PrefaceIsHttp2sNotAnHttp1Request) {
  // It has the shape of a request line ("PRI * HTTP/2.0"): HTTP/2, asked
  // first, claims it, and HTTP/1 never parses the binary frames after it.
  Feed f(builtin_protocols());
  f.data(1, IN, std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string("\0\0\0\4\0\0\0\0\0", 9), 10);
  f.data(1, OUT, std::string("\0\0\0\4\0\0\0\0\0", 9), 20);
  f.data(1, IN, "GET /not-really HTTP/1.1\r\n\r\n", 30);
  f.data(1, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 40);
  EXPECT_TRUE(f.sink.seen.empty());
  EXPECT_EQ(f.stats.h2_connections_start.get(), 1u) << "decided at the preface";
  EXPECT_EQ(f.stats.connections_not_http.get(), 0u);
  EXPECT_EQ(f.stats.parse_errors[static_cast<int>(ParseError::kResync)].get(), 0u);
  // HTTP/1 alone leaves it to the answer: frames are nobody's protocol.
  Feed h1({builtin_protocols().back()});
  h1.data(1, IN, std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 10);
  h1.data(1, OUT, std::string("\0\0\0\4\0\0\0\0\0", 9), 20);
  EXPECT_EQ(h1.stats.connections_not_http.get(), 1u);
}

TEST(ProtocolPlugin, HeldRecordsAreCappedPerConnection) {
  LineProtocol line;
  Feed f({&line});
  f.data(1, IN, "ASK 1 a\n", 10);
  // A hole of 10 bytes that never fills, then 1.5 MiB of records behind it.
  const std::string block(60000, 'z');
  uint64_t pos = 8 + 10;
  for (int i = 0; i < 26; ++i, pos += block.size()) f.at(1, IN, pos, block, 20 + i);
  EXPECT_EQ(f.stats.held_bytes_capped.get(), 1u);
  EXPECT_EQ(f.stats.gap_lost.get(), 10u) << "the hole was declared lost once the cap was reached";
  EXPECT_EQ(line.log, "gap0:10;");
  f.data(1, OUT, "ANS 1 200\n", 100);
  EXPECT_EQ(f.sink.seen.size(), 1u);
}

}  // namespace
}  // namespace aster
