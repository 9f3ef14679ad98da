/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fallback attach mode, for kernels without the sock_*_length tracepoints
 * (< 6.3) or when --bpf.attach-mode=syscalls forces it: sys_enter saves the
 * arguments of a watched thread's socket-capable syscall, sys_exit walks
 * fd -> file -> socket -> sock and emits the same records as the primary
 * mode. Costs more: these tracepoints run for every process on the node.
 */
#ifndef ASTER_SYSCALL_PROBES_BPF_H
#define ASTER_SYSCALL_PROBES_BPF_H

/* pending_io direction of a splice(): which end is the socket is found at
 * sys_exit (fd holds fd_in, iovcnt fd_out). */
#define ASTER_DIR_SPLICE 2

static __always_inline int save_args(struct trace_event_raw_sys_enter *ctx, __u8 shape,
				     __u8 dir, __u64 msg_flags)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	int service_id = service_of(pid_tgid >> 32);
	if (service_id < 0)
		return 0;
	if (msg_flags & MSG_PEEK)
		return 0;
	struct aster_pending_io io = {
		.buf = ctx->args[1],
		.iovcnt = ctx->args[2],
		.fd = (__s32)ctx->args[0],
		.shape = shape,
		.direction = dir,
		.service_id = service_id,
	};
	bpf_map_update_elem(&pending_io, &pid_tgid, &io, BPF_ANY);
	return 0;
}

static __always_inline int finish_io(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	/* Every read and write on the node exits through here: the bitmap
	 * spares unwatched processes the hash lookup. */
	if (!maybe_watched(pid_tgid >> 32))
		return 0;
	struct aster_pending_io *io = bpf_map_lookup_elem(&pending_io, &pid_tgid);
	if (!io)
		return 0;
	struct aster_pending_io saved = *io;
	bpf_map_delete_elem(&pending_io, &pid_tgid);

	long ret = ctx->ret;
	if (ret <= 0)
		return 0;
	__u64 ino = 0;
	struct sock *sk = sock_of_fd(saved.fd, &ino);
	if (saved.direction == ASTER_DIR_SPLICE) {
		if (is_tcp_socket(sk)) {
			saved.direction = ASTER_DIR_INGRESS;
		} else {
			saved.fd = (__s32)saved.iovcnt;
			saved.direction = ASTER_DIR_EGRESS;
			sk = sock_of_fd(saved.fd, &ino);
		}
	}
	if (!is_tcp_socket(sk))
		return 0;

	__u64 key = (__u64)sk;
	struct aster_conn_state *st = bpf_map_lookup_elem(&conn_by_sock, &key);
	if (st && st->sock_ino != ino) {
		/* Another socket at a recycled address: start over. */
		bpf_map_delete_elem(&conn_by_sock, &key);
		st = 0;
	}
	if (!st) {
		struct aster_conn_state fresh = {.sock_ino = ino};
		if (bpf_map_update_elem(&conn_by_sock, &key, &fresh, BPF_NOEXIST) == -7 /* E2BIG */)
			count(ASTER_CTR_CONN_STATE_FULL, 1);
		st = bpf_map_lookup_elem(&conn_by_sock, &key);
		if (!st)
			return 0;
	}
	assign_conn_id(st);
	if (tls_socket_transfer(st, sk, pid_tgid, saved.direction, (__u32)ret, saved.shape, saved.buf,
				saved.iovcnt, saved.service_id))
		return 0; /* TLS: the uprobes send its plaintext */
	/* Read after the connection state exists (see on_socket_io). */
	bool closed = BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE;
	emit_data(st, saved.direction, saved.fd, (__u32)ret, saved.shape, saved.buf,
		  saved.iovcnt, pid_tgid, saved.service_id, 0, closed);
	return 0;
}

/* flags: the syscall's MSG_* argument (ctx->args[N]) or 0; the context may
 * only be read at constant offsets. */
#define ASTER_SYSCALL(name, shape, dir, flags)                                      \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                 \
	int sys_enter_##name(struct trace_event_raw_sys_enter *ctx)                 \
	{                                                                           \
		return save_args(ctx, shape, dir, flags);                           \
	}                                                                           \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                  \
	int sys_exit_##name(struct trace_event_raw_sys_exit *ctx)                   \
	{                                                                           \
		return finish_io(ctx);                                              \
	}

ASTER_SYSCALL(read, ASTER_SHAPE_FLAT, ASTER_DIR_INGRESS, 0)
ASTER_SYSCALL(recvfrom, ASTER_SHAPE_FLAT, ASTER_DIR_INGRESS, ctx->args[3])
ASTER_SYSCALL(readv, ASTER_SHAPE_IOV, ASTER_DIR_INGRESS, 0)
ASTER_SYSCALL(recvmsg, ASTER_SHAPE_MSG, ASTER_DIR_INGRESS, ctx->args[2])
ASTER_SYSCALL(write, ASTER_SHAPE_FLAT, ASTER_DIR_EGRESS, 0)
ASTER_SYSCALL(sendto, ASTER_SHAPE_FLAT, ASTER_DIR_EGRESS, 0)
ASTER_SYSCALL(writev, ASTER_SHAPE_IOV, ASTER_DIR_EGRESS, 0)
ASTER_SYSCALL(sendmsg, ASTER_SHAPE_MSG, ASTER_DIR_EGRESS, 0)

/* sendfile(out_fd, in_fd, offset, count): bytes without a user buffer. */
SEC("tracepoint/syscalls/sys_enter_sendfile64")
int sys_enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	return save_args(ctx, ASTER_SHAPE_NONE, ASTER_DIR_EGRESS, 0);
}
SEC("tracepoint/syscalls/sys_exit_sendfile64")
int sys_exit_sendfile64(struct trace_event_raw_sys_exit *ctx)
{
	return finish_io(ctx);
}

/* splice(fd_in, off_in, fd_out, off_out, len, flags): a socket at either
 * end moves bytes without a user buffer; reported so that they are a gap
 * of known length, not a shift of the stream. */
SEC("tracepoint/syscalls/sys_enter_splice")
int sys_enter_splice(struct trace_event_raw_sys_enter *ctx)
{
	return save_args(ctx, ASTER_SHAPE_NONE, ASTER_DIR_SPLICE, 0);
}
SEC("tracepoint/syscalls/sys_exit_splice")
int sys_exit_splice(struct trace_event_raw_sys_exit *ctx)
{
	return finish_io(ctx);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state_hash, const struct sock *sk, int oldstate, int newstate)
{
	if (!listen_or_closing(sk, newstate))
		return 0;
	__u64 key = (__u64)sk;
	struct aster_conn_state *st = bpf_map_lookup_elem(&conn_by_sock, &key);
	if (!st)
		return 0;
	report_close(st->conn_id);
	/* Kept, not deleted: a send still returning on another CPU must find
	 * the same connection id. A new socket at this address is told apart
	 * by its inode; the LRU map bounds what stays behind. */
	return 0;
}

#endif
