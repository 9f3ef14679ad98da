// SPDX-License-Identifier: Apache-2.0
// Decoding HPACK's Huffman-coded strings (RFC 7541 section 5.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace aster {

constexpr int kHuffmanSymbols = 257;  // 256 octets and EOS
extern const uint32_t kHuffmanCode[kHuffmanSymbols];
extern const uint8_t kHuffmanLen[kHuffmanSymbols];

// Appends the decoding of `n` Huffman-coded bytes to `out`. False for input
// the RFC forbids: EOS inside the string, padding longer than 7 bits or not
// all ones. Stops appending (but goes on checking) at `max_out` bytes.
bool huffman_decode(const uint8_t* p, size_t n, std::string& out, size_t max_out = SIZE_MAX);

}  // namespace aster
