/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS plaintext from the library that encrypts it (OpenSSL's libssl here;
 * other libraries add their own entry programs and reuse the binding and the
 * emission below): uprobes at the library's read and write calls see the
 * bytes before encryption and after decryption.
 *
 * Binding a session to its connection. Uprobe programs cannot reach the
 * socket, so the entry of each call notes {session, buffer, direction} for
 * its thread; the socket program that sees the ciphertext move inside that
 * call (socket or syscall mode) binds (tgid, session) to the socket's
 * connection id, marks the socket as TLS (its ciphertext is sent no more)
 * and keeps the plaintext stream positions in the binding; the return of
 * the call emits the plaintext on that connection. A read answered from
 * the library's own buffer, with no socket transfer, uses the binding made
 * before (the handshake binds too). A handshake's transfers are not sent,
 * so no ciphertext of a new connection reaches userspace.
 *
 * Uprobe programs run preemptibly (only migration is off), so they never
 * touch the socket probes' per-CPU staging: each record is built in this
 * file's own per-CPU scratch, claimed with a compare-and-swap, and handed to
 * the ring at once. The stamp is taken after the call's bytes are final and
 * before the record is handed over, so a response (stamped at the return of
 * the write that follows a read) never sorts before its request.
 *
 * Every process that maps a probed library runs these programs: they return
 * at the watched bitmap for all the others.
 */
#ifndef ASTER_TLS_PROBES_BPF_H
#define ASTER_TLS_PROBES_BPF_H

/* Set by userspace before load (--tls.enabled): off, the socket programs
 * skip the lookups below. */
const volatile bool tls_enabled = false;

/* A thread inside a library read or write: from its entry to its return. */
struct aster_tls_call {
	__u64 session;
	__u64 buf;
	__u64 count_out; /* SSL_*_ex: where the library stores the byte count; 0: the return value */
	__u16 service_id;
	__u8 direction;
	__u8 reserved[5];
};
/* LRU: a call whose return never comes (the thread died) is recycled. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* threads inside a TLS call at once */
	__type(key, __u64);         /* pid_tgid */
	__type(value, struct aster_tls_call);
} tls_calls SEC(".maps");

/* A thread inside a handshake: its session, for the socket programs to bind. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, __u64);
} tls_handshakes SEC(".maps");

/* (tgid, session) -> connection and plaintext positions. LRU: a session
 * freed without a close we saw is recycled; 64 Ki live TLS connections of
 * watched processes per node. */
#define ASTER_MAX_TLS_SESSIONS 65536
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ASTER_MAX_TLS_SESSIONS);
	__type(key, struct aster_tls_key);
	__type(value, struct aster_tls_binding);
} tls_bindings SEC(".maps");

/* One record being built per CPU. The payload area is sized for the masked
 * copy length (below 2 * ASTER_CAPTURE_MAX), as the socket staging is. */
struct aster_tls_scratch {
	__u64 busy;
	__u8 rec[sizeof(struct aster_event) + 2 * ASTER_CAPTURE_MAX];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct aster_tls_scratch);
} tls_scratch SEC(".maps");

static __always_inline void fill_plaintext_header(struct aster_event *h, const struct aster_tls_binding *b,
						  __u64 pos, __u64 pid_tgid, __u32 moved, __u8 dir,
						  __u16 service_id, __u16 flags)
{
	h->conn_id = b->conn_id;
	h->stream_pos = pos;
	h->tgid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->fd = -1;
	h->byte_count = moved;
	h->captured_len = 0;
	h->kind = ASTER_EVENT_DATA;
	h->direction = dir;
	h->flags = ASTER_F_TLS_PLAINTEXT | flags;
	h->service_id = service_id;
}

/* A plaintext record without payload: its bytes are a gap of known length. */
static __always_inline void emit_plaintext_gap(struct aster_tls_binding *b, __u64 pos, __u64 pid_tgid,
					       __u32 moved, __u8 dir, __u16 service_id, __u16 flags)
{
	struct aster_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(ASTER_CTR_EVENTS_LOST, 1);
		count(ASTER_CTR_BYTES_LOST, moved);
		return;
	}
	fill_plaintext_header(e, b, pos, pid_tgid, moved, dir, service_id, flags);
	e->timestamp_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, ring_wakeup_flags());
}

