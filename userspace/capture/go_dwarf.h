// SPDX-License-Identifier: Apache-2.0
// Struct member offsets from a Go binary's DWARF (elfutils' libdw): they
// change between Go versions, so nothing that reads a Go program's memory
// hard-codes them. Shared by the Go TLS probes (capture/go_tls_binary) and
// the Go runtime reader (metrics/go_runtime).
#pragma once

#include <elfutils/libdw.h>
#include <gelf.h>

#include <chrono>
#include <cstdint>
#include <functional>

namespace aster {

// The section of that name, or null.
Elf_Scn* elf_section(Elf* elf, const char* name);
// Calls `visit` with each named symbol of the symbol table `symtab`.
void for_each_symbol(Elf* elf, Elf_Scn* symtab, const std::function<void(const char* name, const GElf_Sym& sym)>& visit);

// The DW_TAG_member named `member` of a struct type.
bool find_member(Dwarf_Die* type, const char* member, Dwarf_Die* out);
// A member DIE's byte offset in its struct, -1 if it has none.
int64_t location_of(Dwarf_Die* m);
// A member's offset, -1 when the struct has no such member.
int64_t member_offset(Dwarf_Die* type, const char* member);
// A member's offset and its type's DIE (typedefs followed), from one walk
// of the struct.
int64_t member_with_type(Dwarf_Die* type, const char* member, Dwarf_Die* member_type);
// Offset of `outer.inner` (a member of a member's struct type).
int64_t nested_offset(Dwarf_Die* type, const char* outer, const char* inner);

// Calls `visit` with each named struct type at the top of each compilation
// unit until it returns true (everything wanted found) or `deadline`
// passes. False only when the deadline passed first.
bool for_each_struct(Dwarf* dw, std::chrono::steady_clock::time_point deadline,
                     const std::function<bool(const char* name, Dwarf_Die* die)>& visit);

}  // namespace aster
