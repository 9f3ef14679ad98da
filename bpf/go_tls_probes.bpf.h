/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Go crypto/tls plaintext (statically linked into each Go binary, so these
 * uprobes sit on the executable itself): crypto/tls.(*Conn).Write at its
 * entry, (*Conn).Read at its entry and at each of its RET instructions
 * (userspace finds them by disassembling the function), and the two
 * handshake functions at entry. "Entry" is the instruction past the
 * function's stack-bound check (userspace finds it): the check's morestack
 * path jumps back to the first instruction, so a probe there fires twice
 * for one call whenever the stack grows or the scheduler preempts the
 * goroutine there, and a Write's plaintext would be sent twice. Never uretprobes: a uretprobe rewrites the
 * return address on the goroutine's stack, which the Go runtime copies
 * when it grows the stack, and the program crashes.
 *
 * Register ABI (Go >= 1.17, amd64): at entry the receiver (*tls.Conn) is
 * in RAX, the []byte's pointer in RBX and its length in RCX; at a RET, n
 * is in RAX. R14 holds the goroutine (g) throughout, so a Read's entry and
 * its return are paired by (tgid, g): a goroutine that parks on the
 * netpoller inside Read may come back on another thread.
 *
 * Binding a tls.Conn to its connection. The socket is found from the
 * tls.Conn itself, not from the thread: tls.Conn.conn (a net.Conn
 * interface whose itab must be *net.TCPConn's, else the call is skipped
 * and counted) -> *netFD -> poll.FD.Sysfd -> the process's file table ->
 * file -> socket -> sock. That is exact whatever thread the goroutine runs
 * on. The connection id and the "this socket is TLS" mark live in the
 * socket programs' state (socket-local storage in socket mode), which
 * uprobe programs (kprobe-type) cannot reach; so an entry whose tls.Conn
 * is not bound yet leaves {tgid, session, socket inode} in go_tls_pending
 * under the sock's address, and the next transfer on that sock by that
 * process (the handshake's first read, or the call's own) binds (tgid,
 * tls.Conn) to the connection in tls_bindings, as the OpenSSL path does,
 * and marks the socket TLS so none of its ciphertext is sent. From then on
 * an entry finds the binding (same socket inode) and nothing is left.
 *
 * A Write's plaintext is sent at its entry (Go writes the whole buffer or
 * fails the connection); a Read's at its return. A write whose tls.Conn is
 * not bound (a connection older than the probes whose first call seen is
 * a write) cannot be placed: it is counted as unbound and its transfer
 * binds the connection for what follows.
 */
#ifndef ASTER_GO_TLS_PROBES_BPF_H
#define ASTER_GO_TLS_PROBES_BPF_H

/* Go binaries probed: userspace raises it, and only then do the socket
 * programs look up go_tls_pending for sockets not yet bound. */
__u32 go_tls_binaries;

/* tgid -> where its tls.Conn keeps the socket (userspace fills it for each
 * watched process running a probed Go binary). LRU: an exited process's
 * entry is recycled; a process with a reused pid that runs another binary
 * is not probed there, and one running the same binary gets its own. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct aster_go_tls_proc);
} go_tls_procs SEC(".maps");

struct aster_go_pending {
	__u64 session;  /* the *tls.Conn */
	__u64 sock_ino; /* the socket's inode, so a sock freed and reused is not bound */
	__u32 tgid;
	__u32 reserved;
};
/* sock address -> a tls.Conn waiting for its first transfer to bind it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct aster_go_pending);
} go_tls_pending SEC(".maps");

/* (tgid, goroutine) -> a Read between its entry and its return. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct aster_tls_key);
	__type(value, struct aster_tls_call);
} go_tls_reads SEC(".maps");

/* The socket of a *tls.Conn: false when its conn is no *net.TCPConn or a
 * read fails. */
static __always_inline bool go_conn_socket(const struct aster_go_tls_proc *gp, __u64 conn, struct sock **sk,
					   __u64 *ino)
{
	__u64 iface[2]; /* itab, data */
	if (bpf_probe_read_user(iface, sizeof(iface), (const void *)(conn + gp->conn_off)))
		return false;
	if (iface[0] != gp->tcpconn_itab)
		return false;
	__u64 netfd = 0;
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (const void *)(iface[1] + gp->tcpconn_fd_off)) || !netfd)
		return false;
	__s64 fd = -1;
	if (bpf_probe_read_user(&fd, sizeof(fd), (const void *)(netfd + gp->netfd_sysfd_off)))
		return false;
	if (fd < 0 || fd > 0x7fffffff)
		return false;
	*sk = sock_of_fd((__s32)fd, ino);
	return *sk && is_tcp_socket(*sk);
}

