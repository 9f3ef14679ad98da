// SPDX-License-Identifier: Apache-2.0
// The boundary windows a record carries (bpf/boundary_walker.bpf.h): bytes
// of the transfer beyond its copied head, where the kernel's walker found
// framing. They are hints: a record's windows are used only when each lies
// inside the transfer, beyond the head, in ascending order and of a kind
// this build knows; otherwise all of them are dropped and counted. What
// passes is handed on as the real bytes at their real offsets, so the
// protocol's parser, not the kernel, decides what they mean.
#pragma once

#include <cstdint>
#include <vector>

#include "model/event_layout.h"

namespace aster {

// Bytes of a transfer at `offset` (from its first byte), beyond what came
// before them in the record (overlaps are trimmed).
struct WindowPiece {
  uint32_t offset = 0;
  const uint8_t* bytes = nullptr;
  uint32_t len = 0;
};

enum class WindowCheck : uint8_t { kNone, kUsed, kRejected };

// Checks the windows of record `ev` (null `w`: none) and fills `out` with
// the pieces to feed, in order. kRejected leaves `out` empty.
WindowCheck check_windows(const aster_event& ev, const aster_windows* w, std::vector<WindowPiece>* out);

}  // namespace aster
