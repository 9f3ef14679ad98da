/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What both attach modes share once they hold a socket and a byte count:
 * the TCP filter, per-connection state, copying the head of the user buffer
 * and handing the record to the ring buffer.
 */
#ifndef ASTER_CAPTURE_BPF_H
#define ASTER_CAPTURE_BPF_H

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define MSG_PEEK 2
#define TCP_CLOSE 7
#define TCP_LISTEN 10
#define RCV_SHUTDOWN 1 /* sk_shutdown: the peer's FIN arrived */

/* How a syscall names the bytes it moved. */
enum aster_buf_shape {
	ASTER_SHAPE_NONE = 0, /* no user buffer: sendfile, splice, io_uring, *mmsg */
	ASTER_SHAPE_FLAT = 1, /* read/write/recvfrom/sendto: (fd, buf, len) */
	ASTER_SHAPE_IOV = 2,  /* readv/writev/preadv/pwritev and their v2: (fd, iov, iovcnt) */
	ASTER_SHAPE_MSG = 3,  /* recvmsg/sendmsg: (fd, struct user_msghdr *) */
};

#include "boundary_walker.bpf.h"

static __always_inline bool is_tcp_socket(const struct sock *sk)
{
	if (!sk)
		return false;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return false;
	return BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP &&
	       BPF_CORE_READ(sk, sk_type) == SOCK_STREAM;
}

#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* The socket behind descriptor `fd` of the current process and its inode
 * number, or 0 when fd is no socket (the fallback mode's syscalls and the
 * Go TLS uprobes, which hold a descriptor but no socket). */
static __always_inline struct sock *sock_of_fd(__s32 fd, __u64 *ino)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd < 0 || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = 0;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	*ino = BPF_CORE_READ(file, f_inode, i_ino);
	struct socket *sock = BPF_CORE_READ(file, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : 0;
}

static __always_inline void assign_conn_id(struct aster_conn_state *st)
{
	if (st->conn_id)
		return;
	__u64 id = __sync_fetch_and_add(&next_conn_id, 1);
	/* Two CPUs may race on a socket's first event; the first id wins. */
	__sync_val_compare_and_swap(&st->conn_id, 0, id);
}

/* The service of the process moving bytes on this socket: remembered in the
 * socket's state, so the watched map is looked up once per connection and
 * process, not once per transfer. -1: not watched (the bitmap's bit was set
 * for a process that has no entry, a moment's race with userspace). */
static __always_inline int owner_service(struct aster_conn_state *st, __u32 tgid)
{
	__u16 epoch = (__u16)watch_epoch;
	if (st->owner_tgid == tgid && st->owner_epoch == epoch)
		return st->owner_service;
	struct aster_watch *w = bpf_map_lookup_elem(&watched, &tgid);
	if (!w)
		return -1;
	st->owner_service = w->service_id;
	st->owner_epoch = epoch;
	st->owner_tgid = tgid;
	return w->service_id;
}

