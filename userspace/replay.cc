// SPDX-License-Identifier: Apache-2.0
#include "replay.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "capture/capture_file.h"
#include "config/config.h"
#include "protocols/registry.h"
#include "streams/connection_tracker.h"
#include "metrics/http_metrics.h"
#include "metrics/pipeline_self_metrics.h"
#include "model/pipeline_stats.h"
#include "capture/record_pipeline.h"

namespace aster {
namespace {

uint64_t read_u64(const std::vector<uint8_t>& p) {
  uint64_t v = 0;
  std::memcpy(&v, p.data(), std::min(p.size(), sizeof v));
  return v;
}

// Series in label order, so the text does not depend on hash-table order.
void sort_series(std::vector<prometheus::MetricFamily>& families) {
  auto key = [](const prometheus::ClientMetric& m) {
    std::vector<std::pair<std::string, std::string>> k;
    for (const auto& l : m.label) k.emplace_back(l.name, l.value);
    return k;
  };
  for (auto& f : families) {
    std::stable_sort(f.metric.begin(), f.metric.end(),
                     [&](const auto& a, const auto& b) { return key(a) < key(b); });
  }
}

}  // namespace

ReplayResult replay_capture(const std::string& path) {
  ReplayResult r;
  auto reader = CaptureReader::open(path, &r.error);
  if (!reader) return r;

  // The configuration frames come first.
  std::vector<std::string> argv{"aster-exporter"};
  std::vector<std::pair<std::string, std::string>> env;
  std::string config_path, config_text;
  CaptureFrame type{};
  std::vector<uint8_t> payload;
  bool more = reader->next(&type, &payload);
  for (; more && type == CaptureFrame::kConfig; more = reader->next(&type, &payload)) {
    std::vector<std::string> items;
    if (!decode_strings(payload, &items) || items.empty()) {
      r.error = path + ": a damaged configuration frame";
      return r;
    }
    if (items[0] == "argv") {
      argv.insert(argv.end(), items.begin() + 1, items.end());
    } else if (items[0] == "env") {
      for (size_t i = 1; i < items.size(); ++i) {
        auto eq = items[i].find('=');
        if (eq != std::string::npos) env.emplace_back(items[i].substr(0, eq), items[i].substr(eq + 1));
      }
    } else if (items[0] == "config_file" && items.size() == 3) {
      config_path = items[1];
      config_text = items[2];
    }
  }
  std::vector<const char*> args;
  for (const auto& a : argv) args.push_back(a.c_str());
  ConfigResult parsed = load_config(
      static_cast<int>(args.size()), args.data(),
      [&env](const char* name) -> const char* {
        for (const auto& [k, v] : env) {
          if (k == name) return v.c_str();
        }
        return nullptr;
      },
      [&](const std::string& p, std::string* text) {
        if (p != config_path) return false;
        *text = config_text;
        return true;
      });
  if (!parsed.config) {
    r.error = path + ": the recorded configuration does not load in this build: " + parsed.message;
    return r;
  }

  // Each id's workload as recorded (kService, kWorkload): its name and the
  // facts its series are labelled by.
  std::unordered_map<uint16_t, WorkloadIdentity> workloads;
  PipelineStats stats;
  prometheus::Registry registry;
  HttpMetrics http(registry, parsed.config->metrics, [&workloads](uint16_t id) {
    auto it = workloads.find(id);
    return it == workloads.end() ? std::string("unknown") : it->second.service;
  });
  const bool pod_name_label = parsed.config->identity.pod_name_label;
  http.set_workload_labels([&workloads, pod_name_label](uint16_t id) {
    auto it = workloads.find(id);
    return it == workloads.end() ? LabelPairs{} : series_labels(it->second, pod_name_label);
  });
  ConnectionTracker tracker(stats, http, builtin_protocols(), nullptr);
  RecordPipeline pipeline(tracker);
  for (; more; more = reader->next(&type, &payload)) {
    switch (type) {
      case CaptureFrame::kRingRecord:
        ++r.ring_records;
        pipeline.add_ring_record(payload.data(), payload.size());
        break;
      case CaptureFrame::kRelease:
        pipeline.release(read_u64(payload));
        break;
      case CaptureFrame::kEndBatch:
        pipeline.end_batch(read_u64(payload));
        break;
      case CaptureFrame::kService:
        if (payload.size() >= sizeof(uint16_t)) {
          uint16_t id;
          std::memcpy(&id, payload.data(), sizeof id);
          WorkloadIdentity named;  // a reused id: the facts of its new workload follow, if any
          named.service.assign(payload.begin() + sizeof id, payload.end());
          workloads[id] = std::move(named);
        }
        break;
      case CaptureFrame::kWorkload: {
        uint16_t id;
        WorkloadIdentity facts;
        if (decode_workload(payload, &id, &facts)) {
          facts.service = workloads[id].service;
          workloads[id] = std::move(facts);
        }
        break;
      }
      case CaptureFrame::kServiceExpired:
        if (payload.size() >= sizeof(uint16_t) + 1 && payload[2] <= static_cast<uint8_t>(ExpiryReason::kIdle)) {
          uint16_t id;
          std::memcpy(&id, payload.data(), sizeof id);
          pipeline.expire_service(id, static_cast<ExpiryReason>(payload[2]));
        }
        break;
      default:
        break;  // a frame type this build does not know: nothing it needs
    }
  }
  r.frames = reader->frames();
  if (reader->truncated()) {
    r.warning = path + ": the capture ends without its end marker (the exporter was killed, or the file was cut); "
                       "replayed up to its last whole frame";
  }
  std::vector<prometheus::MetricFamily> families;
  for (prometheus::Collectable* c : http.families()) {
    auto f = c->Collect();
    families.insert(families.end(), f.begin(), f.end());
  }
  auto self = PipelineSelfMetrics(stats, http).Collect();
  families.insert(families.end(), self.begin(), self.end());
  sort_series(families);
  r.exposition = prometheus::TextSerializer().Serialize(families);
  r.requests = stats.requests_recorded.get() + stats.responses_unpaired.get();
  r.ok = true;
  return r;
}

}  // namespace aster
