// SPDX-License-Identifier: Apache-2.0
// Where the capture stage hands the records it put back in order: the
// streams stage (ConnectionTracker) implements it, and a test can too.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/exchange.h"

namespace aster {

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // One record (struct aster_event and its payload), in time order.
  virtual void on_record(const void* data, size_t size) = 0;
  // A drained batch ended at `now_ns` (held records and closing
  // connections age by batch).
  virtual void end_batch(uint64_t now_ns) = 0;
  // The service's series expire (see ExpiryReason); for kGone the sink also
  // forgets every connection still tagged with the id.
  virtual void expire_service(uint16_t /*service_id*/, ExpiryReason /*reason*/) {}
};

}  // namespace aster
