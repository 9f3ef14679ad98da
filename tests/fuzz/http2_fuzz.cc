// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for HTTP/2: the HPACK decoder differentially against
// nghttp2's, and the session's framing on arbitrary bytes.
//
// Input layout: 8 seed bytes, then the bytes. They are read three ways:
//  1. as header blocks (cut by the seed) for both our decoder and nghttp2's
//     inflater, both seeing the connection from its start: whenever
//     nghttp2 accepts a block, ours must accept it with the same fields;
//  2. as header lists nghttp2's encoder writes (with table size changes),
//     which ours must decode exactly, and a late decoder must decode
//     without a wrong field;
//  3. as the two directions of a connection (cut into transfers, some tails
//     uncaptured) fed to a session, which must not break an invariant.
#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#include "protocols/http2/h2_wire.h"  // nghttp2, as the unit tests use it
#include "protocols/http2/hpack_decoder.h"
#include "protocols/http2/http2_session.h"

namespace {

using aster::h2test::Fields;

using fuzz::Check;
using fuzz::Rng;

struct Collect : aster::HpackFieldSink {
  void on_field(const aster::HpackField& f) override {
    fields.emplace_back(f.known ? std::string(f.name) : "\x01?", f.known ? std::string(f.value) : "");
  }
  Fields fields;
};

// nghttp2's decoding of one block; false when it refuses it.
bool Inflate(aster::h2test::Inflater& in, const uint8_t* p, size_t n, Fields* out) {
  return in.decode(std::string(reinterpret_cast<const char*>(p), n), out);
}

void RawBlocks(const uint8_t* p, size_t n, Rng& rng) {
  aster::h2test::Inflater oracle;
  aster::HpackDecoder mine(true);
  while (n > 0) {
    size_t len = 1 + rng.Next() % (n < 64 ? n : 64);
    Fields want;
    if (!Inflate(oracle, p, len, &want)) break;  // nghttp2's state is gone after a refusal
    Collect got;
    Check(mine.decode(p, len, got), "a block nghttp2 accepts is accepted");
    Check(got.fields == want, "the same fields as nghttp2");
    p += len;
    n -= len;
  }
}

void Encoded(const uint8_t* p, size_t n, Rng& rng) {
  nghttp2_hd_deflater* enc = nullptr;
  aster::h2test::Inflater oracle;
  Check(nghttp2_hd_deflate_new(&enc, 4096) == 0, "deflate_new");
  aster::HpackDecoder mine(true);
  aster::HpackDecoder late(false);
  size_t blocks = 0;
  while (n > 0) {
    // A list of up to 8 fields whose names and values are input bytes.
    Fields fields;
    size_t count = 1 + rng.Next() % 8;
    for (size_t i = 0; i < count && n > 0; ++i) {
      size_t nl = 1 + rng.Next() % (n < 12 ? n : 12);
      std::string name(reinterpret_cast<const char*>(p), nl);
      p += nl;
      n -= nl;
      size_t vl = n ? rng.Next() % (n < 40 ? n + 1 : 41) : 0;
      std::string value(reinterpret_cast<const char*>(p), vl);
      p += vl;
      n -= vl;
      fields.emplace_back(name, value);
    }
    if (rng.Next() % 16 == 0) Check(nghttp2_hd_deflate_change_table_size(enc, rng.Next() % 5000) == 0, "size");
    std::vector<nghttp2_nv> nv;
    for (auto& [a, b] : fields) {
      nv.push_back({reinterpret_cast<uint8_t*>(a.data()), reinterpret_cast<uint8_t*>(b.data()), a.size(), b.size(),
                    uint8_t(rng.Next() % 5 == 0 ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE)});
    }
    std::vector<uint8_t> block(nghttp2_hd_deflate_bound(enc, nv.data(), nv.size()));
    ssize_t len = nghttp2_hd_deflate_hd(enc, block.data(), block.size(), nv.data(), nv.size());
    Check(len >= 0, "deflate");
    Fields want;
    Check(Inflate(oracle, block.data(), static_cast<size_t>(len), &want), "nghttp2 reads its own block");
    Collect got;
    Check(mine.decode(block.data(), static_cast<size_t>(len), got), "ours reads nghttp2's block");
    Check(got.fields == want, "the same fields as nghttp2");
    if (++blocks > 2) {  // the late decoder attaches at the third block
      Collect partial;
      Check(late.decode(block.data(), static_cast<size_t>(len), partial), "late: reads the block");
      Check(partial.fields.size() == want.size(), "late: as many fields");
      for (size_t i = 0; i < want.size(); ++i) {
        Check(partial.fields[i].first == "\x01?" || partial.fields[i] == want[i], "late: known fields are right");
      }
    }
  }
  nghttp2_hd_deflate_del(enc);
}

class CheckingSink : public aster::ExchangeSink {
 public:
  void on_exchange(const aster::Exchange& x) override {
    Check(x.path != nullptr, "a path pointer");
    Check(x.path->size() <= aster::Http2Session::kMaxPathBytes, "path within its cut");
    Check(x.path->find('?') == std::string::npos, "no query string");
    Check(x.status < 1000, "a three-digit status or 0");
    Check(!x.request_seen || x.first_byte_ns <= x.last_byte_ns, "time runs forward");
  }
  bool wants_request_events() const override { return true; }
  void on_request_start(uint16_t, aster::HttpMethod, std::string_view) override { ++open; }
  void on_request_end(uint16_t, aster::HttpMethod, std::string_view) override {
    Check(open > 0, "an end for each start");
    --open;
  }
  long open = 0;
};

void Session(const uint8_t* p, size_t n, Rng& rng) {
  aster::PipelineStats stats;
  CheckingSink sink;
  {
    aster::ConnectionContext ctx;
    ctx.stats = &stats;
    ctx.sink = &sink;
    aster::Http2Session s(ctx, nullptr);
    uint64_t ts = 1;
    // Half the inputs start as a fresh connection.
    static const char kStart[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    if (rng.Next() & 1) s.feed(0, reinterpret_cast<const uint8_t*>(kStart), sizeof kStart - 1, ts++);
    while (n > 0) {
      size_t len = 1 + rng.Next() % (n < 300 ? n : 300);
      uint8_t dir = rng.Next() & 1;
      size_t captured = rng.Next() % 4 == 0 ? rng.Next() % (len + 1) : len;
      s.feed(dir, p, captured, ts);
      if (captured < len) s.gap(dir, len - captured, ts);
      ts += rng.Next() % 3;
      p += len;
      n -= len;
    }
    s.close(ts);
  }
  Check(sink.open == 0, "every request start ended");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t seed;
  std::memcpy(&seed, data, 8);
  data += 8;
  size -= 8;
  Rng rng{seed | 1};
  RawBlocks(data, size, rng);
  Encoded(data, size, rng);
  Session(data, size, rng);
  return 0;
}
