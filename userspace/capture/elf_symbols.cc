// SPDX-License-Identifier: Apache-2.0
#include "capture/elf_symbols.h"

#include <elf.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace aster {
namespace {

// A read-only mapping of the whole file, unmapped on scope exit.
struct Mapping {
  const uint8_t* p = nullptr;
  size_t n = 0;
  ~Mapping() {
    if (p) munmap(const_cast<uint8_t*>(p), n);
  }
};

}  // namespace

bool function_file_offsets(int fd, const std::vector<std::string>& names, std::vector<uint64_t>* offsets,
                           std::string* error) {
  offsets->assign(names.size(), 0);
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    *error = "not an ELF file (too short)";
    return false;
  }
  Mapping m;
  m.n = static_cast<size_t>(st.st_size);
  void* p = mmap(nullptr, m.n, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    *error = std::string("cannot map the file: ") + strerror(errno);
    return false;
  }
  m.p = static_cast<const uint8_t*>(p);
  auto in_file = [&](uint64_t off, uint64_t len) { return off <= m.n && len <= m.n - off; };
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(m.p);
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_phentsize != sizeof(Elf64_Phdr) ||
      !in_file(eh->e_shoff, uint64_t{eh->e_shnum} * sizeof(Elf64_Shdr)) ||
      !in_file(eh->e_phoff, uint64_t{eh->e_phnum} * sizeof(Elf64_Phdr))) {
    *error = "not a 64-bit ELF file this can read";
    return false;
  }
  const auto* sh = reinterpret_cast<const Elf64_Shdr*>(m.p + eh->e_shoff);
  const auto* ph = reinterpret_cast<const Elf64_Phdr*>(m.p + eh->e_phoff);
  // A symbol's value is a virtual address; the uprobe wants the file offset
  // of the loadable segment holding it.
  auto file_offset = [&](uint64_t vaddr) -> uint64_t {
    for (int i = 0; i < eh->e_phnum; ++i) {
      if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X) && vaddr >= ph[i].p_vaddr &&
          vaddr < ph[i].p_vaddr + ph[i].p_filesz) {
        return vaddr - ph[i].p_vaddr + ph[i].p_offset;
      }
    }
    return 0;
  };
  for (int i = 0; i < eh->e_shnum; ++i) {
    if (sh[i].sh_type != SHT_DYNSYM && sh[i].sh_type != SHT_SYMTAB) continue;
    if (sh[i].sh_link >= eh->e_shnum || sh[i].sh_entsize != sizeof(Elf64_Sym)) continue;
    const Elf64_Shdr& strs = sh[sh[i].sh_link];
    if (!in_file(sh[i].sh_offset, sh[i].sh_size) || !in_file(strs.sh_offset, strs.sh_size)) continue;
    const auto* syms = reinterpret_cast<const Elf64_Sym*>(m.p + sh[i].sh_offset);
    const char* strtab = reinterpret_cast<const char*>(m.p + strs.sh_offset);
    size_t count = sh[i].sh_size / sizeof(Elf64_Sym);
    for (size_t s = 0; s < count; ++s) {
      if (ELF64_ST_TYPE(syms[s].st_info) != STT_FUNC || syms[s].st_shndx == SHN_UNDEF || syms[s].st_name >= strs.sh_size) {
        continue;
      }
      const char* name = strtab + syms[s].st_name;
      std::string_view sym(name, strnlen(name, strs.sh_size - syms[s].st_name));
      for (size_t k = 0; k < names.size(); ++k) {
        if ((*offsets)[k] == 0 && names[k] == sym) {
          (*offsets)[k] = file_offset(syms[s].st_value);
        }
      }
    }
  }
  return true;
}

}  // namespace aster
