/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The floor of the tracepoint design: programs that do nothing, attached to
 * the exact points aster-exporter uses. Whatever an empty program costs per
 * call (the tracepoint trampoline, the BPF dispatch, bpf_stats bookkeeping)
 * no probe body can win back; the exporter's cost above it is its own.
 *
 * socket mode:   tp_btf/sock_send_length, tp_btf/sock_recv_length
 * syscalls mode: sys_enter/sys_exit of read, write, readv, writev, recvfrom,
 *                sendto, recvmsg, sendmsg (and sendfile64, which the
 *                exporter also attaches in that mode)
 *
 * A second floor, copy mode: on the socket tracepoints, for the watched
 * server's processes only, what every probe that reads HTTP out of the
 * kernel must do before it can tell anyone anything: take a timestamp (the
 * duration needs it) and copy the head of the user buffer (method, path,
 * status, framing headers live there), here into a per-CPU scratch that
 * nobody reads. No connection state, no ring buffer, no userspace. What the
 * exporter costs above this floor is its connection identity and stream
 * positions, the hand-over to userspace and the second parse there.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sock_send_length")
int BPF_PROG(empty_send, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(empty_recv, struct sock *sk, int ret, int flags)
{
	return 0;
}

/* The copy floor's watched processes, set by the loader (one bit per tgid,
 * as the exporter's own filter). */
#define COPY_PID_BITS (1u << 22)
__u64 copy_pids[COPY_PID_BITS / 64];

/* x86_64 syscall numbers, as in bpf/socket_probes.bpf.h: the syscalls
 * whose buffer the copy floor reads (the ones Go and nginx use here). */
#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_sendto 44
#define NR_recvfrom 45

/* The same limits as the exporter's default: up to 4096 bytes per transfer,
 * from a flat buffer or the first iovecs. */
#define COPY_MAX 4096
#define COPY_MAX_IOV 4
struct copy_scratch {
	/* Sized for the masks below, which let the verifier bound each copy. */
	__u8 buf[3 * COPY_MAX];
	__u64 ts;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct copy_scratch);
} copy_scratch SEC(".maps");

static __always_inline void copy_at(struct copy_scratch *s, __u32 off, const void *src, __u32 n)
{
	__u64 o = off & (COPY_MAX - 1);
	__u64 len = n > COPY_MAX ? COPY_MAX : n;
	asm volatile("" : "+r"(len));
	len &= 2 * COPY_MAX - 1;
	bpf_probe_read_user(&s->buf[o], len, src);
}

static __always_inline void copy_floor(int ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!(copy_pids[(tgid >> 6) & (COPY_PID_BITS / 64 - 1)] & (1ull << (tgid & 63))))
		return;
	__u32 zero = 0;
	struct copy_scratch *s = bpf_map_lookup_elem(&copy_scratch, &zero);
	if (!s)
		return;
	s->ts = bpf_ktime_get_ns();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = regs->orig_ax;
	__u32 limit = ret < COPY_MAX ? ret : COPY_MAX;
	if (nr == NR_read || nr == NR_write || nr == NR_sendto || nr == NR_recvfrom) {
		copy_at(s, 0, (const void *)regs->si, limit);
	} else if (nr == NR_readv || nr == NR_writev) {
		const struct iovec *iov = (const struct iovec *)regs->si;
		__u32 off = 0;
#pragma unroll
		for (int i = 0; i < COPY_MAX_IOV; i++) {
			struct iovec v;
			if (i >= regs->dx || off >= limit || bpf_probe_read_user(&v, sizeof(v), &iov[i]))
				break;
			__u32 n = v.iov_len < limit - off ? (__u32)v.iov_len : limit - off;
			copy_at(s, off, v.iov_base, n);
			off += n;
		}
	}
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(copy_send, struct sock *sk, int ret, int flags)
{
	if (ret > 0)
		copy_floor(ret);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(copy_recv, struct sock *sk, int ret, int flags)
{
	if (ret > 0 && !(flags & 2 /* MSG_PEEK */))
		copy_floor(ret);
	return 0;
}

#define EMPTY_SYSCALL(name)                                                   \
	SEC("tracepoint/syscalls/sys_enter_" #name)                           \
	int empty_enter_##name(void *ctx) { return 0; }                       \
	SEC("tracepoint/syscalls/sys_exit_" #name)                            \
	int empty_exit_##name(void *ctx) { return 0; }

EMPTY_SYSCALL(read)
EMPTY_SYSCALL(write)
EMPTY_SYSCALL(readv)
EMPTY_SYSCALL(writev)
EMPTY_SYSCALL(recvfrom)
EMPTY_SYSCALL(sendto)
EMPTY_SYSCALL(recvmsg)
EMPTY_SYSCALL(sendmsg)
EMPTY_SYSCALL(sendfile64)

char LICENSE[] SEC("license") = "GPL";
