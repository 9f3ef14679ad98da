/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one BPF object of aster-exporter. Each included file has one job;
 * they are compiled together so that all programs share one set of maps.
 * Userspace loads either the socket-tracepoint programs (primary) or the
 * syscall-tracepoint programs (fallback), never both; the TLS uprobes
 * (tls_probes.bpf.h) hook into whichever is loaded.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "aster_events.h"
#include "maps.bpf.h"
#include "capture.bpf.h"
#include "tls_probes.bpf.h"
#include "socket_probes.bpf.h"
#include "syscall_probes.bpf.h"
#include "process_probes.bpf.h"

char LICENSE[] SEC("license") = "GPL";
