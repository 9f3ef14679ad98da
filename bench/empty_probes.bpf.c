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
