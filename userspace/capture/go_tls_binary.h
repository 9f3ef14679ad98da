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
// one log line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aster {

struct GoTlsLayout {
  std::string build_id;  // the Go build ID (.note.go.buildid), what the cache is keyed by
  uint64_t read = 0, write = 0;                   // file offsets of the function entries
  uint64_t server_handshake = 0, client_handshake = 0;
  std::vector<uint64_t> read_returns;             // file offsets of Read's RET instructions
  uint64_t tcpconn_itab = 0;                      // link-time address
  int64_t conn_off = -1, tcpconn_fd_off = -1, netfd_sysfd_off = -1;
};

// Whether the file open as `fd` is a Go executable at all (a .go.buildinfo
// section or a Go build ID note): only those are worth inspect_go_tls.
bool is_go_executable(int fd);

// nullopt when the binary has no crypto/tls (`*error` empty: nothing to
// probe) or cannot be probed (`*error` says why). The DWARF walk stops at
// `budget` (a huge binary is not probed rather than stall the worker).
std::optional<GoTlsLayout> inspect_go_tls(int fd, std::chrono::milliseconds budget, std::string* error);

}  // namespace aster
