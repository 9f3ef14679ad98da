// SPDX-License-Identifier: Apache-2.0
// The files a process has mapped (/proc/PID/maps), and opening one of them
// as that process sees it: through /proc/PID/root, so a library inside a
// container is the container's, with a device and inode check so a path
// that names another file there (replaced since, or a mount on top) is not
// taken for it. /proc/PID/map_files would need CAP_SYS_ADMIN.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aster {

struct MappedFile {
  std::string path;  // as the process sees it (inside its mount namespace)
  uint32_t dev_major = 0, dev_minor = 0;
  uint64_t inode = 0;
  // Its first mapping: the address and the file offset mapped there (a
  // position-independent executable's load bias follows from them).
  uint64_t first_start = 0, first_offset = 0;
};

// One entry per distinct file with a path (anonymous maps, [heap] and the
// like, and deleted files are left out), in the order of first mapping.
std::vector<MappedFile> parse_mapped_files(std::string_view maps_text);
std::vector<MappedFile> read_mapped_files(pid_t pid);

// An O_RDONLY|O_CLOEXEC descriptor of `f` as process `pid` sees it, or -1
// (with `error` saying why) when it cannot be opened or is another file.
int open_mapped_file(pid_t pid, const MappedFile& f, std::string* error);

}  // namespace aster
