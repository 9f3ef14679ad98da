// SPDX-License-Identifier: Apache-2.0
// A capture: what the userspace pipeline consumed, in the order it consumed
// it, so that a replay (replay.h) produces the same metrics offline.
//
// It holds the ring-buffer records as they were drained (before they are
// put back in order), the watermark each drain released up to, the clock
// each batch ended at (held records and closing connections age by batch),
// the service names as the service table gave them with each workload's
// identity (so a replay labels series as the live exporter did: k8s_*,
// service_namespace), and the configuration
// the exporter ran with. Ring records carry payload bytes of the watched
// traffic, so a capture is written only when --capture.record asks for
// one, with mode 0600.
//
// Format (version 1; host byte order, which is little-endian on the x86_64
// the probes support):
//   file   := "ASTERCAP" u32 version u32 reserved frame*
//   frame  := u32 type u32 length payload[length] pad-to-8
// The types are CaptureFrame below. A file that ends inside a frame (the
// exporter was killed) replays up to its last whole frame, and says so.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config_sources.h"
#include "identity/workload_identity.h"

namespace aster {

inline constexpr char kCaptureMagic[8] = {'A', 'S', 'T', 'E', 'R', 'C', 'A', 'P'};
inline constexpr uint32_t kCaptureVersion = 1;

enum class CaptureFrame : uint32_t {
  // Strings, each u32 length + bytes: "argv", then the exporter's
  // arguments; or "env", then NAME=VALUE pairs it read; or "config_file",
  // then the path and the text of its YAML file.
  kConfig = 1,
  kRingRecord = 2,  // one ring-buffer record, as drained
  kRelease = 3,     // u64: the watermark the drain released records below
  kEndBatch = 4,    // u64: the clock when the batch ended
  kService = 5,     // u16 id, then the name: the service table named it
  kEnd = 6,         // the recording was closed cleanly
  // u16 id, u8 reason (ExpiryReason: 0 gone, 1 idle): the service's series
  // expired at this point; a later kService may give the id another name.
  kServiceExpired = 7,
  // u16 id, then strings (encode_strings): FIELD=VALUE facts of the
  // workload the id was just named for (after its kService), the set ones
  // of WorkloadIdentity but service; absent for a host process with none.
  // A build that does not know the frame replays without the k8s_* labels.
  kWorkload = 8,
};

class CaptureWriter {
 public:
  // Creates `path` (mode 0600, never through a symlink) and writes the
  // header and the configuration. Null with `error` set on failure.
  static std::unique_ptr<CaptureWriter> create(const std::string& path, const ConfigSources& sources,
                                               std::string* error);
  ~CaptureWriter();
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  void ring_record(const void* data, size_t size) { frame(CaptureFrame::kRingRecord, data, size); }
  void release(uint64_t watermark_ns) { frame(CaptureFrame::kRelease, &watermark_ns, sizeof watermark_ns); }
  void end_batch(uint64_t now_ns) { frame(CaptureFrame::kEndBatch, &now_ns, sizeof now_ns); }
  void service(uint16_t id, const std::string& name);
  // kService, then kWorkload when the identity has facts beyond its name.
  void workload(uint16_t id, const WorkloadIdentity& identity);
  void service_expired(uint16_t id, uint8_t reason);
  // Writes the end marker and closes the file; further frames are dropped.
  void close();
  // False once a write failed (logged once; the exporter goes on without).
  bool ok() const { return file_ != nullptr; }
  const std::string& path() const { return path_; }

 private:
  CaptureWriter(FILE* f, std::string path) : file_(f), path_(std::move(path)) {}
  void frame(CaptureFrame type, const void* data, size_t size);
  void fail(const char* what);
  FILE* file_;
  std::string path_;
};

// Reads a capture frame by frame.
class CaptureReader {
 public:
  // Null with `error` set when the file cannot be read or is not a capture
  // of a version this build reads.
  static std::unique_ptr<CaptureReader> open(const std::string& path, std::string* error);
  ~CaptureReader();
  CaptureReader(const CaptureReader&) = delete;
  CaptureReader& operator=(const CaptureReader&) = delete;

  // The next frame; false at the end of the file. `truncated()` then says
  // whether it ended inside a frame or without the end marker.
  bool next(CaptureFrame* type, std::vector<uint8_t>* payload);
  bool truncated() const { return truncated_; }
  uint64_t frames() const { return frames_; }

 private:
  explicit CaptureReader(FILE* f) : file_(f) {}
  FILE* file_;
  bool truncated_ = false;
  bool ended_ = false;
  uint64_t frames_ = 0;
};

// The strings of a kConfig frame, and back.
std::vector<uint8_t> encode_strings(const std::vector<std::string>& items);
bool decode_strings(const std::vector<uint8_t>& payload, std::vector<std::string>* items);
// A kWorkload frame's payload, and back (`service` is kService's). False
// for a damaged payload; unknown fields are skipped (a later build's).
std::vector<uint8_t> encode_workload(uint16_t id, const WorkloadIdentity& identity);
bool decode_workload(const std::vector<uint8_t>& payload, uint16_t* id, WorkloadIdentity* identity);

}  // namespace aster
