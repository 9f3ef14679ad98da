/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The boundary walker: framing beyond the copied head of a transfer (a
 * chunked upload read 64 KiB at a time, one big write holding many chunks).
 *
 * Its state, the next boundary per direction (struct aster_walk), lives in
 * the connection's state: socket-local storage in the socket mode, the hash
 * keyed by socket address in the syscalls mode. It is armed either by the
 * kernel itself, from the head it just copied (a bounded scan), or by
 * userspace through `walk_arms` once it has parsed a head. At each boundary
 * inside a transfer it copies a window of ASTER_WINDOW_BYTES into the
 * record, reads from it where the next boundary is, and steps on, at most
 * ASTER_MAX_WINDOWS times per record. The framing kind (enum aster_framing)
 * decides how a window gives the next boundary: walk_step() is the one
 * place that knows.
 *
 * Not armed, it costs a call and a few loads per transfer: the pending-arm
 * slot, the walk state, and for transfers larger than the capture the first
 * byte.
 */
#ifndef ASTER_BOUNDARY_WALKER_BPF_H
#define ASTER_BOUNDARY_WALKER_BPF_H

/* See ASTER_WALK_ARM_SLOTS; userspace writes it through the mmap of .bss. */
__u32 walk_arm_pending[ASTER_WALK_ARM_SLOTS];

/* Arms from userspace. LRU: an arm whose connection ended before it was
 * taken is recycled, not leaked. Arms live a few milliseconds (until the
 * connection's next transfer), so 16 Ki is many times what is pending. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct aster_walk_arm_key);
	__type(value, struct aster_walk_arm);
} walk_arms SEC(".maps");

/* Boundaries one transfer may walk through, counting those inside the
 * copied head (which need no window): past it the walk stops as capped. */
#define ASTER_WALK_MAX_STEPS 256
/* Bytes of a window buffer on the stack: a stash of up to a window plus a
 * window, rounded to a power of two for the masks. */
#define ASTER_WALK_TMP 64

/* Where a transfer's bytes are in user memory. */
struct user_bytes {
	__u64 ubuf;      /* FLAT: the buffer; IOV: the iovec array */
	__u64 iovcnt;
	__u64 iov_start; /* IOV: transfer offset where iovec iov_i starts */
	__u32 iov_i;
	__u32 flat;
};

struct walk_ctx {
	struct aster_stage *s;
	struct aster_event *h;
	struct aster_walk w;
	struct user_bytes u;
	__u64 pos;      /* stream position of the transfer's first byte */
	__u64 end;      /* ... and one past its last */
	__u32 captured;
	__u32 covered;  /* transfer bytes the head and the windows so far hold */
	__u32 wbase;    /* offset in s->buf of the first window */
	__u32 count;    /* windows written */
	__u8 stopped;   /* enum walk_stop */
};

enum walk_stop {
	WALK_GOING = 0,
	WALK_CAPPED = 1,
	WALK_LOST = 2,
	WALK_DONE = 3,
	WALK_UNSUPPORTED = 4,
};

