// SPDX-License-Identifier: Apache-2.0
#include "capture/go_tls_binary.h"

#include <capstone/capstone.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <unistd.h>

#include <cstring>

#include "capture/go_dwarf.h"

namespace aster {
namespace {

constexpr const char* kRead = "crypto/tls.(*Conn).Read";
constexpr const char* kWrite = "crypto/tls.(*Conn).Write";
constexpr const char* kServerHandshake = "crypto/tls.(*Conn).serverHandshake";
constexpr const char* kClientHandshake = "crypto/tls.(*Conn).clientHandshake";
// The linker's name for the itab: "go." before Go 1.20, "go:" since.
constexpr const char* kItabs[] = {"go.itab.*net.TCPConn,net.Conn", "go:itab.*net.TCPConn,net.Conn"};
// Read is a few KiB; more is no Read this understands.
constexpr uint64_t kMaxFunctionBytes = 1 << 20;

struct Elf64 {
  Elf* elf = nullptr;
  explicit Elf64(int fd) {
    elf_version(EV_CURRENT);
    elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  }
  ~Elf64() {
    if (elf) elf_end(elf);
  }
  Elf_Scn* section(const char* want) const {
    return elf_section(elf, want);
  }
};

struct Symbol {
  uint64_t vaddr = 0, size = 0;
};

// The Go build ID: the description of the "Go" note, type 4.
std::string go_build_id(const Elf64& f) {
  Elf_Scn* s = f.section(".note.go.buildid");
  Elf_Data* d = s ? elf_getdata(s, nullptr) : nullptr;
  if (!d || d->d_size < 16) return "";
  const auto* p = static_cast<const uint8_t*>(d->d_buf);
  uint32_t namesz, descsz;
  std::memcpy(&namesz, p, 4);
  std::memcpy(&descsz, p + 4, 4);
  size_t desc = 12 + ((namesz + 3) & ~3u);
  if (desc > d->d_size || descsz > d->d_size - desc) return "";
  return std::string(reinterpret_cast<const char*>(p + desc), descsz);
}

// The file offset of an address in an executable segment, 0 if none.
uint64_t file_offset(const Elf64& f, uint64_t vaddr) {
  size_t n;
  if (elf_getphdrnum(f.elf, &n) != 0) return 0;
  for (size_t i = 0; i < n; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(f.elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
        vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz) {
      return vaddr - ph.p_vaddr + ph.p_offset;
    }
  }
  return 0;
}

// The first PT_LOAD segment of a position-independent executable, what
// its load bias is measured against.
bool first_load(const Elf64& f, GoTlsLayout* g) {
  size_t n;
  if (elf_getphdrnum(f.elf, &n) != 0) return false;
  for (size_t i = 0; i < n; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(f.elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD) {
      g->pie = true;
      g->load_delta = ph.p_vaddr - ph.p_offset;
      g->load_offset_begin = ph.p_offset & ~uint64_t(0xfff);  // mappings start at a page
      g->load_offset_end = ph.p_offset + ph.p_filesz;
      return true;
    }
  }
  return false;
}

// Every RET in `code` (the function at file offset `base`), as file
// offsets. False when the bytes do not disassemble to their end: a RET
// missed would leave that return's plaintext unread.
bool find_returns(const uint8_t* code, size_t size, uint64_t base, std::vector<uint64_t>* out, std::string* error) {
  csh h;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
    *error = "capstone cannot disassemble x86-64";
    return false;
  }
  cs_insn* insn = cs_malloc(h);
  const uint8_t* p = code;
  size_t left = size;
  uint64_t addr = base;
  while (left > 0 && cs_disasm_iter(h, &p, &left, &addr, insn)) {
    if (insn->id == X86_INS_RET) out->push_back(insn->address);
  }
  cs_free(insn, 1);
  cs_close(&h);
  if (left > 0) {
    *error = "cannot disassemble " + std::string(kRead) + " at +" + std::to_string(size - left);
    return false;
  }
  if (out->empty()) {
    *error = std::string(kRead) + " has no RET instruction";
    return false;
  }
  return true;
}

bool probe_point(int fd, uint64_t entry, const char* name, uint64_t* out, std::string* error) {
  uint8_t code[32];
  if (pread(fd, code, sizeof(code), static_cast<off_t>(entry)) != static_cast<ssize_t>(sizeof(code))) {
    *error = std::string("cannot read the bytes of ") + name;
    return false;
  }
  std::optional<uint64_t> at = past_stack_check(code, sizeof(code), entry);
  if (!at) {
    *error = std::string(name) + " starts with a stack check of a shape not known here";
    return false;
  }
  *out = *at;
  return true;
}

// tls.Conn.conn, net.TCPConn.conn.fd and netFD.pfd.Sysfd, from DWARF.
bool find_offsets(const Elf64& f, GoTlsLayout* g, std::chrono::milliseconds budget, std::string* error) {
  Dwarf* dw = dwarf_begin_elf(f.elf, DWARF_C_READ, nullptr);
  if (!dw) {
    *error = "no DWARF (built with -ldflags=-w or stripped): the offsets from tls.Conn to its socket are unknown";
    return false;
  }
  bool tls = false, tcp = false, netfd = false;
  bool in_time = for_each_struct(dw, std::chrono::steady_clock::now() + budget, [&](const char* name, Dwarf_Die* die) {
    if (!tls && std::strcmp(name, "crypto/tls.Conn") == 0) {
      g->conn_off = member_offset(die, "conn");
      tls = true;
    } else if (!tcp && std::strcmp(name, "net.TCPConn") == 0) {
      g->tcpconn_fd_off = nested_offset(die, "conn", "fd");
      tcp = true;
    } else if (!netfd && std::strcmp(name, "net.netFD") == 0) {
      g->netfd_sysfd_off = nested_offset(die, "pfd", "Sysfd");
      netfd = true;
    }
    return tls && tcp && netfd;
  });
  if (!in_time) {
    dwarf_end(dw);
    *error = "its DWARF took longer than " + std::to_string(budget.count()) + " ms to read";
    return false;
  }
  dwarf_end(dw);
  if (g->conn_off < 0 || g->tcpconn_fd_off < 0 || g->netfd_sysfd_off < 0) {
    *error = "its DWARF lacks tls.Conn.conn, net.TCPConn.conn.fd or netFD.pfd.Sysfd";
    return false;
  }
  if (g->conn_off > 0xffff || g->tcpconn_fd_off > 0xffff || g->netfd_sysfd_off > 0xffff) {
    *error = "struct offsets beyond 64 KiB";
    return false;
  }
  return true;
}

}  // namespace

