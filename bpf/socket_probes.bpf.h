/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Primary attach mode (kernel >= 6.3): the BTF tracepoints sock_recv_length
 * and sock_send_length fire on every socket transfer path with the socket in
 * hand, and only on sockets, so unwatched processes and non-socket I/O cost
 * nothing beyond an empty call. The user buffer comes from the registers of
 * the syscall that got us here.
 */
#ifndef ASTER_SOCKET_PROBES_BPF_H
#define ASTER_SOCKET_PROBES_BPF_H

/* x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_splice 275
#define NR_preadv 295
#define NR_pwritev 296
#define NR_preadv2 327
#define NR_pwritev2 328

/* The tracepoint's socket is a trusted BTF pointer: plain loads, no
 * bpf_probe_read_kernel call per field. */
static __always_inline bool is_tcp_sock_btf(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return false;
	return sk->sk_protocol == IPPROTO_TCP && sk->sk_type == SOCK_STREAM;
}

static __always_inline void on_socket_io(struct sock *sk, __u8 dir, int moved)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	/* Every process's socket I/O on the node comes through here: the bitmap
	 * turns away the unwatched ones before anything else is read. */
	if (!maybe_watched(tgid))
		return;
	if (!is_tcp_sock_btf(sk))
		return;

	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	long nr = regs->orig_ax;
	__u64 ubuf = regs->si;
	__s32 fd = (__s32)regs->di;
	__u8 shape = ASTER_SHAPE_NONE;

	/* The syscall must move bytes in this tracepoint's direction; anything
	 * else (io_uring workers, sendmmsg, a kernel-internal transfer) is
	 * reported as bytes without a buffer. */
	if (dir == ASTER_DIR_INGRESS) {
		if (nr == NR_read || nr == NR_recvfrom)
			shape = ASTER_SHAPE_FLAT;
		else if (nr == NR_readv || nr == NR_preadv || nr == NR_preadv2)
			shape = ASTER_SHAPE_IOV;
		else if (nr == NR_recvmsg)
			shape = ASTER_SHAPE_MSG;
	} else {
		if (nr == NR_write || nr == NR_sendto)
			shape = ASTER_SHAPE_FLAT;
		else if (nr == NR_writev || nr == NR_pwritev || nr == NR_pwritev2)
			shape = ASTER_SHAPE_IOV;
		else if (nr == NR_sendmsg)
			shape = ASTER_SHAPE_MSG;
		else if (nr == NR_splice)
			fd = (__s32)regs->dx; /* splice(fd_in, off_in, fd_out, ...) */
	}
	if (shape == ASTER_SHAPE_NONE && nr != NR_sendfile && nr != NR_splice)
		fd = -1;

	struct aster_conn_state *st =
		bpf_sk_storage_get(&conn_storage, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	int service_id = owner_service(st, tgid);
	if (service_id < 0)
		return;
	assign_conn_id(st);
	if (tls_socket_transfer(st, sk, pid_tgid, dir, (__u32)moved, shape, ubuf, regs->dx, service_id))
		return; /* TLS: the uprobes send its plaintext */
	/* The kernel's own count of the bytes moved: what went by unseen
	 * (splice() from a socket never reaches sock_recvmsg) becomes a gap
	 * instead of shifting everything after it. */
	__u32 unseen = 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (tp) {
		bool ingress = dir == ASTER_DIR_INGRESS;
		unseen = unseen_before(st, dir, (__u32)moved, ingress ? tp->copied_seq : tp->write_seq,
				       ingress && (sk->sk_shutdown & RCV_SHUTDOWN));
	}
	/* Read after the connection state exists: a close after this read
	 * finds the state and is reported by sock_state_storage. */
	bool closed = sk->__sk_common.skc_state == TCP_CLOSE;
	emit_data(st, dir, fd, (__u32)moved, shape, ubuf, regs->dx, pid_tgid, service_id, unseen, closed);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags)
{
	if (ret <= 0)
		return 0;
	/* MSG_PEEK leaves the bytes in the socket: the real read follows. */
	if (flags & MSG_PEEK)
		return 0;
	on_socket_io(sk, ASTER_DIR_INGRESS, ret);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags)
{
	if (ret <= 0)
		return 0;
	on_socket_io(sk, ASTER_DIR_EGRESS, ret);
	return 0;
}

/* Tells userspace a connection ended (close-delimited bodies end here) and
 * lets it free that connection's buffers. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state_storage, const struct sock *sk, int oldstate, int newstate)
{
	if (!listen_or_closing(sk, newstate))
		return 0;
	struct aster_conn_state *st =
		bpf_sk_storage_get(&conn_storage, (struct sock *)sk, 0, 0);
	if (!st || !st->conn_id)
		return 0;
	report_close(st->conn_id);
	/* The state is not deleted here: a reset can close the socket on one
	 * CPU while a send on another is just returning, and that send's record
	 * must keep this connection id. The storage goes with the socket. */
	return 0;
}

#endif