static __always_inline __u64 ring_wakeup_flags(void)
{
	/* No wake-up per record: userspace polls on a short timer and drains
	 * in batches. Only a filling ring asks for an early wake-up. */
	if (wakeup_threshold_bytes &&
	    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_threshold_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Copy n user bytes to buf[off]. The masks let the verifier prove
 * off + n < sizeof(buf) without knowing either value. */
static __always_inline long read_user_at(struct aster_stage *s, __u32 off,
					 const void *src, __u32 n)
{
	__u64 o = off & ASTER_STAGE_COPY_MASK;
	__u64 len = n > ASTER_CAPTURE_MAX ? ASTER_CAPTURE_MAX : n;
	/* clang may compare one register and pass another, losing the bound
	 * above; a mask on the register passed keeps it (buf[] is sized for
	 * the masked maximum). */
	asm volatile("" : "+r"(len)); /* hide the bound so clang keeps the mask */
	len &= ASTER_STAGE_COPY_MASK;
	return bpf_probe_read_user(&s->buf[o], len, src);
}

/* One walk over a syscall's iovecs (bpf_loop's callback sees only this):
 * copy until the budget is spent, then describe each further iovec by a
 * hint. */
struct iov_walk {
	struct aster_stage *s;
	const struct iovec *iov;
	__u32 base;      /* where the payload starts in s->buf */
	__u32 limit;     /* capture budget of this record */
	__u32 moved;     /* bytes the syscall moved */
	__u32 copied;    /* payload bytes copied */
	__u32 walked;    /* bytes of the syscall in the iovecs walked so far */
	__u32 cut_rest;  /* rest of the iovec the budget ended in */
	__u32 hints_off; /* where the hint block goes in s->buf */
	__u16 hints;
	__u16 flags;
};

/* Reads the first n (<= ASTER_IOV_HINT_BYTES) bytes of an iovec into a hint. */
static __always_inline long read_hint_head(struct aster_stage *s, __u32 off, const void *src, __u32 n)
{
	__u64 o = off & ASTER_STAGE_COPY_MASK;
	__u64 len = n > ASTER_IOV_HINT_BYTES ? ASTER_IOV_HINT_BYTES : n;
	asm volatile("" : "+r"(len)); /* see read_user_at */
	len &= 2 * ASTER_IOV_HINT_BYTES - 1;
	if (len > ASTER_IOV_HINT_BYTES)
		return -1;
	return bpf_probe_read_user(&s->buf[o], len, src);
}

static long iov_step(__u64 i, void *arg)
{
	struct iov_walk *w = arg;
	if (w->walked >= w->moved)
		return 1;
	struct iovec v;
	if (bpf_probe_read_user(&v, sizeof(v), &w->iov[i & (ASTER_MAX_IOV - 1)])) {
		w->flags |= ASTER_F_READ_FAILED;
		return 1;
	}
	__u32 left = w->moved - w->walked;
	__u32 len = v.iov_len < left ? (__u32)v.iov_len : left;
	if (!len)
		return 0;
	if (w->copied < w->limit) {
		__u32 want = w->limit - w->copied;
		__u32 n = len < want ? len : want;
		if (read_user_at(w->s, w->base + (w->copied & (ASTER_CAPTURE_MAX - 1)), v.iov_base, n)) {
			w->flags |= ASTER_F_READ_FAILED;
			return 1;
		}
		w->copied += n;
		w->walked += len;
		w->cut_rest = len - n;
		/* The hints go after the payload, which is final once the budget is spent. */
		w->hints_off = (w->base + w->copied + 7) & ~7u;
		return 0;
	}
	if (w->hints >= ASTER_MAX_IOV_HINTS) {
		w->flags |= ASTER_F_IOV_TRUNCATED;
		count(ASTER_CTR_IOV_HINTS_CAPPED, 1);
		return 1;
	}
	__u32 o = (w->hints_off + sizeof(struct aster_iov_hints) +
		   w->hints * sizeof(struct aster_iov_hint)) & ASTER_STAGE_COPY_MASK;
	struct aster_iov_hint *hint = (struct aster_iov_hint *)&w->s->buf[o];
	__u32 n = len < ASTER_IOV_HINT_BYTES ? len : ASTER_IOV_HINT_BYTES;
	hint->len = len;
	hint->reserved = 0;
	/* An unreadable head leaves only the length: a gap, not a guess. */
	hint->head_len = read_hint_head(w->s, o + 8, v.iov_base, n) ? 0 : n;
	w->hints++;
	w->walked += len;
	return 0;
}

/* Copies up to `limit` bytes across the iovecs to buf[base], then hints the
 * iovecs past it; returns bytes copied (a prefix of what the syscall moved)
 * and sets *extra to the bytes of the hint block after the payload. */
static __always_inline __u32 copy_iovecs(struct aster_stage *s, struct aster_event *h, __u32 base,
					 const struct iovec *iov, __u64 iovcnt,
					 __u32 limit, __u32 moved, __u32 *extra)
{
	struct iov_walk w = {
		.s = s,
		.iov = iov,
		.base = base,
		.limit = limit,
		.moved = moved,
	};
	bpf_loop(iovcnt < ASTER_MAX_IOV ? (__u32)iovcnt : ASTER_MAX_IOV, iov_step, &w, 0);
	h->flags |= w.flags;
	if (w.hints) {
		__u32 o = w.hints_off & ASTER_STAGE_COPY_MASK;
		struct aster_iov_hints *hb = (struct aster_iov_hints *)&s->buf[o];
		hb->cut_rest = w.cut_rest;
		hb->count = w.hints;
		hb->reserved = 0;
		h->flags |= ASTER_F_IOV_HINTS;
		*extra = (w.hints_off - base - w.copied) + sizeof(struct aster_iov_hints) +
			 w.hints * sizeof(struct aster_iov_hint);
	}
	return w.copied;
}

/* *extra: bytes after the payload (iovec hints), 0 if none. */
static __always_inline __u32 copy_payload(struct aster_stage *s, struct aster_event *h, __u32 base, __u8 shape,
					  __u64 ubuf, __u64 iovcnt, __u32 limit, __u32 moved, __u32 *extra)
{
	switch (shape) {
	case ASTER_SHAPE_FLAT:
		if (read_user_at(s, base, (const void *)ubuf, limit)) {
			h->flags |= ASTER_F_READ_FAILED;
			return 0;
		}
		return limit;
	case ASTER_SHAPE_IOV:
		return copy_iovecs(s, h, base, (const struct iovec *)ubuf, iovcnt, limit, moved, extra);
	case ASTER_SHAPE_MSG: {
		struct user_msghdr msg;
		if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)ubuf)) {
			h->flags |= ASTER_F_READ_FAILED;
			return 0;
		}
		return copy_iovecs(s, h, base, msg.msg_iov, msg.msg_iovlen, limit, moved, extra);
	}
	default:
		h->flags |= ASTER_F_NO_USER_BUFFER;
		count(ASTER_CTR_NO_USER_BUFFER, 1);
		return 0;
	}
}

