// Reading /proc/PID/maps for the files a process mapped (TLS libraries).
#include "targets/mapped_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace aster {
namespace {

TEST(MappedFiles, OneEntryPerFileWithDeviceAndInode) {
  const char* maps =
      "55d0c6a00000-55d0c6a2a000 r--p 00000000 fd:01 1311   /usr/sbin/nginx\n"
      "7f1c2a000000-7f1c2a020000 r--p 00000000 fd:01 1836443    /usr/lib/x86_64-linux-gnu/libssl.so.3\n"
      "7f1c2a020000-7f1c2a080000 r-xp 00020000 fd:01 1836443    /usr/lib/x86_64-linux-gnu/libssl.so.3\n"
      "7f1c2b000000-7f1c2b001000 rw-p 00000000 00:00 0 \n"
      "7f1c2c000000-7f1c2c001000 rw-s 00000000 00:05 4242   /dev/zero (deleted)\n"
      "7f1c2d000000-7f1c2d030000 r-xp 00000000 103:0a 77  /opt/my lib/libssl.so.1.1\n"
      "7ffd5a000000-7ffd5a021000 rw-p 00000000 00:00 0    [stack]\n"
      "garbage line\n";
  auto files = parse_mapped_files(maps);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].path, "/usr/sbin/nginx");
  EXPECT_EQ(files[1].path, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
  EXPECT_EQ(files[1].dev_major, 0xfdu);
  EXPECT_EQ(files[1].dev_minor, 1u);
  EXPECT_EQ(files[1].inode, 1836443u);
  EXPECT_EQ(files[1].first_start, 0x7f1c2a000000u) << "the first mapping of the file, not its last";
  EXPECT_EQ(files[1].first_offset, 0u);
  EXPECT_EQ(files[0].first_start, 0x55d0c6a00000u);
  EXPECT_EQ(files[2].path, "/opt/my lib/libssl.so.1.1") << "paths may hold spaces";
  EXPECT_EQ(files[2].dev_major, 0x103u);
  EXPECT_EQ(files[2].dev_minor, 0xau);
}

TEST(MappedFiles, OpensOnlyTheFileTheProcessMapped) {
  auto files = read_mapped_files(getpid());
  ASSERT_FALSE(files.empty());
  std::string error;
  int fd = open_mapped_file(getpid(), files[0], &error);
  ASSERT_GE(fd, 0) << error;
  close(fd);
  MappedFile other = files[0];
  other.inode += 1;  // the path now names another file than the one mapped
  EXPECT_EQ(open_mapped_file(getpid(), other, &error), -1);
  EXPECT_NE(error.find("not the file"), std::string::npos) << error;
}

}  // namespace
}  // namespace aster
