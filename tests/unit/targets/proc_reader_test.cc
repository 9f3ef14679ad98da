// SPDX-License-Identifier: Apache-2.0
// /proc readers against real processes: this one, and a child caught as a
// zombie (exited, not yet reaped), which discovery must treat as gone.
#include "targets/proc_reader.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace aster {
namespace {

TEST(ProcReader, ALiveProcessIsNotExited) {
  auto st = read_proc_stat(getpid());
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->exited());
  EXPECT_GT(st->start_ticks, 0u);
  EXPECT_GE(st->threads, 1u);
}

TEST(ProcReader, AZombieIsExited) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  std::optional<ProcStat> st;
  for (int i = 0; i < 500; ++i) {  // up to 5 s for the child to exit
    st = read_proc_stat(child);
    if (st && st->state == 'Z') break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state, 'Z');
  EXPECT_TRUE(st->exited());
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  EXPECT_FALSE(read_proc_stat(child).has_value()) << "reaped: no /proc entry";
}

}  // namespace
}  // namespace aster
