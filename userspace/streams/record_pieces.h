// SPDX-License-Identifier: Apache-2.0
// The bytes of a transfer past its copied head that its record still
// holds, from its two trailers (model/event_layout.h): the first bytes of
// each iovec past the capture budget (iovec hints) and the windows the
// kernel's boundary walker copied at framing boundaries. Both are real
// bytes at known offsets of the transfer; they are merged here into one
// list in stream order with every byte once, so the connection hands each
// to the protocol as a hint with the gaps around it.
#pragma once

#include <cstdint>
#include <vector>

#include "model/event_layout.h"
#include "streams/boundary_windows.h"

namespace aster {

struct RecordPiece {
  uint64_t offset = 0;  // from the transfer's first byte
  const uint8_t* bytes = nullptr;
  uint32_t len = 0;
  bool window = false;  // from a boundary window (else an iovec hint)
};

struct RecordPieces {
  std::vector<RecordPiece> pieces;  // ascending, not overlapping, past the head
  WindowCheck windows = WindowCheck::kNone;
  std::vector<WindowPiece> scratch;  // reused for the windows' check
};

// The pieces of record `ev` (accepted by data_record_size) whose payload is
// at `payload`. Hints and windows that lie past the transfer are cut to it;
// windows that fail their checks are all dropped (out->windows says so).
void record_pieces(const aster_event& ev, const uint8_t* payload, RecordPieces* out);

}  // namespace aster
