// SPDX-License-Identifier: Apache-2.0
#include "capture/record_pipeline.h"

namespace aster {

// Out of line on purpose: the benchmark counts the pipeline's instructions
// per request under callgrind by toggling collection on these three.
void RecordPipeline::add_ring_record(const void* data, size_t size) {
  if (writer_) writer_->ring_record(data, size);
  order_.add_ring_record(data, size);
}

void RecordPipeline::release(uint64_t watermark_ns) {
  if (writer_) {
    record_services();
    writer_->release(watermark_ns);
  }
  order_.release(watermark_ns, [this](const void* ev, size_t len) { next_.on_record(ev, len); });
}

void RecordPipeline::end_batch(uint64_t now_ns) {
  if (writer_) writer_->end_batch(now_ns);
  next_.end_batch(now_ns);
}

void RecordPipeline::record_services() {
  if (!new_services_) return;
  for (const std::string& name : new_services_(services_recorded_)) {
    writer_->service(services_recorded_++, name);
  }
}

}  // namespace aster
