// Function offsets for uprobes, read from the ELF symbol tables.
#include "capture/elf_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace aster {
namespace {

extern "C" __attribute__((noinline, used)) int aster_elf_symbols_test_target(int x) { return x * 3 + 1; }

// The offset found must hold the function's own first bytes.
TEST(ElfSymbols, FindsADefinedFunctionAtItsFileOffset) {
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::vector<uint64_t> offs;
  std::string error;
  ASSERT_TRUE(function_file_offsets(fd, {"aster_elf_symbols_test_target", "no_such_function_here"}, &offs, &error))
      << error;
  ASSERT_NE(offs[0], 0u);
  EXPECT_EQ(offs[1], 0u);
  unsigned char in_file[16];
  ASSERT_EQ(pread(fd, in_file, sizeof in_file, static_cast<off_t>(offs[0])), static_cast<ssize_t>(sizeof in_file));
  EXPECT_EQ(memcmp(in_file, reinterpret_cast<const void*>(&aster_elf_symbols_test_target), sizeof in_file), 0);
  close(fd);
}

TEST(ElfSymbols, RejectsWhatIsNoElfFile) {
  char path[] = "/tmp/aster-elf-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_EQ(write(fd, "#!/bin/sh\necho not elf, but long enough to hold an ELF header....\n", 66), 66);
  std::vector<uint64_t> offs;
  std::string error;
  EXPECT_FALSE(function_file_offsets(fd, {"main"}, &offs, &error));
  EXPECT_NE(error.find("ELF"), std::string::npos) << error;
  close(fd);
}

}  // namespace
}  // namespace aster
