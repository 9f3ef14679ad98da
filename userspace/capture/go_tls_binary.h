// SPDX-License-Identifier: Apache-2.0
// What the Go crypto/tls uprobes (bpf/go_tls_probes.bpf.h) need from a Go
// executable: the file offsets of crypto/tls.(*Conn).Read, Write and the
// two handshake functions, every RET instruction of Read (found by
// disassembling it with capstone: Go code gets no uretprobes), the
// address of the (*net.TCPConn, net.Conn) itab, and the struct offsets
// from tls.Conn to the socket's descriptor (from DWARF).
//
// A stripped binary (go build -ldflags=-s: no .symtab, no DWARF) cannot be
// probed: the itab's address and the struct offsets are in what was
// stripped, and offsets are never guessed. It is counted as failed, with
// one log line. A position-independent one is probed at its load bias.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aster {

struct GoTlsLayout {
  std::string build_id;  // the Go build ID (.note.go.buildid), what the cache is keyed by
  uint64_t read = 0, write = 0;                   // file offsets of the probes: past each function's stack check
  uint64_t server_handshake = 0, client_handshake = 0;
  std::vector<uint64_t> read_returns;             // file offsets of Read's RET instructions
  uint64_t tcpconn_itab = 0;                      // link-time address
  int64_t conn_off = -1, tcpconn_fd_off = -1, netfd_sysfd_off = -1;
  // A position-independent executable (go build -buildmode=pie): the
  // itab's address is link-time + the process's load bias, found from
  // where the process mapped a file offset of the first PT_LOAD segment,
  // [load_offset_begin, load_offset_end), whose addresses are offset +
  // load_delta (its p_vaddr - p_offset).
  bool pie = false;
  uint64_t load_delta = 0, load_offset_begin = 0, load_offset_end = 0;
};

// The load bias of a process that mapped file offset `map_offset` of the
// binary at `map_start` (its first mapping, /proc/PID/maps); 0 for a
// fixed-address executable; nullopt when that offset lies outside the
// first PT_LOAD segment (a mapping of a shape not known here).
std::optional<uint64_t> go_tls_load_bias(const GoTlsLayout& g, uint64_t map_start, uint64_t map_offset);

// Where a function's uprobe goes: past Go's stack-bound check. A Go
// function starts by comparing the stack pointer (or, for a larger frame,
// r12 = rsp - frame) with g.stackguard0 ([r14+0x10]) and jumping to its
// morestack tail when the stack must grow or the scheduler asked for a
// preemption (stackguard0 = stackPreempt); that tail spills the register
// arguments, calls runtime.morestack, restores them and jumps back to the
// entry. A probe at the entry then fires twice for one call (once per
// pass, possibly on two threads), and a Write's plaintext is sent twice:
// one answer more than the requests. The instruction after the jump runs
// once per call, and the instructions before it leave the argument registers
// alone. A function without the check (NOSPLIT) is probed at its entry;
// any other prologue is not probed rather than probed at the wrong place.
// `code`: the function's first bytes (32 are enough), `entry` their file
// offset; returns the probe's file offset, nullopt for a prologue of
// another shape.
std::optional<uint64_t> past_stack_check(const uint8_t* code, size_t size, uint64_t entry);

// Whether the file open as `fd` is a Go executable at all (a .go.buildinfo
// section or a Go build ID note): only those are worth inspect_go_tls.
bool is_go_executable(int fd);

// nullopt when the binary has no crypto/tls (`*error` empty: nothing to
// probe) or cannot be probed (`*error` says why). The DWARF walk stops at
// `budget` (a huge binary is not probed rather than stall the worker).
std::optional<GoTlsLayout> inspect_go_tls(int fd, std::chrono::milliseconds budget, std::string* error);

}  // namespace aster
