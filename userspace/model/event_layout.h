// SPDX-License-Identifier: Apache-2.0
// The C++ view of bpf/aster_events.h: the same structs, plus checks that
// the layout the probes write is the layout this side reads.
#pragma once

#include <linux/types.h>

#include <cstddef>

extern "C" {
#include "aster_events.h"
}

static_assert(sizeof(aster_event) == 48, "aster_event layout changed: update both sides");
static_assert(offsetof(aster_event, conn_id) == 8);
static_assert(offsetof(aster_event, stream_pos) == 16);
static_assert(offsetof(aster_event, tgid) == 24);
static_assert(offsetof(aster_event, byte_count) == 36);
static_assert(offsetof(aster_event, captured_len) == 40);
static_assert(offsetof(aster_event, kind) == 42);
static_assert(offsetof(aster_event, direction) == 43);
static_assert(offsetof(aster_event, flags) == 44);
static_assert(offsetof(aster_event, service_id) == 46);
static_assert(sizeof(aster_watch) == 8);
static_assert(sizeof(aster_conn_state) == 40);
static_assert(ASTER_CAPTURE_DEFAULT <= ASTER_CAPTURE_MAX);
