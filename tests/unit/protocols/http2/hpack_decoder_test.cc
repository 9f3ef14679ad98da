// The HPACK decoder against nghttp2 (Debian's libnghttp2) as its oracle:
// every block nghttp2's encoder writes decodes to what nghttp2's decoder
// reads, seen from the start; attached late, every field it reports is
// nghttp2's field at that place and the rest are reported unknown.
#include <gtest/gtest.h>

#include <random>

#include "protocols/http2/h2_wire.h"
#include "protocols/http2/hpack_decoder.h"
#include "protocols/http2/hpack_huffman.h"

namespace aster {
namespace {

using h2test::Deflater;
using h2test::Fields;
using h2test::Inflater;

struct Collected : HpackFieldSink {
  void on_field(const HpackField& f) override {
    if (f.known) {
      fields.emplace_back(std::string(f.name), std::string(f.value));
    } else {
      fields.emplace_back("?", "?");
      ++unknown;
    }
  }
  Fields fields;
  int unknown = 0;
};

// Requests and responses as clients and servers write them: a few paths
// and values that repeat (so the table is used), some that do not, long
// ones (so entries are evicted), Huffman-friendly and unfriendly bytes.
Fields random_fields(std::mt19937& rng, bool request) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  Fields f;
  if (request) {
    const char* methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
    f.emplace_back(":method", methods[pick(5)]);
    f.emplace_back(":scheme", "http");
    f.emplace_back(":authority", "127.0.0.1:" + std::to_string(8000 + pick(3)));
    f.emplace_back(":path", "/api/items/" + std::to_string(pick(40)) + (pick(3) == 0 ? "?q=" + std::to_string(rng()) : ""));
    f.emplace_back("user-agent", "h2load nghttp2/1.52.0");
    if (pick(2)) f.emplace_back("x-request-id", std::to_string(rng()));
  } else {
    const char* statuses[] = {"200", "204", "404", "500", "201", "503"};
    f.emplace_back(":status", statuses[pick(6)]);
    f.emplace_back("server", "nghttpd nghttp2/1.52.0");
    f.emplace_back("content-length", std::to_string(pick(100000)));
  }
  if (pick(4) == 0) {
    std::string big(static_cast<size_t>(200 + pick(3000)), 'a');
    for (auto& c : big) c = static_cast<char>(pick(256));
    f.emplace_back("x-blob", big);
  }
  return f;
}

TEST(HpackHuffman, TheCodeIsCanonical) {
  // Codes of one length are consecutive in symbol order, each length's
  // first code following on from the shorter ones (what the decoder's
  // one-comparison-per-bit table relies on).
  uint32_t code = 0;
  int prev_len = 0;
  std::vector<int> order(kHuffmanSymbols);
  for (int i = 0; i < kHuffmanSymbols; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [](int a, int b) { return kHuffmanLen[a] < kHuffmanLen[b]; });
  for (size_t k = 0; k < order.size(); ++k) {
    int s = order[k];
    if (k > 0) code = (code + 1) << (kHuffmanLen[s] - prev_len);
    prev_len = kHuffmanLen[s];
    ASSERT_EQ(kHuffmanCode[s], code) << "symbol " << s;
  }
}

TEST(HpackHuffman, RejectsWhatTheRfcForbids) {
  std::string out;
  const uint8_t eos[] = {0xff, 0xff, 0xff, 0xfc};  // EOS (30 ones) and padding
  EXPECT_FALSE(huffman_decode(eos, sizeof eos, out));
  const uint8_t long_pad[] = {0xff};  // 8 bits of padding
  EXPECT_FALSE(huffman_decode(long_pad, 1, out));
  const uint8_t zero_pad[] = {0x00};  // '0' (00000) then padding 000: not ones
  EXPECT_FALSE(huffman_decode(zero_pad, 1, out));
  out.clear();
  const uint8_t www[] = {0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff};  // RFC 7541 C.4.1
  EXPECT_TRUE(huffman_decode(www, sizeof www, out));
  EXPECT_EQ(out, "www.example.com");
}

TEST(HpackDecoder, SeenFromTheStartItDecodesWhatNghttp2Decodes) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    Deflater d(seed % 3 == 0 ? 0 : 4096);
    Inflater oracle;
    HpackDecoder mine(true);
    for (int i = 0; i < 300; ++i) {
      if (i % 97 == 50) d.change_table_size(static_cast<size_t>(rng() % 4097));  // dynamic table size updates
      std::string block = d.block(random_fields(rng, seed & 1), i % 11 == 0);
      Fields want;
      ASSERT_TRUE(oracle.decode(block, &want));
      Collected got;
      ASSERT_TRUE(mine.decode(reinterpret_cast<const uint8_t*>(block.data()), block.size(), got)) << seed << "/" << i;
      ASSERT_EQ(got.fields, want) << "seed " << seed << " block " << i;
      ASSERT_EQ(got.unknown, 0);
    }
    EXPECT_EQ(mine.epochs(), 0u);
  }
}