static __always_inline void emit_plaintext(struct aster_tls_binding *b, const struct aster_tls_call *c,
					   __u32 moved, __u64 pid_tgid)
{
	__u8 dir = c->direction & 1;
	__u64 pos = __sync_fetch_and_add(&b->stream_pos[dir], moved);
	__u32 zero = 0;
	struct aster_tls_scratch *s = bpf_map_lookup_elem(&tls_scratch, &zero);
	if (!s)
		return;
	if (__sync_val_compare_and_swap(&s->busy, 0, 1) != 0) {
		/* This program preempted another one mid-record on this CPU. */
		count(ASTER_CTR_TLS_SCRATCH_BUSY, 1);
		emit_plaintext_gap(b, pos, pid_tgid, moved, dir, c->service_id, ASTER_F_STAGE_BUSY);
		return;
	}
	struct aster_event *h = (struct aster_event *)s->rec;
	fill_plaintext_header(h, b, pos, pid_tgid, moved, dir, c->service_id, 0);
	__u32 limit = moved < capture_bytes ? moved : capture_bytes;
	if (limit > ASTER_CAPTURE_MAX)
		limit = ASTER_CAPTURE_MAX;
	asm volatile("" : "+r"(limit)); /* see read_user_at: keep the mask on the register passed */
	limit &= 2 * ASTER_CAPTURE_MAX - 1;
	if (bpf_probe_read_user(s->rec + sizeof(struct aster_event), limit, (const void *)c->buf)) {
		h->flags |= ASTER_F_READ_FAILED;
		limit = 0;
	}
	h->captured_len = limit;
	h->timestamp_ns = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&events, s->rec, (sizeof(struct aster_event) + limit) & (4 * ASTER_CAPTURE_MAX - 1),
			       ring_wakeup_flags())) {
		count(ASTER_CTR_EVENTS_LOST, 1);
		count(ASTER_CTR_BYTES_LOST, moved);
	}
	asm volatile("" ::: "memory");
	s->busy = 0;
}

/* SSL_read, SSL_read_ex, SSL_write, SSL_write_ex (the cookie says which):
 * (SSL *s, void *buf, int or size_t num[, size_t *count]). */
SEC("uprobe")
int BPF_KPROBE(tls_io_enter, void *ssl, void *buf, __u64 num, __u64 *count_out)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	int service_id = service_of(pid_tgid >> 32);
	if (service_id < 0)
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct aster_tls_call c = {
		.session = (__u64)ssl,
		.buf = (__u64)buf,
		.count_out = (cookie & ASTER_TLS_COOKIE_EX) ? (__u64)count_out : 0,
		.service_id = service_id,
		.direction = (cookie & ASTER_TLS_COOKIE_WRITE) ? ASTER_DIR_EGRESS : ASTER_DIR_INGRESS,
	};
	bpf_map_update_elem(&tls_calls, &pid_tgid, &c, BPF_ANY);
	return 0;
}

/* The bytes are copied at the return for writes too: only then is the count
 * known, and the caller's buffer is unchanged for the whole call. Every one
 * of these calls returns an int: the upper half of the register is not part
 * of it (a -1 would read as 4 Gi bytes). */
SEC("uretprobe")
int BPF_KRETPROBE(tls_io_return, int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!maybe_watched(pid_tgid >> 32))
		return 0;
	struct aster_tls_call *p = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (!p)
		return 0;
	struct aster_tls_call c = *p;
	bpf_map_delete_elem(&tls_calls, &pid_tgid);
	__u64 moved = 0;
	if (c.count_out) {
		if (ret != 1 || bpf_probe_read_user(&moved, sizeof(moved), (const void *)c.count_out))
			return 0;
	} else if (ret > 0) {
		moved = ret;
	}
	if (moved == 0)
		return 0;
	if (moved > 0xffffffffull)
		moved = 0xffffffffull;
	struct aster_tls_key key = {.session = c.session, .tgid = pid_tgid >> 32};
	struct aster_tls_binding *b = bpf_map_lookup_elem(&tls_bindings, &key);
	if (!b) {
		count(ASTER_CTR_TLS_UNBOUND, 1);
		return 0;
	}
	emit_plaintext(b, &c, (__u32)moved, pid_tgid);
	return 0;
}

/* SSL_do_handshake (SSL_accept and SSL_connect call it): the handshake's
 * transfers bind the session and are not sent, so a new connection's first
 * record is plaintext. */
SEC("uprobe")
int BPF_KPROBE(tls_handshake_enter, void *ssl)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!maybe_watched(pid_tgid >> 32))
		return 0;
	__u64 session = (__u64)ssl;
	bpf_map_update_elem(&tls_handshakes, &pid_tgid, &session, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(tls_handshake_return)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!maybe_watched(pid_tgid >> 32))
		return 0;
	bpf_map_delete_elem(&tls_handshakes, &pid_tgid);
	return 0;
}

