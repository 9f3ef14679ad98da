// SPDX-License-Identifier: Apache-2.0
// The file offsets of named functions in an ELF shared object or
// executable: what a uprobe is placed at. Reads .dynsym and .symtab
// directly (glibc's <elf.h>), so nothing but the file is needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aster {

// For each name, the file offset of the defined function of that name, or
// 0 when the file does not define it. False (with `error`) when `fd` is no
// 64-bit ELF file this can read.
bool function_file_offsets(int fd, const std::vector<std::string>& names, std::vector<uint64_t>* offsets,
                           std::string* error);

}  // namespace aster
