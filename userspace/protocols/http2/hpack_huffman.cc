// SPDX-License-Identifier: Apache-2.0
#include "protocols/http2/hpack_huffman.h"

#include <algorithm>
#include <array>

namespace aster {
namespace {

constexpr int kMaxLen = 30;

// The code is canonical (codes of one length are consecutive, in symbol
// order, after the shorter ones): a code of length L is symbol
// first_symbol[L] + (code - first_code[L]) when it is below
// first_code[L] + count[L]. One comparison per bit, no tree.
struct Canonical {
  std::array<uint32_t, kMaxLen + 1> first_code{};
  std::array<uint16_t, kMaxLen + 1> count{};
  std::array<uint16_t, kMaxLen + 1> first_index{};
  std::array<uint16_t, kHuffmanSymbols> symbols{};  // by (length, code)

  Canonical() {
    uint16_t n = 0;
    for (int len = 1; len <= kMaxLen; ++len) {
      first_index[len] = n;
      uint32_t lowest = UINT32_MAX;
      for (int s = 0; s < kHuffmanSymbols; ++s) {
        if (kHuffmanLen[s] != len) continue;
        symbols[n++] = static_cast<uint16_t>(s);
        lowest = std::min(lowest, kHuffmanCode[s]);
      }
      count[len] = static_cast<uint16_t>(n - first_index[len]);
      first_code[len] = count[len] ? lowest : 0;
      std::sort(symbols.begin() + first_index[len], symbols.begin() + n,
                [](uint16_t a, uint16_t b) { return kHuffmanCode[a] < kHuffmanCode[b]; });
    }
  }
};

const Canonical& canonical() {
  static const Canonical c;
  return c;
}

}  // namespace

bool huffman_decode(const uint8_t* p, size_t n, std::string& out, size_t max_out) {
  const Canonical& c = canonical();
  uint32_t code = 0;
  int len = 0;
  for (size_t i = 0; i < n; ++i) {
    for (int b = 7; b >= 0; --b) {
      code = (code << 1) | ((p[i] >> b) & 1u);
      ++len;
      if (c.count[len] && code >= c.first_code[len] && code - c.first_code[len] < c.count[len]) {
        uint16_t sym = c.symbols[c.first_index[len] + (code - c.first_code[len])];
        if (sym == 256) return false;  // EOS must not be decoded
        if (out.size() < max_out) out.push_back(static_cast<char>(sym));
        code = 0;
        len = 0;
      } else if (len == kMaxLen) {
        return false;
      }
    }
  }
  // Padding: fewer than 8 bits, all ones (the start of EOS).
  return len < 8 && code == (1u << len) - 1;
}

}  // namespace aster