/* Memory-BIO users (Node.js's TLSWrap; CPython's MemoryBIO, the same way):
 * OpenSSL writes its records into a memory BIO inside SSL_read/SSL_write,
 * and the program sends them to the socket later, from its event loop, so
 * no socket transfer happens inside a library call and nothing binds the
 * session above. The record bytes do: BIO_write on the session's write BIO
 * (inside the thread's SSL_read/SSL_write/SSL_do_handshake, so the session
 * is known) notes the first bytes of what OpenSSL wrote, and the first
 * socket send of that process whose buffer starts with exactly those bytes
 * is that session's connection (tls_match_send below). A BIO_write buffer
 * always starts at a record: its bytes 0..8 are the record header, 16..24
 * lie in the ServerHello/ClientHello random or in AEAD ciphertext, so two
 * different records do not share them. The one record whose "random" is a
 * constant (TLS 1.3's HelloRetryRequest) is the case a note shared by two
 * sessions covers: the note turns ambiguous and binds nothing; that
 * session binds at its real ServerHello. A send that starts mid-record (the
 * socket took part of an earlier send) finds no note: the session binds at
 * a later send, its plaintext meanwhile counted as unbound. Never a guess.
 *
 * Notes are taken only for handshake records (type 22: a session starting,
 * possibly on an SSL* reused for a new connection) and for sessions not
 * bound yet (one opened before the exporter started); a bound session's
 * application records cost a lookup. A match is used once. */
#define ASTER_TLS_NOTE_BYTES 24
struct aster_tls_note_key {
	__u32 tgid;
	__u32 reserved;
	__u64 head;  /* bytes 0..8 of the record buffer */
	__u64 inner; /* bytes 16..24 */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* record buffers written and not sent yet */
	__type(key, struct aster_tls_note_key);
	__type(value, __u64); /* the session; 0: two sessions wrote these bytes */
} tls_notes SEC(".maps");

/* Processes that took a note: only their sends are looked at (one lookup
 * per send on a socket not bound yet), so a plain server pays nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} tls_note_procs SEC(".maps");

static __always_inline void note_key_of(struct aster_tls_note_key *k, __u32 tgid,
					const __u8 bytes[ASTER_TLS_NOTE_BYTES])
{
	k->tgid = tgid;
	k->reserved = 0;
	__builtin_memcpy(&k->head, bytes, 8);
	__builtin_memcpy(&k->inner, bytes + 16, 8);
}

/* BIO_write(BIO *b, const void *data, int len), BIO_write_ex(b, data,
 * size_t len, size_t *written): the bytes are final at entry. */
SEC("uprobe")
int BPF_KPROBE(tls_bio_write, void *bio, const void *data, __u64 len)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (!maybe_watched(tgid))
		return 0;
	if ((__s32)len < ASTER_TLS_NOTE_BYTES)
		return 0;
	__u64 session = 0;
	struct aster_tls_call *c = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (c) {
		session = c->session;
	} else {
		__u64 *hs = bpf_map_lookup_elem(&tls_handshakes, &pid_tgid);
		if (hs)
			session = *hs;
	}
	if (!session)
		return 0; /* not OpenSSL writing a session's records */
	__u8 bytes[ASTER_TLS_NOTE_BYTES];
	if (bpf_probe_read_user(bytes, sizeof(bytes), data))
		return 0;
	if (bytes[0] != 22 /* handshake */) {
		struct aster_tls_key bk = {.session = session, .tgid = tgid};
		if (bpf_map_lookup_elem(&tls_bindings, &bk))
			return 0;
	}
	struct aster_tls_note_key k;
	note_key_of(&k, tgid, bytes);
	__u64 *seen = bpf_map_lookup_elem(&tls_notes, &k);
	if (seen) {
		if (*seen != session)
			*seen = 0;
	} else {
		bpf_map_update_elem(&tls_notes, &k, &session, BPF_ANY);
	}
	__u8 one = 1;
	if (!bpf_map_lookup_elem(&tls_note_procs, &tgid))
		bpf_map_update_elem(&tls_note_procs, &tgid, &one, BPF_ANY);
	return 0;
}

/* The first ASTER_TLS_NOTE_BYTES bytes a send starts with: its flat buffer,
 * or its first iovec (writev, sendmsg). False when it has fewer. */
static __always_inline bool send_head(__u8 shape, __u64 ubuf, __u64 arg2, __u8 out[ASTER_TLS_NOTE_BYTES])
{
	__u64 base = ubuf, n = arg2;
	if (shape == ASTER_SHAPE_MSG) {
		struct user_msghdr m;
		if (bpf_probe_read_user(&m, sizeof(m), (const void *)ubuf))
			return false;
		ubuf = (__u64)m.msg_iov;
		arg2 = m.msg_iovlen;
		shape = ASTER_SHAPE_IOV;
	}
	if (shape == ASTER_SHAPE_IOV) {
		struct iovec v;
		if (!arg2 || bpf_probe_read_user(&v, sizeof(v), (const void *)ubuf))
			return false;
		base = (__u64)v.iov_base;
		n = v.iov_len;
	} else if (shape != ASTER_SHAPE_FLAT) {
		return false;
	}
	if (n < ASTER_TLS_NOTE_BYTES)
		return false;
	return bpf_probe_read_user(out, ASTER_TLS_NOTE_BYTES, (const void *)base) == 0;
}

