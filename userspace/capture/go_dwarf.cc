// SPDX-License-Identifier: Apache-2.0
#include "capture/go_dwarf.h"

#include <dwarf.h>

#include <cstring>

namespace aster {

Elf_Scn* elf_section(Elf* elf, const char* want) {
  size_t shstrndx;
  if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0) return nullptr;
  for (Elf_Scn* s = elf_nextscn(elf, nullptr); s; s = elf_nextscn(elf, s)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(s, &sh)) continue;
    const char* name = elf_strptr(elf, shstrndx, sh.sh_name);
    if (name && std::strcmp(name, want) == 0) return s;
  }
  return nullptr;
}

void for_each_symbol(Elf* elf, Elf_Scn* symtab, const std::function<void(const char* name, const GElf_Sym& sym)>& visit) {
  GElf_Shdr sh;
  if (!gelf_getshdr(symtab, &sh)) return;
  Elf_Data* d = elf_getdata(symtab, nullptr);
  size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
  for (size_t i = 0; d && i < n; ++i) {
    GElf_Sym sym;
    if (!gelf_getsym(d, static_cast<int>(i), &sym)) continue;
    const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
    if (name) visit(name, sym);
  }
}

bool find_member(Dwarf_Die* type, const char* member, Dwarf_Die* out) {
  if (dwarf_child(type, out) != 0) return false;
  do {
    if (dwarf_tag(out) != DW_TAG_member) continue;
    const char* name = dwarf_diename(out);
    if (name && std::strcmp(name, member) == 0) return true;
  } while (dwarf_siblingof(out, out) == 0);
  return false;
}

int64_t location_of(Dwarf_Die* m) {
  Dwarf_Attribute attr;
  Dwarf_Word off;
  if (!dwarf_attr(m, DW_AT_data_member_location, &attr) || dwarf_formudata(&attr, &off) != 0) return -1;
  return static_cast<int64_t>(off);
}

int64_t member_offset(Dwarf_Die* type, const char* member) {
  Dwarf_Die m;
  return find_member(type, member, &m) ? location_of(&m) : -1;
}

int64_t member_with_type(Dwarf_Die* type, const char* member, Dwarf_Die* member_type) {
  Dwarf_Die m;
  Dwarf_Attribute attr;
  if (!find_member(type, member, &m) || !dwarf_attr(&m, DW_AT_type, &attr) ||
      !dwarf_formref_die(&attr, member_type)) {
    return -1;
  }
  // Go names each struct type twice: the struct, and a typedef of the same
  // name that members refer to (net.TCPConn's conn is the typedef net.conn).
  for (int i = 0; i < 8 && dwarf_tag(member_type) == DW_TAG_typedef; ++i) {
    if (!dwarf_attr(member_type, DW_AT_type, &attr) || !dwarf_formref_die(&attr, member_type)) return -1;
  }
  return location_of(&m);
}

int64_t nested_offset(Dwarf_Die* type, const char* outer, const char* inner) {
  Dwarf_Die t;
  int64_t base = member_with_type(type, outer, &t);
  int64_t off = base < 0 ? -1 : member_offset(&t, inner);
  return off < 0 ? -1 : base + off;
}

bool for_each_struct(Dwarf* dw, std::chrono::steady_clock::time_point deadline,
                     const std::function<bool(const char* name, Dwarf_Die* die)>& visit) {
  Dwarf_Off off = 0, next;
  size_t hsize;
  while (dwarf_nextcu(dw, off, &next, &hsize, nullptr, nullptr, nullptr) == 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    Dwarf_Die cu, die;
    if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &die) == 0) {
      do {
        if (dwarf_tag(&die) != DW_TAG_structure_type) continue;
        const char* name = dwarf_diename(&die);
        if (name && visit(name, &die)) return true;
      } while (dwarf_siblingof(&die, &die) == 0);
    }
    off = next;
  }
  return true;
}

}  // namespace aster