TEST(HpackDecoder, AttachedLateItReportsOnlyWhatItCanKnow) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    Deflater d;
    Inflater oracle;
    HpackDecoder late(false);
    int known = 0, unknown = 0;
    for (int i = 0; i < 300; ++i) {
      std::string block = d.block(random_fields(rng, seed & 1));
      Fields want;
      ASSERT_TRUE(oracle.decode(block, &want));
      if (i < 37) continue;  // before the attach
      Collected got;
      ASSERT_TRUE(late.decode(reinterpret_cast<const uint8_t*>(block.data()), block.size(), got));
      ASSERT_EQ(got.fields.size(), want.size());
      for (size_t k = 0; k < want.size(); ++k) {
        if (got.fields[k].first == "?") {
          ++unknown;
        } else {
          ++known;
          ASSERT_EQ(got.fields[k], want[k]) << "seed " << seed << " block " << i << " field " << k;
        }
      }
    }
    EXPECT_GT(known, unknown) << "the table fills again after the attach";
    EXPECT_EQ(late.epochs(), 1u);
  }
}

TEST(HpackDecoder, AfterALostBlockOnlyLaterEntriesAreUsed) {
  std::mt19937 rng(5);
  Deflater d;
  Inflater oracle;
  HpackDecoder mine(true);
  int unknown_after = 0;
  for (int i = 0; i < 200; ++i) {
    std::string block = d.block(random_fields(rng, true));
    Fields want;
    ASSERT_TRUE(oracle.decode(block, &want));
    if (i == 60) {
      mine.lose_block();
      continue;
    }
    Collected got;
    ASSERT_TRUE(mine.decode(reinterpret_cast<const uint8_t*>(block.data()), block.size(), got));
    for (size_t k = 0; k < want.size(); ++k) {
      if (got.fields[k].first != "?") {
        ASSERT_EQ(got.fields[k], want[k]) << i;
      }
    }
    if (i > 60) unknown_after += got.unknown;
  }
  EXPECT_GT(unknown_after, 0);
  EXPECT_EQ(mine.epochs(), 1u);
}

TEST(HpackDecoder, WithoutDynamicIndexingEveryFieldIsKnownEvenLate) {
  // h2load --encoder-header-table-size=0: the encoder inserts nothing, so
  // a decoder attached after its size update still reads every field.
  std::mt19937 rng(9);
  Deflater d(0);
  HpackDecoder late(false);
  for (int i = 0; i < 100; ++i) {
    std::string block = d.block(random_fields(rng, true));
    if (i < 3) continue;
    Collected got;
    ASSERT_TRUE(late.decode(reinterpret_cast<const uint8_t*>(block.data()), block.size(), got));
    ASSERT_EQ(got.unknown, 0) << i;
  }
}

TEST(HpackDecoder, ASizeUpdateToZeroMakesTheTableKnownAgain) {
  std::mt19937 rng(3);
  Deflater d;
  HpackDecoder late(false);
  for (int i = 0; i < 10; ++i) d.block(random_fields(rng, true));
  d.change_table_size(0);
  d.change_table_size(4096);  // nghttp2 signals both: 0, then 4096
  for (int i = 0; i < 50; ++i) {
    std::string block = d.block(random_fields(rng, true));
    Collected got;
    ASSERT_TRUE(late.decode(reinterpret_cast<const uint8_t*>(block.data()), block.size(), got));
    ASSERT_EQ(got.unknown, 0) << i;
  }
  EXPECT_FALSE(late.has_unknown_entries());
}

TEST(HpackDecoder, TheTableStaysWithinItsCapWhateverThePeerAllows) {
  // A peer allowing a 1 MiB table: the decoder keeps at most its cap and
  // calls the entries pushed out unknown, never wrong.
  std::mt19937 rng(11);
  Deflater d(1 << 20);
  d.change_table_size(1 << 20);
  Inflater oracle;
  oracle.allow_table_size(1 << 20);
  HpackDecoder mine(true);
  int unknown = 0;
  for (int i = 0; i < 400; ++i) {
    Fields f = random_fields(rng, true);
    f.emplace_back("x-filler", std::string(500, char('a' + i % 26)));
    std::string block = d.block(f);
    Fields want;
    ASSERT_TRUE(oracle.decode(block, &want));
    Collected got;
    ASSERT_TRUE(mine.decode(reinterpret_cast<const uint8_t*>(block.data()), block.size(), got));
    for (size_t k = 0; k < want.size(); ++k) {
      if (got.fields[k].first != "?") {
        ASSERT_EQ(got.fields[k], want[k]);
      }
    }
    unknown += got.unknown;
  }
  EXPECT_GT(unknown, 0) << "old entries beyond the cap are referenced, as unknown";
}

TEST(HpackDecoder, InvalidBlocksAreRejectedAndStartAnEpoch) {
  HpackDecoder mine(true);
  Collected got;
  const uint8_t bad_index[] = {0x80};  // index 0
  EXPECT_FALSE(mine.decode(bad_index, 1, got));
  EXPECT_EQ(mine.epochs(), 1u);
  HpackDecoder fresh(true);
  const uint8_t beyond[] = {0xbe};  // index 62 with an empty table, seen from the start
  EXPECT_FALSE(fresh.decode(beyond, 1, got));
  const uint8_t cut[] = {0x44, 0x05, 'a'};  // a literal shorter than its length
  HpackDecoder other(true);
  EXPECT_FALSE(other.decode(cut, sizeof cut, got));
}

}  // namespace
}  // namespace aster