/* A send outside any library call on a socket not bound yet: the session
 * whose record it starts with, or 0. */
static __always_inline __u64 tls_match_send(__u32 tgid, __u32 moved, __u8 shape, __u64 ubuf, __u64 arg2)
{
	if (moved < ASTER_TLS_NOTE_BYTES || !bpf_map_lookup_elem(&tls_note_procs, &tgid))
		return 0;
	__u8 bytes[ASTER_TLS_NOTE_BYTES];
	if (!send_head(shape, ubuf, arg2, bytes))
		return 0;
	struct aster_tls_note_key k;
	note_key_of(&k, tgid, bytes);
	__u64 *seen = bpf_map_lookup_elem(&tls_notes, &k);
	if (!seen)
		return 0;
	__u64 session = *seen;
	bpf_map_delete_elem(&tls_notes, &k);
	return session;
}

/* The dynamic loader's _dl_debug_state: it runs whenever the set of loaded
 * objects changes (dlopen, dlclose, start-up), so a library loaded later
 * (Python's `import ssl`) is found at once, without kprobes. */
SEC("uprobe")
int tls_libs_changed(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!maybe_watched(pid_tgid >> 32))
		return 0;
	emit_header_only(ASTER_EVENT_LIBS_CHANGED, 0, pid_tgid >> 32, (__u32)pid_tgid, 0, -1, BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* Go crypto/tls: its own entry and return programs, on this file's
 * bindings and emission, and its part of the hook below. */
#include "go_tls_probes.bpf.h"

/* The socket programs' hook, for a watched TCP socket that moved `moved`
 * bytes (its connection id assigned). True when the transfer is not to be
 * sent: it is a TLS socket's (the uprobes send its plaintext), or part of a
 * handshake. A transfer without a user buffer on a TLS socket is kTLS
 * sending plaintext from the kernel (SSL_sendfile): a plaintext gap keeps
 * its place.
 *
 * The handshake binds the session (a server with read-ahead, nginx, has
 * the first request in OpenSSL's buffer by its end), but only a read or
 * write call marks the socket as TLS: a session whose I/O the probes do not
 * see (OpenSSL's own SSL BIO calls its internals, not SSL_read: openssl
 * s_server) sends its ciphertext, which userspace then finds is no HTTP,
 * instead of vanishing. */
static __always_inline bool tls_socket_transfer(struct aster_conn_state *st, struct sock *sk, __u64 pid_tgid,
						__u8 dir, __u32 moved, __u8 shape, __u64 ubuf, __u64 arg2,
						__u16 service_id)
{
	if (!tls_enabled)
		return false;
	bool no_user_buffer = shape == ASTER_SHAPE_NONE;
	struct aster_tls_call *c = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	__u64 session = 0;
	bool marks = c != 0; /* a read or write call: the socket is TLS */
	if (c) {
		session = c->session;
	} else {
		__u64 *hs = bpf_map_lookup_elem(&tls_handshakes, &pid_tgid);
		if (hs)
			session = *hs;
	}
	if (!session && !st->tls_session && dir == ASTER_DIR_EGRESS) {
		/* A memory-BIO user sending records OpenSSL wrote earlier. */
		session = tls_match_send(pid_tgid >> 32, moved, shape, ubuf, arg2);
		marks = session != 0;
	}
	struct aster_tls_key key = {.tgid = pid_tgid >> 32};
	if (session && session != st->tls_session) {
		key.session = session;
		struct aster_tls_binding *b = bpf_map_lookup_elem(&tls_bindings, &key);
		if (!b || b->conn_id != st->conn_id) {
			/* A new session, or a session (an SSL* reused after a
			 * free) on a new socket: plaintext starts over. */
			struct aster_tls_binding fresh = {.conn_id = st->conn_id};
			bpf_map_update_elem(&tls_bindings, &key, &fresh, BPF_ANY);
			count(ASTER_CTR_TLS_BOUND, 1);
		}
		if (marks)
			st->tls_session = session;
		return true;
	}
	if (!st->tls_session)
		return go_tls_bind_pending(st, sk, pid_tgid >> 32);
	if (no_user_buffer && !session) {
		key.session = st->tls_session;
		struct aster_tls_binding *b = bpf_map_lookup_elem(&tls_bindings, &key);
		if (b) {
			__u64 pos = __sync_fetch_and_add(&b->stream_pos[dir & 1], moved);
			emit_plaintext_gap(b, pos, pid_tgid, moved, dir & 1, service_id, ASTER_F_NO_USER_BUFFER);
		}
	}
	return true;
}

#endif
