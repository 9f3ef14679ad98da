// SPDX-License-Identifier: Apache-2.0
#include "targets/mapped_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace aster {

std::vector<MappedFile> parse_mapped_files(std::string_view text) {
  // address perms offset dev inode path, e.g.
  // 7f1c2a000000-7f1c2a020000 r--p 00000000 fd:01 1836443    /usr/lib/x86_64-linux-gnu/libssl.so.3
  std::vector<MappedFile> out;
  std::unordered_set<std::string> seen;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(pos, end - pos));
    pos = end + 1;
    std::istringstream in(line);
    std::string addr, perms, offset, dev;
    uint64_t inode = 0;
    if (!(in >> addr >> perms >> offset >> dev >> inode) || inode == 0) continue;
    std::string path;
    std::getline(in >> std::ws, path);
    if (path.empty() || path[0] != '/') continue;
    constexpr std::string_view kDeleted = " (deleted)";
    if (path.size() > kDeleted.size() && path.compare(path.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
      continue;  // the file its inode names is gone from every path
    }
    size_t colon = dev.find(':');
    if (colon == std::string::npos) continue;
    MappedFile f;
    f.path = path;
    f.dev_major = static_cast<uint32_t>(strtoul(dev.c_str(), nullptr, 16));
    f.dev_minor = static_cast<uint32_t>(strtoul(dev.c_str() + colon + 1, nullptr, 16));
    f.inode = inode;
    f.first_start = strtoull(addr.c_str(), nullptr, 16);
    f.first_offset = strtoull(offset.c_str(), nullptr, 16);
    if (seen.insert(dev + " " + std::to_string(inode)).second) out.push_back(std::move(f));
  }
  return out;
}

std::vector<MappedFile> read_mapped_files(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  if (!in) return {};
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_mapped_files(buf.str());
}

int open_mapped_file(pid_t pid, const MappedFile& f, std::string* error) {
  std::string path = "/proc/" + std::to_string(pid) + "/root" + f.path;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + strerror(errno);
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_ino != f.inode || major(st.st_dev) != f.dev_major ||
      minor(st.st_dev) != f.dev_minor) {
    close(fd);
    *error = path + " is not the file the process mapped (replaced, or another mount over it)";
    return -1;
  }
  return fd;
}

}  // namespace aster