std::optional<uint64_t> past_stack_check(const uint8_t* code, size_t size, uint64_t entry) {
  csh h;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) return std::nullopt;
  cs_insn* insn = cs_malloc(h);
  const uint8_t* p = code;
  size_t left = size;
  uint64_t addr = entry;
  enum { kStart, kLea, kCmp } state = kStart;
  std::optional<uint64_t> out;
  while (!out && cs_disasm_iter(h, &p, &left, &addr, insn)) {
    std::string ops = insn->op_str;
    if (state == kStart && insn->id == X86_INS_LEA && ops.rfind("r12, ", 0) == 0) {
      state = kLea;
    } else if (state != kCmp && insn->id == X86_INS_CMP && ops.find("[r14 + 0x10]") != std::string::npos &&
               ops.rfind(state == kLea ? "r12, " : "rsp, ", 0) == 0) {
      state = kCmp;
    } else if (state == kCmp && insn->id == X86_INS_JBE) {
      out = addr;  // the instruction after the jump
    } else if (state == kStart) {
      out = entry;  // no stack check (NOSPLIT): nothing runs it twice
    } else {
      break;
    }
  }
  cs_free(insn, 1);
  cs_close(&h);
  return out;
}

std::optional<uint64_t> go_tls_load_bias(const GoTlsLayout& g, uint64_t map_start, uint64_t map_offset) {
  if (!g.pie) return 0;
  if (map_offset < g.load_offset_begin || map_offset >= g.load_offset_end) return std::nullopt;
  return map_start - (map_offset + g.load_delta);
}

