// SPDX-License-Identifier: Apache-2.0
#include "identity/otel_environment.h"

#include <fcntl.h>
#include <unistd.h>

namespace aster {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

OtelResource parse_otel_environment(std::string_view env) {
  std::string_view name_var, attrs_var;
  bool have_name = false;
  size_t i = 0;
  while (i < env.size()) {
    size_t j = env.find('\0', i);
    if (j == std::string_view::npos) j = env.size();
    std::string_view entry = env.substr(i, j - i);
    i = j + 1;
    constexpr std::string_view kName = "OTEL_SERVICE_NAME=", kAttrs = "OTEL_RESOURCE_ATTRIBUTES=";
    if (entry.substr(0, kName.size()) == kName) {
      name_var = entry.substr(kName.size());
      have_name = true;
    } else if (entry.substr(0, kAttrs.size()) == kAttrs) {
      attrs_var = entry.substr(kAttrs.size());
    }
  }
  OtelResource r;
  while (!attrs_var.empty()) {
    size_t comma = attrs_var.find(',');
    std::string_view pair = attrs_var.substr(0, comma);
    attrs_var = comma == std::string_view::npos ? std::string_view() : attrs_var.substr(comma + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;  // the SDKs drop a pair without '='
    std::string key = percent_decode(trim(pair.substr(0, eq)));
    std::string value = percent_decode(trim(pair.substr(eq + 1)));
    if (value.empty()) continue;
    if (key == "service.name") r.service_name = value;
    if (key == "service.namespace") r.service_namespace = value;
  }
  if (have_name && !trim(name_var).empty()) r.service_name = std::string(trim(name_var));
  return r;
}

std::optional<OtelResource> read_otel_environment(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/environ";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  constexpr size_t kMax = 1u << 20;
  std::string env;
  char buf[16384];
  bool ok = true;
  while (env.size() < kMax) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      ok = false;
      break;
    }
    if (n == 0) break;
    env.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (!ok) return std::nullopt;
  return parse_otel_environment(env);
}

}  // namespace aster
