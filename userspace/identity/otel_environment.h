// SPDX-License-Identifier: Apache-2.0
// The service name and namespace a process gives itself the OpenTelemetry
// way: OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES
// (percent-encoded key=value pairs separated by commas), as the SDKs and
// Beyla read them. Only these two variables are looked at, and nothing of
// the environment is ever logged: it holds secrets.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace aster {

struct OtelResource {
  std::string service_name;       // "" when not set (empty values are skipped)
  std::string service_namespace;  // "" when not set
};

// `environ` is /proc/PID/environ: NUL-separated NAME=value entries.
OtelResource parse_otel_environment(std::string_view environ);

// "%2C" -> ","; a malformed escape is kept as written (the SDKs do the same).
std::string percent_decode(std::string_view s);

// Reads /proc/PID/environ (at most 1 MiB; the kernel caps an environment
// far lower in practice). nullopt when it cannot be read (the process is
// gone, or belongs to another user and the exporter lacks CAP_SYS_PTRACE).
std::optional<OtelResource> read_otel_environment(pid_t pid);

}  // namespace aster