bool is_go_executable(int fd) {
  Elf64 f(fd);
  return f.elf && (f.section(".go.buildinfo") || f.section(".note.go.buildid"));
}

std::optional<GoTlsLayout> inspect_go_tls(int fd, std::chrono::milliseconds budget, std::string* error) {
  error->clear();
  Elf64 f(fd);
  GElf_Ehdr eh;
  if (!f.elf || !gelf_getehdr(f.elf, &eh) || eh.e_machine != EM_X86_64) {
    *error = "not an x86-64 ELF file";
    return std::nullopt;
  }
  GoTlsLayout g;
  g.build_id = go_build_id(f);
  Elf_Scn* symtab = f.section(".symtab");
  if (!symtab) {
    // Go keeps function names in .gopclntab even then, but the itab's
    // address and the struct offsets went with .symtab and DWARF.
    *error = "stripped (no symbol table)";
    return std::nullopt;
  }
  Symbol read, write, server_hs, client_hs, itab;
  for_each_symbol(f.elf, symtab, [&](const char* name, const GElf_Sym& sym) {
    if (sym.st_shndx == SHN_UNDEF || (name[0] != 'c' && name[0] != 'g')) return;
    Symbol s{sym.st_value, sym.st_size};
    if (std::strcmp(name, kRead) == 0) read = s;
    else if (std::strcmp(name, kWrite) == 0) write = s;
    else if (std::strcmp(name, kServerHandshake) == 0) server_hs = s;
    else if (std::strcmp(name, kClientHandshake) == 0) client_hs = s;
    else if (std::strcmp(name, kItabs[0]) == 0 || std::strcmp(name, kItabs[1]) == 0) itab = s;
  });
  if (!read.vaddr || !write.vaddr) return std::nullopt;  // no crypto/tls in this program
  if (eh.e_type == ET_DYN && !first_load(f, &g)) {
    *error = "a position-independent executable without a loadable segment";
    return std::nullopt;
  }
  if (!server_hs.vaddr || !client_hs.vaddr || !itab.vaddr) {
    *error = "it lacks the handshake functions or the (*net.TCPConn, net.Conn) itab";
    return std::nullopt;
  }
  g.read = file_offset(f, read.vaddr);
  g.write = file_offset(f, write.vaddr);
  g.server_handshake = file_offset(f, server_hs.vaddr);
  g.client_handshake = file_offset(f, client_hs.vaddr);
  g.tcpconn_itab = itab.vaddr;
  if (!g.read || !g.write || !g.server_handshake || !g.client_handshake || !read.size ||
      read.size > kMaxFunctionBytes) {
    *error = std::string("cannot place ") + kRead + " or its siblings in the file";
    return std::nullopt;
  }
  // The entries' probes go past the stack check (see past_stack_check in the header);
  // the RETs are found from the true entry.
  uint64_t read_entry = g.read;
  if (!probe_point(fd, read_entry, kRead, &g.read, error) ||
      !probe_point(fd, g.write, kWrite, &g.write, error) ||
      !probe_point(fd, g.server_handshake, kServerHandshake, &g.server_handshake, error) ||
      !probe_point(fd, g.client_handshake, kClientHandshake, &g.client_handshake, error)) {
    return std::nullopt;
  }
  std::vector<uint8_t> code(read.size);
  if (pread(fd, code.data(), code.size(), static_cast<off_t>(read_entry)) != static_cast<ssize_t>(code.size())) {
    *error = std::string("cannot read the bytes of ") + kRead;
    return std::nullopt;
  }
  if (!find_returns(code.data(), code.size(), read_entry, &g.read_returns, error)) return std::nullopt;
  if (!find_offsets(f, &g, budget, error)) return std::nullopt;
  return g;
}

}  // namespace aster