static __always_inline int hex_value(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A window's bytes on the stack, and what reading them gave. Passed to the
 * global functions below, which the verifier checks once each instead of
 * at every call site. */
struct window_buf {
	__u8 b[ASTER_WALK_TMP];
	__u32 have;       /* bytes of b[] that hold the window */
	__u32 after_data; /* H1: b[0..1] must be the CRLF ending chunk data */
	__u64 size;       /* H1: the chunk size read */
	__u32 len;        /* H1: bytes from b[0] through the line's LF */
	__u32 reserved;
};

/* HTTP/1 chunk-size line at b[0] (after the CRLF ending chunk data when
 * after_data). 1: complete, size and len set; 0: the `have` bytes end
 * before the line does; -1: not a chunk-size line, or longer than a window
 * (long extensions). */
__noinline int h1_chunk_line(struct window_buf *wb)
{
	if (!wb)
		return -1;
	__u32 phase = wb->after_data ? 0 : 2;
	__u64 sz = 0;
	__u32 digits = 0;
	__u32 have = wb->have;
	for (__u32 j = 0; j < ASTER_WINDOW_BYTES; j++) {
		if (j >= have)
			return 0;
		__u8 c = wb->b[j];
		if (phase == 0) {
			if (c != '\r')
				return -1;
			phase = 1;
		} else if (phase == 1) {
			if (c != '\n')
				return -1;
			phase = 2;
		} else if (phase == 2) {
			int v = hex_value(c);
			if (v >= 0) {
				if (++digits > 15)
					return -1;
				sz = (sz << 4) | (__u64)v;
			} else if (!digits) {
				return -1;
			} else if (c == '\r') {
				phase = 4;
			} else if (c == ';' || c == ' ' || c == '\t') {
				phase = 3; /* extension or whitespace: skipped to CR */
			} else {
				return -1;
			}
		} else if (phase == 3) {
			if (c == '\r')
				phase = 4;
			else if (c == '\n')
				return -1;
		} else {
			if (c != '\n')
				return -1;
			wb->size = sz;
			wb->len = j + 1;
			return 1;
		}
	}
	return -1;
}

/* The one place that knows how a window gives the next boundary. 1: *next
 * set (the walk goes on), 0: the window ends before its framing does (cut
 * by the transfer's end), -1: not the framing expected, 2: the framing
 * ended (HTTP/1 last chunk). */
static __always_inline int walk_step(struct aster_walk *w, struct window_buf *wb)
{
	if (w->kind == ASTER_FRAMING_H1_CHUNKED) {
		wb->after_data = w->after_data;
		int r = h1_chunk_line(wb);
		if (r <= 0)
			return r;
		if (wb->size == 0)
			return 2;
		w->next += wb->len + wb->size;
		w->after_data = 1;
		return 1;
	}
	/* ASTER_FRAMING_H2_FRAMES is issue #19's: a 9-byte header at b[0],
	 * next = w->next + 9 + (b[0] << 16 | b[1] << 8 | b[2]). Until it is
	 * written and tested it is refused here, not guessed. */
	return -1;
}

/* Copies n (<= ASTER_WINDOW_BYTES) bytes at transfer offset `off` to
 * wb->b[at]: the bytes the syscall moved, from its buffer or iovecs.
 * Returns 0 on success. */
__noinline int read_transfer_at(struct user_bytes *u, struct window_buf *wb, __u32 at, __u64 off, __u32 n)
{
	if (!u || !wb)
		return -1;
	n &= ASTER_WALK_TMP / 2 - 1;
	at &= ASTER_WALK_TMP / 2 - 1;
	if (u->flat)
		return bpf_probe_read_user(&wb->b[at], n, (const void *)(u->ubuf + off)) ? -1 : 0;
	/* Find the iovec holding `off` from the cursor on (offsets only grow
	 * within a walk), then copy across iovec ends. */
	const struct iovec *iov = (const struct iovec *)u->ubuf;
	__u32 done = 0;
	for (int k = 0; k < 16; k++) {
		if (done >= n)
			return 0;
		if (u->iov_i >= u->iovcnt)
			return -1;
		struct iovec v;
		if (bpf_probe_read_user(&v, sizeof(v), &iov[u->iov_i & 1023]))
			return -1;
		__u64 pos = off + done;
		if (pos >= u->iov_start + v.iov_len) {
			u->iov_start += v.iov_len;
			u->iov_i++;
			continue;
		}
		__u64 in = pos - u->iov_start;
		__u32 piece = n - done;
		if (v.iov_len - in < piece)
			piece = v.iov_len - in;
		piece &= ASTER_WALK_TMP / 2 - 1;
		if (piece > ASTER_WINDOW_BYTES)
			return -1;
		__u32 d = at + done;
		if (d > ASTER_WALK_TMP - ASTER_WINDOW_BYTES)
			return -1;
		if (bpf_probe_read_user(&wb->b[d], piece, (const void *)((__u64)v.iov_base + in)))
			return -1;
		done += piece;
	}
	return done >= n ? 0 : -1;
}

/* One boundary of the transfer (a bpf_loop callback): 0 to go on, 1 to stop. */
static long walk_one(__u64 i, struct walk_ctx *c)
{
	struct aster_walk *w = &c->w;
	struct window_buf wb = {};
	__u64 off; /* transfer offset of the bytes read now */
	__u32 stash = w->stash_len;

	if (stash) {
		/* The window began in the previous transfer, which ended with
		 * its first `stash` bytes. */
		if (stash >= ASTER_WINDOW_BYTES || w->next + stash != c->pos) {
			c->stopped = WALK_LOST;
			return 1;
		}
		__builtin_memcpy(wb.b, w->stash, ASTER_WINDOW_BYTES);
		off = 0;
	} else {
		if (w->next >= c->end)
			return 1; /* in a later transfer: stay armed */
		if (w->next < c->pos) {
			/* A position this transfer does not hold (a record lost,
			 * bytes moved without a buffer): the walk has lost its place. */
			c->stopped = WALK_LOST;
			return 1;
		}
		off = w->next - c->pos;
	}
	__u32 want = ASTER_WINDOW_BYTES - stash;
	__u64 left = c->end - c->pos - off;
	__u32 got = left < want ? (__u32)left : want;
	if (read_transfer_at(&c->u, &wb, stash, off, got)) {
		c->h->flags |= ASTER_F_READ_FAILED;
		c->stopped = WALK_LOST;
		return 1;
	}
	wb.have = stash + got;

	/* Bytes the record does not hold yet go into it. In a record of
	 * iovecs a window may repeat bytes an iovec hint holds too (the first
	 * bytes of an iovec): userspace takes each byte once. */
	if (off + got > c->covered) {
		if (c->count >= ASTER_MAX_WINDOWS) {
			c->stopped = WALK_CAPPED;
			return 1;
		}
		struct aster_stage *s = c->s;
		__u32 o = (c->wbase + c->count * sizeof(struct aster_window)) & ASTER_STAGE_COPY_MASK;
		struct aster_window *win = (struct aster_window *)&s->buf[o];
		win->offset = (__u32)off;
		win->len = (__u8)got;
		win->kind = w->kind;
		win->reserved = 0;
		__builtin_memcpy(win->bytes, &wb.b[stash & (ASTER_WALK_TMP / 2 - 1)], ASTER_WINDOW_BYTES);
		c->count++;
		c->covered = (__u32)(off + got);
	}

	int r = walk_step(w, &wb);
	if (r == 0) {
		if (off + got < c->end - c->pos) {
			c->stopped = WALK_LOST; /* not cut by the transfer's end: corrupt */
			return 1;
		}
		/* The transfer ended inside the window: finish it in the next. */
		__builtin_memcpy(w->stash, wb.b, ASTER_WINDOW_BYTES);
		w->stash_len = wb.have;
		if (!stash)
			w->next = c->pos + off;
		return 1;
	}
	w->stash_len = 0;
	if (r < 0) {
		c->stopped = WALK_LOST;
		return 1;
	}
	if (r == 2) {
		c->stopped = WALK_DONE;
		return 1;
	}
	return 0;
}

struct head_scan {
	struct aster_stage *s;
	__u32 base;
	__u32 limit;  /* scan offsets [0, limit) */
	__u32 body;   /* offset after the head's empty line; 0: not found */
	bool chunked; /* the head mentions "chunked" */
};

/* Looks for the head's end (CRLF CRLF) in the copied bytes, and for the
 * word "chunked" before it (a bpf_loop callback). */
static long scan_head_one(__u64 i, struct head_scan *c)
{
	if (i >= c->limit)
		return 1;
	__u32 o = (c->base + (__u32)i) & ASTER_STAGE_COPY_MASK;
	const __u8 *p = &c->s->buf[o];
	if (p[0] == '\r' && p[1] == '\n' && p[2] == '\r' && p[3] == '\n') {
		c->body = (__u32)i + 4;
		return 1;
	}
	if (p[0] == 'n' && p[1] == 'k' && p[2] == 'e' && p[3] == 'd')
		c->chunked = true;
	return 0;
}

/* An unarmed walker arms itself when the copied head shows where chunk
 * framing starts: at the transfer's first byte (a chunk-size line: the body
 * of a head sent alone, or a writer's chunk per write), or right after a
 * message head that says "chunked". What it finds is a hint like any
 * window: a wrong guess costs a window, never a wrong count. */
static __always_inline void self_arm(struct walk_ctx *c, __u32 base)
{
	struct aster_stage *s = c->s;
	struct window_buf wb = {};
	__u32 at = 0;
	__u32 have = c->captured < ASTER_WINDOW_BYTES ? c->captured : ASTER_WINDOW_BYTES;

	/* A chunk-size line first ("A40F" starts with a capital too). */
	__builtin_memcpy(wb.b, &s->buf[base & ASTER_STAGE_COPY_MASK], ASTER_WINDOW_BYTES);
	wb.have = have;
	if (h1_chunk_line(&wb) != 1) {
		__u8 first = wb.b[0];
		if (first < 'A' || first > 'Z')
			return;
		struct head_scan hs = {.s = s, .base = base, .limit = c->captured > 3 ? c->captured - 3 : 0};
		bpf_loop(ASTER_CAPTURE_MAX, scan_head_one, &hs, 0);
		if (!hs.body || !hs.chunked)
			return;
		at = hs.body;
		if (at < c->captured) {
			__u32 rest = c->captured - at;
			wb.have = rest < ASTER_WINDOW_BYTES ? rest : ASTER_WINDOW_BYTES;
			wb.after_data = 0;
			__builtin_memcpy(wb.b, &s->buf[(base + at) & ASTER_STAGE_COPY_MASK], ASTER_WINDOW_BYTES);
			/* A line cut by the copy's end is read again by the walk. */
			if (h1_chunk_line(&wb) < 0)
				return;
		}
	}
	c->w.kind = ASTER_FRAMING_H1_CHUNKED;
	c->w.after_data = 0;
	c->w.stash_len = 0;
	c->w.next = c->pos + at;
	count(ASTER_CTR_WALK_SELF_ARMED, 1);
}

/* Takes userspace's arm for this direction, if one is pending. */
static __always_inline void take_arm(struct aster_walk *w, __u64 conn_id, __u8 dir, __u64 pos)
{
	__u32 slot = conn_id & (ASTER_WALK_ARM_SLOTS - 1);
	if (!walk_arm_pending[slot])
		return;
	struct aster_walk_arm_key key = {.conn_id = conn_id, .dir = dir};
	struct aster_walk_arm *a = bpf_map_lookup_elem(&walk_arms, &key);
	if (!a)
		return;
	struct aster_walk_arm arm = *a;
	if (bpf_map_delete_elem(&walk_arms, &key) == 0)
		__sync_fetch_and_add(&walk_arm_pending[slot], -1);
	if (arm.next < pos) {
		count(ASTER_CTR_WALK_ARM_LATE, 1);
		return;
	}
	/* Userspace parsed the bytes; a self-armed walk only guessed. */
	w->next = arm.next;
	w->kind = arm.kind;
	w->after_data = arm.after_data;
	w->stash_len = 0;
	count(ASTER_CTR_WALK_ARMED, 1);
}

/* One transfer as emit_data saw it (a struct: BPF functions take five
 * arguments at most). */
struct walk_args {
	__u64 pos;      /* stream position of its first byte */
	__u64 ubuf;
	__u64 iovcnt;
	__u32 moved;
	__u32 captured;
	__u32 tail;     /* bytes after the header so far: payload and iovec hints */
	__u32 hoff;     /* offset of its record's header in s->buf */
	__u8 dir;
	__u8 shape;
	__u16 reserved;
};

/* Walks a transfer's boundaries and appends their windows behind the
 * record's payload. Returns the bytes it appended (0 when none). A global
 * function: the verifier checks it once, not in each of the programs that
 * emit data. */
__noinline __u32 walk_transfer(struct aster_stage *s, struct aster_conn_state *st, struct walk_args *a)
{
	if (!s || !st || !a)
		return 0;
	__u8 dir = a->dir & 1;
	__u64 pos = a->pos;
	__u32 moved = a->moved;
	__u32 captured = a->captured & (ASTER_CAPTURE_MAX * 2 - 1);
	__u32 tail = a->tail & (ASTER_CAPTURE_MAX * 2 - 1);
	__u8 shape = a->shape;
	__u64 ubuf = a->ubuf;
	__u32 hoff = a->hoff & ASTER_STAGE_MASK;
	__u32 base = hoff + sizeof(struct aster_event);
	struct aster_event *h = (struct aster_event *)&s->buf[hoff];
	struct aster_walk *sw = &st->walk[dir];
	take_arm(sw, st->conn_id, dir, pos);
	if (!sw->kind && (moved <= captured || !captured))
		return 0; /* the head holds all of it (the parser sees every boundary), or none was copied */

	struct walk_ctx c = {
		.s = s,
		.h = h,
		.w = *sw,
		.u = {.ubuf = ubuf, .iovcnt = a->iovcnt, .flat = shape == ASTER_SHAPE_FLAT},
		.pos = pos,
		.end = pos + moved,
		.captured = captured,
		.covered = captured,
		/* After the payload and its hint block, 8-byte aligned. */
		.wbase = base + ((tail + 7) & ~7u) + sizeof(struct aster_windows),
	};
	if (!c.w.kind) {
		if (!captured)
			return 0;
		self_arm(&c, base);
		if (!c.w.kind)
			return 0;
	}
	if (c.w.kind != ASTER_FRAMING_H1_CHUNKED) {
		c.stopped = WALK_UNSUPPORTED;
	} else if (shape == ASTER_SHAPE_MSG) {
		struct user_msghdr msg;
		if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)ubuf)) {
			c.stopped = WALK_LOST;
		} else {
			c.u.ubuf = (__u64)msg.msg_iov;
			c.u.iovcnt = msg.msg_iovlen;
		}
	} else if (shape != ASTER_SHAPE_FLAT && shape != ASTER_SHAPE_IOV) {
		c.stopped = WALK_LOST; /* no user buffer: the bytes cannot be read */
	}
	if (c.stopped == WALK_GOING) {
		long n = bpf_loop(ASTER_WALK_MAX_STEPS, walk_one, &c, 0);
		if (n >= ASTER_WALK_MAX_STEPS && c.stopped == WALK_GOING && c.w.next < c.end && !c.w.stash_len)
			c.stopped = WALK_CAPPED;
	}
	switch (c.stopped) {
	case WALK_GOING:
		h->flags |= ASTER_F_WALKING;
		break;
	case WALK_CAPPED:
		h->flags |= ASTER_F_WINDOWS_CAPPED;
		count(ASTER_CTR_WALK_CAPPED, 1);
		c.w.kind = 0;
		break;
	case WALK_LOST:
		count(ASTER_CTR_WALK_LOST, 1);
		c.w.kind = 0;
		break;
	case WALK_UNSUPPORTED:
		count(ASTER_CTR_WALK_UNSUPPORTED, 1);
		c.w.kind = 0;
		break;
	default: /* WALK_DONE */
		c.w.kind = 0;
	}
	if (!c.w.kind)
		c.w.stash_len = 0;
	*sw = c.w;
	if (!c.count)
		return 0;
	struct aster_windows *hdr = (struct aster_windows *)&s->buf[(c.wbase - sizeof(struct aster_windows)) &
								      ASTER_STAGE_COPY_MASK];
	hdr->count = c.count;
	hdr->reserved16 = 0;
	hdr->reserved = 0;
	h->flags |= ASTER_F_WINDOWS;
	count(ASTER_CTR_WALK_WINDOWS, c.count);
	return ((tail + 7) & ~7u) - tail + sizeof(struct aster_windows) + c.count * sizeof(struct aster_window);
}

/* The hook in emit_data, after the head was copied behind the header at
 * s->buf[hoff]. Unarmed, with nothing pending, walk_transfer returns after
 * a few loads. It is called for every transfer, with no test here: a test
 * here split every path of the program into a called and a not-called
 * state the verifier could not merge, which more than doubled the
 * instructions it processed in each syscall exit program (140k instead of
 * 68k; syscalls mode took seconds longer to start on a loaded machine). */
static __always_inline __u32 walk_boundaries(struct aster_stage *s, struct aster_conn_state *st, __u8 dir,
					     __u32 hoff, __u64 pos, __u32 moved, __u32 captured, __u32 extra,
					     __u8 shape, __u64 ubuf, __u64 iovcnt)
{
	struct walk_args a = {
		.pos = pos,
		.ubuf = ubuf,
		.iovcnt = iovcnt,
		.moved = moved,
		.captured = captured,
		.tail = captured + extra,
		.hoff = hoff,
		.dir = dir,
		.shape = shape,
	};
	return walk_transfer(s, st, &a);
}

#endif