/* Every field of a data record's header but the stamp, the copied length
 * and the flags. */
static __always_inline void fill_data_header(struct aster_event *h, const struct aster_conn_state *st,
					     __u64 pos, __u64 pid_tgid, __s32 fd, __u32 moved,
					     __u8 dir, __u16 service_id)
{
	h->conn_id = st->conn_id;
	h->stream_pos = pos;
	h->tgid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->fd = fd;
	h->byte_count = moved;
	h->kind = ASTER_EVENT_DATA;
	h->direction = dir;
	h->service_id = service_id;
}

/* Hands this CPU's staged records to the ring buffer as one record. */
static __always_inline void flush_stage(struct aster_stage *s)
{
	__u32 size = s->staged;
	if (!size)
		return;
	/* The fill check costs ~80 ns: do it once per 16 KiB a CPU hands
	 * over. Even 256 CPUs between two checks then stay below the 3/4 of
	 * the default ring that is free when the wake-up threshold is crossed. */
	__u64 wake = BPF_RB_NO_WAKEUP;
	s->since_fill_check += size;
	if (s->since_fill_check >= 16384) {
		s->since_fill_check = 0;
		wake = ring_wakeup_flags();
	}
	if (bpf_ringbuf_output(&events, s->buf, size & ASTER_STAGE_COPY_MASK, wake)) {
		count(ASTER_CTR_EVENTS_LOST, s->staged_records);
		count(ASTER_CTR_BYTES_LOST, s->staged_moved);
	}
	s->staged = 0;
	s->staged_records = 0;
	s->staged_moved = 0;
}

/* Socket mode: bytes of this direction that moved since the last record
 * by a path the probes do not see, from the kernel's sequence number just
 * after this transfer (seq_end). A transfer that seems to start before the
 * last one ended (another thread's transfer on this socket finished in
 * between) claims no gap: counting transfers places it. */
static __always_inline __u32 unseen_before(struct aster_conn_state *st, __u8 dir, __u32 moved,
					   __u32 seq_end, bool fin_received)
{
	__u32 skip = 0;
	if (st->stream_pos[dir & 1]) {
		__s32 d = (__s32)(seq_end - moved - st->seq_next[dir & 1]);
		/* A read that reaches the peer's FIN consumes its sequence
		 * number too (copied_seq + 1) in the same call that returns the
		 * last bytes: that one is no byte. (A FIN received but not yet
		 * read leaves d at 0; nothing is read after the FIN.) */
		if (fin_received && d > 0)
			d--;
		if (d > 0)
			skip = d;
	}
	st->seq_next[dir & 1] = seq_end;
	return skip;
}

/* One data record: claim this chunk's place in the stream (after `unseen`
 * bytes the probes did not see), copy its head into this CPU's staging
 * behind the records already there. */
