// Where the Go crypto/tls entry probes go: past the stack-bound check,
// whose morestack path runs the entry a second time (a Write's plaintext
// was sent twice: test_go_tls counted one answer more than the server's
// record in syscalls mode). The bytes are Go 1.19's (Debian 12), as
// objdump shows them in the test server's binary.
#include "capture/go_tls_binary.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace aster {
namespace {

constexpr uint64_t kEntry = 0x1a5be0;

// Pads to the 32 bytes the finder reads, with what follows in the binary.
std::vector<uint8_t> with_tail(std::vector<uint8_t> b) {
  const uint8_t sub_rsp[] = {0x48, 0x83, 0xec, 0x68};  // sub rsp, 0x68
  while (b.size() < 32) b.insert(b.end(), sub_rsp, sub_rsp + sizeof sub_rsp);
  b.resize(32);
  return b;
}

TEST(GoTlsProbePoint, SmallFrameIsProbedAfterTheJump) {
  // (*Conn).Read: cmp rsp, [r14+0x10]; jbe morestack; sub rsp, 0x68
  auto code = with_tail({0x49, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0xc2, 0x03, 0x00, 0x00});
  EXPECT_EQ(past_stack_check(code.data(), code.size(), kEntry), kEntry + 10);
}

TEST(GoTlsProbePoint, LargerFrameComparesR12) {
  // (*Conn).Write: lea r12, [rsp-0x68]; cmp r12, [r14+0x10]; jbe morestack
  auto code = with_tail({0x4c, 0x8d, 0x64, 0x24, 0x98, 0x4d, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0x64, 0x07, 0x00, 0x00});
  EXPECT_EQ(past_stack_check(code.data(), code.size(), kEntry), kEntry + 15);
  // serverHandshake: the lea with a 32-bit displacement
  auto hs = with_tail({0x4c, 0x8d, 0xa4, 0x24, 0x68, 0xff, 0xff, 0xff, 0x4d, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0xa0,
                       0x01, 0x00, 0x00});
  EXPECT_EQ(past_stack_check(hs.data(), hs.size(), kEntry), kEntry + 18);
}

TEST(GoTlsProbePoint, NoStackCheckIsProbedAtTheEntry) {
  // runtime.nanotime (NOSPLIT): sub rsp, 0x10; ...
  auto code = with_tail({0x48, 0x83, 0xec, 0x10, 0x48, 0x89, 0x6c, 0x24, 0x08});
  EXPECT_EQ(past_stack_check(code.data(), code.size(), kEntry), kEntry);
}

TEST(GoTlsProbePoint, AnUnknownCheckIsNotProbed) {
  // cmp rsp, [r14+0x10] followed by something other than jbe (a jmp):
  // not the shape the morestack path is known by, so no place is guessed.
  auto code = with_tail({0x49, 0x3b, 0x66, 0x10, 0xeb, 0x00});
  EXPECT_FALSE(past_stack_check(code.data(), code.size(), kEntry).has_value());
  // The lea without the compare.
  auto lea = with_tail({0x4c, 0x8d, 0x64, 0x24, 0x98, 0x90});
  EXPECT_FALSE(past_stack_check(lea.data(), lea.size(), kEntry).has_value());
}

// A position-independent executable's itab is at its link-time address
// plus where the process mapped the first segment (Go's own PIE links it
// at 0x400000, an external link at 0).
TEST(GoTlsLoadBias, FromTheFirstMapping) {
  GoTlsLayout fixed;
  EXPECT_EQ(go_tls_load_bias(fixed, 0x400000, 0), 0u) << "an ET_EXEC is where it was linked";
  GoTlsLayout pie;
  pie.pie = true;
  pie.load_delta = 0x400000;  // p_vaddr 0x400000 - p_offset 0
  pie.load_offset_begin = 0;
  pie.load_offset_end = 0x266390;
  EXPECT_EQ(go_tls_load_bias(pie, 0x55d0c6a00000, 0), 0x55d0c6a00000u - 0x400000);
  EXPECT_EQ(go_tls_load_bias(pie, 0x55d0c6a01000, 0x1000), 0x55d0c6a00000u - 0x400000) << "a later page of it";
  EXPECT_FALSE(go_tls_load_bias(pie, 0x55d0c6c67000, 0x267000).has_value()) << "not the first segment: unknown";
}

}  // namespace
}  // namespace aster
