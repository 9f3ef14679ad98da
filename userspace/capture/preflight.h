// SPDX-License-Identifier: Apache-2.0
// Checks made before touching the kernel, each failing with what is missing
// and how to provide it; and the privilege drop once setup is done.
#pragma once

#include <string>

namespace aster {

// "" when the exporter may load BPF programs and read other processes'
// /proc entries; otherwise what is missing.
std::string check_privileges();
// "" when the kernel exposes BTF (CO-RE needs it).
std::string check_btf();
// Makes sure tracefs is mounted (syscall tracepoints need it); tries to
// mount it. "" on success.
std::string ensure_tracefs();
// Keeps only the capabilities needed after setup (BPF map access, reading
// /proc of other processes, attaching the TLS uprobes); logs and goes on if
// the kernel refuses. Capabilities are per thread: a thread started before
// the drop calls it itself (quiet: no second "dropped" line in the log).
void drop_unneeded_capabilities(bool quiet = false);

}  // namespace aster