SEC("uprobe")
int go_tls_enter(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	int service_id = service_of(tgid);
	if (service_id < 0)
		return 0;
	struct aster_go_tls_proc *gp = bpf_map_lookup_elem(&go_tls_procs, &tgid);
	if (!gp)
		return 0;
	__u64 kind = bpf_get_attach_cookie(ctx);
	__u64 conn = ctx->ax;
	struct sock *sk = 0;
	__u64 ino = 0;
	if (!go_conn_socket(gp, conn, &sk, &ino)) {
		count(ASTER_CTR_GO_TLS_SKIPPED, 1);
		return 0;
	}
	struct aster_tls_key key = {.session = conn, .tgid = tgid};
	struct aster_tls_binding *b = bpf_map_lookup_elem(&tls_bindings, &key);
	if (!b || b->sock_ino != ino) {
		struct aster_go_pending p = {.session = conn, .sock_ino = ino, .tgid = tgid};
		__u64 sk_key = (__u64)sk;
		bpf_map_update_elem(&go_tls_pending, &sk_key, &p, BPF_ANY);
		b = 0;
	}
	struct aster_tls_call c = {
		.session = conn,
		.buf = ctx->bx,
		.service_id = service_id,
		.direction = kind == ASTER_GO_TLS_WRITE ? ASTER_DIR_EGRESS : ASTER_DIR_INGRESS,
	};
	if (kind == ASTER_GO_TLS_READ) {
		struct aster_tls_key g = {.session = ctx->r14, .tgid = tgid};
		bpf_map_update_elem(&go_tls_reads, &g, &c, BPF_ANY);
	} else if (kind == ASTER_GO_TLS_WRITE) {
		__u64 len = ctx->cx;
		if (!len)
			return 0;
		if (!b) {
			count(ASTER_CTR_TLS_UNBOUND, 1);
			return 0;
		}
		emit_plaintext(b, &c, len > 0xffffffffull ? 0xffffffffu : (__u32)len, pid_tgid);
	}
	return 0;
}

/* At each RET of crypto/tls.(*Conn).Read: n in RAX. */
SEC("uprobe")
int go_tls_read_return(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (!maybe_watched(tgid))
		return 0;
	struct aster_tls_key g = {.session = ctx->r14, .tgid = tgid};
	struct aster_tls_call *p = bpf_map_lookup_elem(&go_tls_reads, &g);
	if (!p)
		return 0;
	struct aster_tls_call c = *p;
	bpf_map_delete_elem(&go_tls_reads, &g);
	__s64 n = (__s64)ctx->ax;
	if (n <= 0)
		return 0;
	struct aster_tls_key key = {.session = c.session, .tgid = tgid};
	struct aster_tls_binding *b = bpf_map_lookup_elem(&tls_bindings, &key);
	if (!b) {
		count(ASTER_CTR_TLS_UNBOUND, 1);
		return 0;
	}
	emit_plaintext(b, &c, n > 0xffffffffll ? 0xffffffffu : (__u32)n, pid_tgid);
	return 0;
}

/* The socket programs' part, for a watched socket not bound to a TLS
 * session: a Go tls.Conn waiting on this sock binds it now. True when it
 * did (the transfer is the session's ciphertext: not sent). */
static __always_inline bool go_tls_bind_pending(struct aster_conn_state *st, struct sock *sk, __u32 tgid)
{
	if (!go_tls_binaries)
		return false;
	__u64 sk_key = (__u64)sk;
	struct aster_go_pending *p = bpf_map_lookup_elem(&go_tls_pending, &sk_key);
	if (!p)
		return false;
	struct aster_go_pending pending = *p;
	if (pending.tgid != tgid)
		return false;
	bpf_map_delete_elem(&go_tls_pending, &sk_key);
	if (pending.sock_ino != BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino))
		return false; /* left by a socket freed since, at this address */
	struct aster_tls_key key = {.session = pending.session, .tgid = tgid};
	struct aster_tls_binding fresh = {.conn_id = st->conn_id, .sock_ino = pending.sock_ino};
	bpf_map_update_elem(&tls_bindings, &key, &fresh, BPF_ANY);
	st->tls_session = pending.session;
	count(ASTER_CTR_TLS_BOUND, 1);
	return true;
}

#endif
