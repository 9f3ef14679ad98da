// SPDX-License-Identifier: Apache-2.0
// What the fuzz targets share: an invariant check that aborts (libFuzzer
// then keeps the input), and a PRNG driven by the input's own seed bytes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace fuzz {

inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

struct Rng {
  uint64_t s;
  uint64_t Next() {
    // xorshift64*: deterministic from the input's own seed bytes.
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ULL;
  }
};

}  // namespace fuzz
