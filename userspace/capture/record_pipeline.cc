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

void RecordPipeline::expire_service(uint16_t service_id, ExpiryReason reason) {
  if (writer_) writer_->service_expired(service_id, static_cast<uint8_t>(reason));
  next_.expire_service(service_id, reason);
}

void RecordPipeline::record_services() {
  if (!new_services_) return;
  for (const auto& [id, identity] : new_services_()) writer_->workload(id, identity);
}

}  // namespace aster
