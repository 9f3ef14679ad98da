/* SPDX-License-Identifier: Apache-2.0 */
/* Maps and load-time settings shared by every probe in aster.bpf.c. */
#ifndef ASTER_MAPS_BPF_H
#define ASTER_MAPS_BPF_H

/* Set by userspace before load (the skeleton's rodata). */
const volatile __u32 capture_bytes = ASTER_CAPTURE_DEFAULT;
/* Ask userspace to wake up early once this much data waits in the ring, so
 * bursts cannot overflow it between two timed polls. 0: never. */
const volatile __u64 wakeup_threshold_bytes = 0;

/* Report every exec on the node (userspace sets it when a selector matches
 * executables or cgroups; otherwise execs are none of our business). */
const volatile bool follow_exec = false;

/* A listen() on a port in watch_ports (the ports selectors name, filled by
 * userspace before the programs are attached) puts its process in the
 * watched map at once, as pending (see ASTER_SERVICE_PENDING). Never the
 * exporter itself. Not done for the default, every listener: that path
 * cannot be tested on a shared machine, where nothing may run unselected. */
const volatile __u32 self_tgid = 0;
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} watch_ports SEC(".maps");

/* Next connection id; ids start at 1 so 0 means "not assigned yet". */
__u64 next_conn_id = 1;

/* Sized by userspace before load (--ringbuf.size); 8 MiB default holds
 * ~20 ms of saturated tiny-request traffic many times over. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* tgid -> service. A node rarely runs more than a few thousand server
 * processes; userspace may raise it before load. */
#define ASTER_MAX_WATCHED 16384
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ASTER_MAX_WATCHED);
	__type(key, __u32);
	__type(value, struct aster_watch);
} watched SEC(".maps");

/* See ASTER_PID_BITS. Userspace writes it through the skeleton's mmap of
 * .bss; the fork and exit probes with atomic or/and. */
__u64 watched_bits[ASTER_PID_BITMAP_WORDS];
/* Bumped by userspace whenever it watches a process anew or moves one to
 * another service, so sockets forget the service they remembered (see
 * owner_service). */
__u32 watch_epoch;

static __always_inline bool maybe_watched(__u32 tgid)
{
	return watched_bits[(tgid >> 6) & (ASTER_PID_BITMAP_WORDS - 1)] & (1ull << (tgid & 63));
}

static __always_inline void set_watched_bit(__u32 tgid)
{
	__sync_fetch_and_or(&watched_bits[(tgid >> 6) & (ASTER_PID_BITMAP_WORDS - 1)], 1ull << (tgid & 63));
}

static __always_inline void clear_watched_bit(__u32 tgid)
{
	__sync_fetch_and_and(&watched_bits[(tgid >> 6) & (ASTER_PID_BITMAP_WORDS - 1)], ~(1ull << (tgid & 63)));
}

/* The service of a process, or -1 when it is not watched. */
static __always_inline int service_of(__u32 tgid)
{
	if (!maybe_watched(tgid))
		return -1;
	struct aster_watch *w = bpf_map_lookup_elem(&watched, &tgid);
	return w ? w->service_id : -1;
}

/* The staging of data records, one struct aster_stage per CPU (see
 * ASTER_STAGE_BYTES in aster_events.h). Userspace maps it read-only to see
 * which CPUs hold records, and runs stage_flush on those.
 *
 * Offsets are masked so that the verifier can prove every copy stays inside
 * buf[]: a record starts below ASTER_STAGE_BYTES, its payload may reach
 * ASTER_CAPTURE_MAX past its header, and a copy length is masked below
 * 2 * ASTER_CAPTURE_MAX. */
#define ASTER_STAGE_MASK (ASTER_STAGE_BYTES - 1)
#define ASTER_STAGE_COPY_MASK (2 * ASTER_CAPTURE_MAX - 1)
/* One entry per possible CPU, indexed by the CPU a probe runs on (userspace
 * sets max_entries before load). A plain array, not a per-CPU one: per-CPU
 * values are limited to 32 KiB, and userspace can map a plain one. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct aster_stage);
} stages SEC(".maps");

/* Set by userspace after load once it has run stage_flush: until then (or
 * on a kernel where it cannot), every record is handed over at once. */
bool batching;

static __always_inline struct aster_stage *this_cpu_stage(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&stages, &cpu);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ASTER_CTR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Primary mode: connection state lives in the socket itself and is freed
 * with it, so no table can fill up or leak. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct aster_conn_state);
} conn_storage SEC(".maps");

/* Fallback mode: syscall-tracepoint programs cannot use socket storage, so
 * the state is keyed by the socket's address. LRU, so a close we never saw
 * cannot fill it; 64 Ki concurrent watched connections per node. */
#define ASTER_MAX_FALLBACK_CONNS 65536
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ASTER_MAX_FALLBACK_CONNS);
	__type(key, __u64);
	__type(value, struct aster_conn_state);
} conn_by_sock SEC(".maps");

/* Fallback mode: a syscall's arguments from sys_enter, for its sys_exit. */
struct aster_pending_io {
	__u64 buf;     /* buffer, iovec array or user_msghdr */
	__u64 iovcnt;  /* iovec count for the iovec shape */
	__s32 fd;
	__u8 shape;    /* enum aster_buf_shape */
	__u8 direction;
	__u16 service_id;
};
/* LRU: an entry whose sys_exit never comes through (the process was
 * unwatched, or the thread died, in between) is recycled, not leaked. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* threads inside a socket syscall at once */
	__type(key, __u64);         /* pid_tgid */
	__type(value, struct aster_pending_io);
} pending_io SEC(".maps");

static __always_inline void count(__u32 which, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);
	if (c)
		*c += n;
}

#endif