static __always_inline void emit_data(struct aster_conn_state *st, __u8 dir,
				      __s32 fd, __u32 moved, __u8 shape,
				      __u64 ubuf, __u64 iovcnt, __u64 pid_tgid,
				      __u16 service_id, __u32 unseen, bool sock_closed)
{
	struct aster_stage *s = this_cpu_stage();
	if (!s)
		return;

	__u64 pos = __sync_fetch_and_add(&st->stream_pos[dir & 1], (__u64)moved + unseen) + unseen;
	__u16 flags = (unseen ? ASTER_F_UNSEEN_BEFORE : 0) | (sock_closed ? ASTER_F_SOCKET_CLOSED : 0);
	if (s->busy) {
		/* Another probe is appending on this CPU. The tracepoints used
		 * here run with preemption off and do not nest, so this is a
		 * safeguard: the transfer's place in the stream is kept by a
		 * record without payload, which userspace counts as a gap. */
		count(ASTER_CTR_STAGE_BUSY, 1);
		struct aster_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e) {
			count(ASTER_CTR_EVENTS_LOST, 1);
			count(ASTER_CTR_BYTES_LOST, moved);
			return;
		}
		fill_data_header(e, st, pos, pid_tgid, fd, moved, dir, service_id);
		e->timestamp_ns = bpf_ktime_get_ns();
		e->captured_len = 0;
		e->flags = ASTER_F_STAGE_BUSY | flags;
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		return;
	}
	s->busy = 1;
	asm volatile("" ::: "memory"); /* busy is set before the stage is touched */

	__u32 limit = moved < capture_bytes ? moved : capture_bytes;
	if (limit > ASTER_CAPTURE_MAX)
		limit = ASTER_CAPTURE_MAX;
	if (s->staged + sizeof(struct aster_event) + limit > ASTER_STAGE_BYTES)
		flush_stage(s);
	__u32 off = s->staged & ASTER_STAGE_MASK;

	/* The header goes straight into its place in the staging. */
	struct aster_event *h = (struct aster_event *)&s->buf[off];
	fill_data_header(h, st, pos, pid_tgid, fd, moved, dir, service_id);
	h->timestamp_ns = bpf_ktime_get_ns();
	if (off == 0)
		s->oldest_ts = h->timestamp_ns;
	h->flags = flags;
	__u32 extra = 0;
	__u32 captured = copy_payload(s, h, off + sizeof(struct aster_event), shape, ubuf, iovcnt, limit,
				      moved, &extra);
	h->captured_len = captured;
	/* Boundary windows go after the payload and its hint block. */
	__u32 windows = walk_boundaries(s, st, dir, off, pos, moved, captured, extra, shape, ubuf, iovcnt);
	/* The hint block and the windows may reach past ASTER_STAGE_BYTES like
	 * a large payload does: buf[] has room (see event_layout.h), and the
	 * next record flushes first. */
	s->staged = off + ((sizeof(struct aster_event) + (captured & (ASTER_CAPTURE_MAX * 2 - 1)) +
			    (extra & 4095) + (windows & 4095) + 7) & ~7u);
	s->staged_records++;
	s->staged_moved += moved;
	if (!batching)
		flush_stage(s);

	asm volatile("" ::: "memory");
	s->busy = 0;
}

/* Userspace runs this (BPF_F_TEST_RUN_ON_CPU) on each CPU whose oldest
 * staged record has waited a poll interval, so a record never waits long in
 * a quiet CPU's staging. Returns 1 when it interrupted a probe appending
 * there: userspace asks again at its next drain. */
SEC("raw_tp")
int stage_flush(void *ctx)
{
	struct aster_stage *s = this_cpu_stage();
	if (!s)
		return 0;
	if (s->busy)
		return 1;
	flush_stage(s);
	return 0;
}

/* A record without payload: connection and process events. */
static __always_inline void emit_header_only(__u8 kind, __u64 conn_id, __u32 tgid, __u32 tid,
					     __u16 service_id, __s32 fd, __u64 wake)
{
	struct aster_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(ASTER_CTR_EVENTS_LOST, 1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->timestamp_ns = bpf_ktime_get_ns();
	e->conn_id = conn_id;
	e->tgid = tgid;
	e->tid = tid;
	e->fd = fd;
	e->kind = kind;
	e->service_id = service_id;
	bpf_ringbuf_submit(e, wake);
}

static __always_inline void emit_simple(__u8 kind, __u64 conn_id, __u32 tgid, __u32 tid,
					__u16 service_id)
{
	emit_header_only(kind, conn_id, tgid, tid, service_id, -1, ring_wakeup_flags());
}

/* listen(): tell discovery at once. Runs in the listening process's context;
 * the record's fd field holds the port. Rare and latency-sensitive (the
 * server's first requests follow), so it wakes the reader. */
static __always_inline void report_listen(const struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	__u16 port = BPF_CORE_READ(sk, __sk_common.skc_num);
	/* Watched at once, before the LISTEN record reaches discovery: the
	 * connections it accepts meanwhile are captured and resolved later. */
	if (tgid != self_tgid && bpf_map_lookup_elem(&watch_ports, &port) &&
	    !bpf_map_lookup_elem(&watched, &tgid)) {
		struct aster_watch w = {.service_id = ASTER_SERVICE_PENDING};
		set_watched_bit(tgid); /* before the entry: see ASTER_PID_BITS */
		if (bpf_map_update_elem(&watched, &tgid, &w, BPF_NOEXIST) == -7 /* E2BIG */) {
			count(ASTER_CTR_WATCH_MAP_FULL, 1);
			clear_watched_bit(tgid);
		}
	}
	emit_header_only(ASTER_EVENT_LISTEN, 0, tgid, (__u32)pid_tgid, 0, port, BPF_RB_FORCE_WAKEUP);
}

/* inet_sock_set_state, both modes: a listen is reported to discovery; true
 * when the socket is closing, so the caller reports the close of its
 * connection (report_close) if it tracks one. */
static __always_inline bool listen_or_closing(const struct sock *sk, int newstate)
{
	if (newstate == TCP_LISTEN) {
		report_listen(sk);
		return false;
	}
	return newstate == TCP_CLOSE;
}

static __always_inline void report_close(__u64 conn_id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	emit_simple(ASTER_EVENT_CLOSE, conn_id, pid_tgid >> 32, (__u32)pid_tgid, 0);
}

#endif
