// SPDX-License-Identifier: Apache-2.0
#include "capture/capture_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "model/log.h"

namespace aster {
namespace {

constexpr size_t kPad = 8;
// A frame longer than this is damage, not a record (a ring record is at
// most a ring's size; the configuration a few KiB).
constexpr uint32_t kMaxFrame = 1u << 30;

struct FrameHeader {
  uint32_t type;
  uint32_t length;
};

}  // namespace

std::vector<uint8_t> encode_strings(const std::vector<std::string>& items) {
  std::vector<uint8_t> out;
  for (const auto& s : items) {
    uint32_t n = static_cast<uint32_t>(s.size());
    const auto* p = reinterpret_cast<const uint8_t*>(&n);
    out.insert(out.end(), p, p + sizeof n);
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

bool decode_strings(const std::vector<uint8_t>& payload, std::vector<std::string>* items) {
  items->clear();
  size_t pos = 0;
  while (pos < payload.size()) {
    uint32_t n;
    if (payload.size() - pos < sizeof n) return false;
    std::memcpy(&n, payload.data() + pos, sizeof n);
    pos += sizeof n;
    if (payload.size() - pos < n) return false;
    items->emplace_back(reinterpret_cast<const char*>(payload.data() + pos), n);
    pos += n;
  }
  return true;
}

namespace {

// The facts a kWorkload frame names, by the field names of WorkloadIdentity
// (service is kService's).
struct WorkloadField {
  const char* name;
  std::string WorkloadIdentity::*member;
};
constexpr WorkloadField kWorkloadFields[] = {
    {"service_namespace", &WorkloadIdentity::service_namespace},
    {"k8s_namespace_name", &WorkloadIdentity::k8s_namespace_name},
    {"k8s_pod_name", &WorkloadIdentity::k8s_pod_name},
    {"k8s_container_name", &WorkloadIdentity::k8s_container_name},
    {"k8s_owner_kind", &WorkloadIdentity::k8s_owner_kind},
    {"k8s_owner_name", &WorkloadIdentity::k8s_owner_name},
    {"k8s_pod_uid", &WorkloadIdentity::k8s_pod_uid},
    {"container_id", &WorkloadIdentity::container_id},
    {"container_runtime", &WorkloadIdentity::container_runtime},
    {"systemd_unit", &WorkloadIdentity::systemd_unit},
};

}  // namespace

std::vector<uint8_t> encode_workload(uint16_t id, const WorkloadIdentity& identity) {
  std::vector<std::string> facts;
  for (const auto& f : kWorkloadFields) {
    const std::string& v = identity.*f.member;
    if (!v.empty()) facts.push_back(std::string(f.name) + "=" + v);
  }
  std::vector<uint8_t> out(sizeof id);
  std::memcpy(out.data(), &id, sizeof id);
  std::vector<uint8_t> strings = encode_strings(facts);
  out.insert(out.end(), strings.begin(), strings.end());
  return out;
}

bool decode_workload(const std::vector<uint8_t>& payload, uint16_t* id, WorkloadIdentity* identity) {
  if (payload.size() < sizeof *id) return false;
  std::memcpy(id, payload.data(), sizeof *id);
  std::vector<std::string> facts;
  if (!decode_strings(std::vector<uint8_t>(payload.begin() + sizeof *id, payload.end()), &facts)) return false;
  for (const std::string& fact : facts) {
    size_t eq = fact.find('=');
    if (eq == std::string::npos) return false;
    for (const auto& f : kWorkloadFields) {
      if (fact.compare(0, eq, f.name) == 0 && std::strlen(f.name) == eq) identity->*f.member = fact.substr(eq + 1);
    }
  }
  return true;
}

std::unique_ptr<CaptureWriter> CaptureWriter::create(const std::string& path, const ConfigSources& sources,
                                                     std::string* error) {
  // 0600 and no symlink: the file holds payload bytes of other processes.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot create the capture file '" + path + "' (--capture.record): " + std::strerror(errno);
    return nullptr;
  }
  if (fchmod(fd, 0600) != 0) {  // an existing file keeps its mode through O_CREAT
    *error = "cannot make the capture file '" + path + "' private (mode 0600): " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  FILE* f = fdopen(fd, "wb");
  if (!f) {
    *error = "cannot open the capture file '" + path + "': " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  setvbuf(f, nullptr, _IOFBF, 1 << 20);
  std::unique_ptr<CaptureWriter> w(new CaptureWriter(f, path));
  uint32_t head[2] = {kCaptureVersion, 0};
  fwrite(kCaptureMagic, 1, sizeof kCaptureMagic, f);
  fwrite(head, 1, sizeof head, f);
  std::vector<std::string> argv{"argv"};
  argv.insert(argv.end(), sources.argv.begin(), sources.argv.end());
  auto a = encode_strings(argv);
  w->frame(CaptureFrame::kConfig, a.data(), a.size());
  std::vector<std::string> env{"env"};
  for (const auto& [k, v] : sources.env) env.push_back(k + "=" + v);
  auto e = encode_strings(env);
  w->frame(CaptureFrame::kConfig, e.data(), e.size());
  if (!sources.config_path.empty()) {
    auto c = encode_strings({"config_file", sources.config_path, sources.config_text});
    w->frame(CaptureFrame::kConfig, c.data(), c.size());
  }
  if (!w->ok()) {
    *error = "cannot write the capture file '" + path + "'";
    return nullptr;
  }
  return w;
}

CaptureWriter::~CaptureWriter() { close(); }

void CaptureWriter::service(uint16_t id, const std::string& name) {
  std::vector<uint8_t> p(sizeof id + name.size());
  std::memcpy(p.data(), &id, sizeof id);
  std::memcpy(p.data() + sizeof id, name.data(), name.size());
  frame(CaptureFrame::kService, p.data(), p.size());
}

void CaptureWriter::workload(uint16_t id, const WorkloadIdentity& identity) {
  service(id, identity.service);
  std::vector<uint8_t> p = encode_workload(id, identity);
  if (p.size() > sizeof id) frame(CaptureFrame::kWorkload, p.data(), p.size());  // a fact beyond the name
}

void CaptureWriter::service_expired(uint16_t id, uint8_t reason) {
  uint8_t p[3];
  std::memcpy(p, &id, sizeof id);
  p[2] = reason;
  frame(CaptureFrame::kServiceExpired, p, sizeof p);
}

void CaptureWriter::frame(CaptureFrame type, const void* data, size_t size) {
  if (!file_) return;
  FrameHeader h{static_cast<uint32_t>(type), static_cast<uint32_t>(size)};
  static const uint8_t zeros[kPad] = {};
  size_t pad = (kPad - size % kPad) % kPad;
  if (fwrite(&h, sizeof h, 1, file_) != 1 || (size && fwrite(data, size, 1, file_) != 1) ||
      (pad && fwrite(zeros, pad, 1, file_) != 1)) {
    fail("write");
  }
}

void CaptureWriter::fail(const char* what) {
  LOG_ERROR("capture file '%s': %s failed (%s); recording stopped, the exporter goes on", path_.c_str(), what,
            std::strerror(errno));
  fclose(file_);
  file_ = nullptr;
}

void CaptureWriter::close() {
  if (!file_) return;
  frame(CaptureFrame::kEnd, nullptr, 0);
  if (!file_) return;
  if (fclose(file_) != 0) LOG_ERROR("capture file '%s': close failed (%s)", path_.c_str(), std::strerror(errno));
  file_ = nullptr;
}

std::unique_ptr<CaptureReader> CaptureReader::open(const std::string& path, std::string* error) {
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) {
    *error = "cannot read the capture file '" + path + "': " + std::strerror(errno);
    return nullptr;
  }
  char magic[sizeof kCaptureMagic];
  uint32_t head[2];
  if (fread(magic, sizeof magic, 1, f) != 1 || std::memcmp(magic, kCaptureMagic, sizeof magic) != 0 ||
      fread(head, sizeof head, 1, f) != 1) {
    *error = "'" + path + "' is not an aster-exporter capture (made with --capture.record)";
    fclose(f);
    return nullptr;
  }
  if (head[0] != kCaptureVersion) {
    *error = "'" + path + "' is a capture of format version " + std::to_string(head[0]) + "; this build reads version " +
             std::to_string(kCaptureVersion) + ": replay it with the exporter that recorded it";
    fclose(f);
    return nullptr;
  }
  return std::unique_ptr<CaptureReader>(new CaptureReader(f));
}

CaptureReader::~CaptureReader() { fclose(file_); }

bool CaptureReader::next(CaptureFrame* type, std::vector<uint8_t>* payload) {
  if (ended_) return false;
  FrameHeader h;
  size_t got = fread(&h, 1, sizeof h, file_);
  if (got != sizeof h || h.length > kMaxFrame) {
    truncated_ = true;  // no end marker, or damage
    ended_ = true;
    return false;
  }
  size_t padded = h.length + (kPad - h.length % kPad) % kPad;
  payload->resize(padded);
  if (padded && fread(payload->data(), padded, 1, file_) != 1) {
    truncated_ = true;
    ended_ = true;
    return false;
  }
  payload->resize(h.length);
  *type = static_cast<CaptureFrame>(h.type);
  ++frames_;
  if (*type == CaptureFrame::kEnd) {
    ended_ = true;
    return false;
  }
  return true;
}

}  // namespace aster
