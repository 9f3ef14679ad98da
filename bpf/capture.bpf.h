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

/* How a syscall names the bytes it moved. */
enum aster_buf_shape {
	ASTER_SHAPE_NONE = 0, /* no user buffer: sendfile, splice, io_uring, *mmsg */
	ASTER_SHAPE_FLAT = 1, /* read/write/recvfrom/sendto: (fd, buf, len) */
	ASTER_SHAPE_IOV = 2,  /* readv/writev/preadv/pwritev and their v2: (fd, iov, iovcnt) */
	ASTER_SHAPE_MSG = 3,  /* recvmsg/sendmsg: (fd, struct user_msghdr *) */
};

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

/* Copy n user bytes to data[off]. The masks let the verifier prove
 * off + n < sizeof(data) without knowing either value. */
static __always_inline long read_user_at(struct aster_scratch *s, __u32 off,
					 const void *src, __u32 n)
{
	__u64 o = off & (ASTER_CAPTURE_MAX - 1);
	__u64 len = n > ASTER_CAPTURE_MAX ? ASTER_CAPTURE_MAX : n;
	/* clang may compare one register and pass another, losing the bound
	 * above; a mask on the register passed keeps it (data[] is sized for
	 * the masked maximum). */
	asm volatile("" : "+r"(len)); /* hide the bound so clang keeps the mask */
	len &= ASTER_CAPTURE_MAX * 2 - 1;
	return bpf_probe_read_user(&s->data[o], len, src);
}

/* Copies up to `limit` bytes from the first iovecs; returns bytes copied,
 * always a prefix of what the syscall moved. */
static __always_inline __u32 copy_iovecs(struct aster_scratch *s,
					 const struct iovec *iov, __u64 iovcnt,
					 __u32 limit)
{
	__u32 off = 0;
#pragma unroll
	for (int i = 0; i < ASTER_MAX_IOV; i++) {
		if (i >= iovcnt || off >= limit)
			break;
		struct iovec v;
		if (bpf_probe_read_user(&v, sizeof(v), &iov[i])) {
			s->ev.flags |= ASTER_F_READ_FAILED;
			break;
		}
		__u32 want = limit - off;
		__u32 n = v.iov_len < want ? (__u32)v.iov_len : want;
		if (read_user_at(s, off, v.iov_base, n)) {
			s->ev.flags |= ASTER_F_READ_FAILED;
			break;
		}
		off += n;
	}
	if (off < limit && iovcnt > ASTER_MAX_IOV)
		s->ev.flags |= ASTER_F_IOV_TRUNCATED;
	return off;
}

static __always_inline __u32 copy_payload(struct aster_scratch *s, __u8 shape,
					  __u64 ubuf, __u64 iovcnt, __u32 moved)
{
	__u32 limit = moved < capture_bytes ? moved : capture_bytes;
	if (limit > ASTER_CAPTURE_MAX)
		limit = ASTER_CAPTURE_MAX;

	switch (shape) {
	case ASTER_SHAPE_FLAT:
		if (read_user_at(s, 0, (const void *)ubuf, limit)) {
			s->ev.flags |= ASTER_F_READ_FAILED;
			return 0;
		}
		return limit;
	case ASTER_SHAPE_IOV:
		return copy_iovecs(s, (const struct iovec *)ubuf, iovcnt, limit);
	case ASTER_SHAPE_MSG: {
		struct user_msghdr msg;
		if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)ubuf)) {
			s->ev.flags |= ASTER_F_READ_FAILED;
			return 0;
		}
		return copy_iovecs(s, msg.msg_iov, msg.msg_iovlen, limit);
	}
	default:
		s->ev.flags |= ASTER_F_NO_USER_BUFFER;
		count(ASTER_CTR_NO_USER_BUFFER, 1);
		return 0;
	}
}

/* One data record: claim this chunk's place in the stream, copy its head,
 * hand it over. */
static __always_inline void emit_data(struct aster_conn_state *st, __u8 dir,
				      __s32 fd, __u32 moved, __u8 shape,
				      __u64 ubuf, __u64 iovcnt, __u64 pid_tgid,
				      __u16 service_id)
{
	__u32 zero = 0;
	struct aster_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;

	s->ev.stream_pos = __sync_fetch_and_add(&st->stream_pos[dir & 1], moved);
	s->ev.timestamp_ns = bpf_ktime_get_ns();
	s->ev.conn_id = st->conn_id;
	s->ev.tgid = pid_tgid >> 32;
	s->ev.tid = (__u32)pid_tgid;
	s->ev.fd = fd;
	s->ev.byte_count = moved;
	s->ev.kind = ASTER_EVENT_DATA;
	s->ev.direction = dir;
	s->ev.flags = 0;
	s->ev.service_id = service_id;

	__u32 captured = copy_payload(s, shape, ubuf, iovcnt, moved);
	s->ev.captured_len = captured;
	__u64 size = sizeof(struct aster_event) + (captured & (ASTER_CAPTURE_MAX * 2 - 1));
	if (size > sizeof(*s) - sizeof(s->since_fill_check))
		return;
	/* 64 records per CPU between checks stay far below the 3/4 of the
	 * ring that is free when the wake-up threshold is crossed. */
	__u64 wake = (++s->since_fill_check & 63) ? BPF_RB_NO_WAKEUP : ring_wakeup_flags();
	if (bpf_ringbuf_output(&events, &s->ev, size, wake)) {
		count(ASTER_CTR_EVENTS_LOST, 1);
		count(ASTER_CTR_BYTES_LOST, moved);
	}
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
	emit_header_only(ASTER_EVENT_LISTEN, 0, pid_tgid >> 32, (__u32)pid_tgid, 0,
			 BPF_CORE_READ(sk, __sk_common.skc_num), BPF_RB_FORCE_WAKEUP);
}

#endif
