/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every record the kernel side hands to userspace, and every map value both
 * sides read. This is the only place these layouts are written down.
 *
 * Plain C with __u8..__u64 only: the BPF side includes it after vmlinux.h,
 * the C++ side after <linux/types.h>; userspace/event_layout.h adds
 * static_asserts so a drift fails the build.
 *
 * Ring-buffer records start 8-byte aligned (the BPF ring buffer rounds every
 * record up to 8 bytes), so userspace reads struct aster_event in place.
 */
#ifndef ASTER_EVENTS_H
#define ASTER_EVENTS_H

/* Largest head of one syscall buffer the probes can copy. The runtime limit
 * (--capture.bytes) is at most this. A power of two: the probes mask offsets
 * with it so the verifier can prove every copy stays inside the buffer. */
#define ASTER_CAPTURE_MAX 8192
/* Default runtime copy limit: large enough for request and response heads
 * with cookies (browsers send 1-3 KiB), small enough that copying stays a
 * fraction of a microsecond. */
#define ASTER_CAPTURE_DEFAULT 4096
/* readv/writev/recvmsg/sendmsg: iovecs the probes walk, the kernel's own
 * limit (UIO_MAXIOV); a syscall cannot pass more. */
#define ASTER_MAX_IOV 1024
/* Past the capture budget, each further iovec of the syscall is described by
 * a hint (struct aster_iov_hint): its length and first bytes. Node.js writes
 * a chunked response as one writev of (size line, CRLF, data, CRLF) per
 * chunk, so these bytes hold every chunk-size line: 16 is a size line of
 * 2^56 bytes with its CRLF. */
#define ASTER_IOV_HINT_BYTES 16
/* Hints per record at most (4 per Node chunk: 16 res.write()s in one
 * writev); past it the rest of the syscall is a gap, flagged
 * ASTER_F_IOV_TRUNCATED and counted (ASTER_CTR_IOV_HINTS_CAPPED). */
#define ASTER_MAX_IOV_HINTS 64
/* The probes pack small data records per CPU into batches of up to this
 * many bytes before handing them to the ring buffer (one ring record per
 * batch); userspace reads a ring record as one or more events back to
 * back, each starting 8-byte aligned. A power of two. */
#define ASTER_STAGE_BYTES 4096

enum aster_event_kind {
	ASTER_EVENT_DATA = 1,       /* bytes moved on a watched TCP socket */
	ASTER_EVENT_CLOSE = 2,      /* the socket reached TCP_CLOSE */
	ASTER_EVENT_PROC_FORK = 3,  /* a watched process forked a new process */
	ASTER_EVENT_PROC_EXIT = 4,  /* a watched process exited */
	/* A process (any, watched or not) started listening on a TCP port:
	 * discovery checks it at once instead of at its next /proc rescan.
	 * fd holds the port. */
	ASTER_EVENT_LISTEN = 5,
	/* A process called exec (only sent when a selector matches executables
	 * or cgroups, see follow_exec). */
	ASTER_EVENT_PROC_EXEC = 6,
	/* A watched process changed its set of loaded libraries (the dynamic
	 * loader's _dl_debug_state ran: dlopen, dlclose, start-up): userspace
	 * reads its maps again for TLS libraries to probe. */
	ASTER_EVENT_LIBS_CHANGED = 7,
};

enum aster_direction {
	ASTER_DIR_INGRESS = 0, /* the watched process read these bytes */
	ASTER_DIR_EGRESS = 1,  /* the watched process wrote these bytes */
};

/* Why a data event carries fewer bytes than it moved. */
enum aster_event_flags {
	/* sendfile/splice/io_uring or another path without a user buffer. */
	ASTER_F_NO_USER_BUFFER = 1u << 0,
	/* more iovecs past the capture budget than ASTER_MAX_IOV_HINTS: the
	 * bytes after the last hint are not described. */
	ASTER_F_IOV_TRUNCATED = 1u << 1,
	/* bpf_probe_read_user failed (page not resident, bad pointer). */
	ASTER_F_READ_FAILED = 1u << 2,
	/* another probe was filling this CPU's staging (see ASTER_STAGE_BYTES). */
	ASTER_F_STAGE_BUSY = 1u << 3,
	/* the payload is followed by iovec hints (struct aster_iov_hints). */
	ASTER_F_IOV_HINTS = 1u << 4,
	/* socket mode: the kernel's sequence numbers moved past the bytes the
	 * probes saw, so the bytes between the previous record of this
	 * direction and this one went by a path the probes do not see
	 * (splice() from the socket, TCP_ZEROCOPY_RECEIVE); stream_pos
	 * includes them, and userspace counts them as a gap at once. */
	ASTER_F_UNSEEN_BEFORE = 1u << 5,
	/* Plaintext a TLS library read or wrote on this connection (uprobes,
	 * bpf/tls_probes.bpf.h). Its stream positions count plaintext bytes.
	 * Once a connection carries these, the probes send none of its
	 * ciphertext, and userspace reads only the plaintext records. */
	ASTER_F_TLS_PLAINTEXT = 1u << 6,
	/* Boundary windows follow the payload (struct aster_windows, see the
	 * boundary walker below). */
	ASTER_F_WINDOWS = 1u << 8,
	/* The walker is armed in this direction at the end of this transfer:
	 * the next boundary lies in a later transfer, where the kernel will
	 * copy its window (userspace need not arm it). */
	ASTER_F_WALKING = 1u << 9,
	/* The walker met more boundaries in this transfer than a record holds
	 * windows (ASTER_MAX_WINDOWS) and stopped: the framing after the last
	 * window is unknown (the body size becomes an estimate, counted). */
	ASTER_F_WINDOWS_CAPPED = 1u << 10,
	/* The socket had reached TCP_CLOSE when this transfer returned: bytes
	 * read after a reset (they stay readable), maybe before the connection
	 * was tracked, so the close tracepoint had nothing to report. Userspace
	 * closes the connection after this record. */
	ASTER_F_SOCKET_CLOSED = 1u << 11,
};

/* The header of every ring-buffer record; DATA records are followed by
 * captured_len bytes of payload. 48 bytes, 8-byte aligned. */
struct aster_event {
	__u64 timestamp_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) when the syscall's transfer finished */
	/* Unique per socket for the life of the boot: a counter the probes bump
	 * when they first see a socket, so PID and fd reuse cannot mix two
	 * connections. 0 for process events. */
	__u64 conn_id;
	/* Byte offset of this chunk in its direction of the stream, counted from
	 * the first byte the probes saw on this socket. */
	__u64 stream_pos;
	__u32 tgid;
	__u32 tid;      /* for PROC_FORK: the parent's tgid */
	__s32 fd;       /* -1 when unknown */
	__u32 byte_count; /* bytes the syscall moved (its return value) */
	__u16 captured_len;
	__u8 kind;      /* enum aster_event_kind */
	__u8 direction; /* enum aster_direction */
	__u16 flags;    /* enum aster_event_flags */
	/* The service the process belonged to when the probe ran (from the
	 * watched map), so a forked worker is attributed before userspace has
	 * even heard of it. */
	__u16 service_id;
};

/* With ASTER_F_IOV_HINTS, a data record goes on after its payload, at the
 * next 8-byte boundary from the record's start, with this block and `count`
 * hints. The syscall's bytes are then, in stream order: the captured_len
 * bytes, `cut_rest` bytes not captured (the rest of the iovec the budget
 * ended in), and for each hint its `len` bytes of which the first
 * head_len are in head[]. What the hints do not reach (ASTER_F_IOV_TRUNCATED)
 * moved but is not described. 8 bytes. */
struct aster_iov_hints {
	__u32 cut_rest;
	__u16 count;
	__u16 reserved;
};
/* 24 bytes, so every hint stays 8-byte aligned. */
struct aster_iov_hint {
	__u32 len;      /* bytes of the syscall in this iovec (cut at its return value) */
	__u16 head_len; /* min(len, ASTER_IOV_HINT_BYTES); 0 if they could not be read */
	__u16 reserved;
	__u8 head[ASTER_IOV_HINT_BYTES];
};

/* The probes' prefilter: one bit per possible tgid (PID_MAX_LIMIT is 4 Mi on
 * 64-bit), set while the process may be in the watched map. Every socket
 * event on the node tests it first: a single load, where the hash lookup it
 * spares unwatched processes costs ~60 ns. Writers keep one rule: the bit is
 * set before the map entry is added and cleared after it is removed, so a
 * set bit without an entry only costs a lookup and a watched process is
 * never filtered out. 512 KiB, in the BPF object's .bss. */
#define ASTER_PID_BITS (1u << 22)
#define ASTER_PID_BITMAP_WORDS (ASTER_PID_BITS / 64)

/* The service id of a process the kernel started watching by itself: it
 * called listen() on a port a selector names, and userspace has not
 * checked it yet. Its records
 * carry this id; userspace resolves it by the record's tgid before it
 * counts anything (and drops the records if the check selects nothing), so
 * a server's first requests after its listen() are not missed while the
 * check is under way. Above every id userspace assigns. */
#define ASTER_SERVICE_PENDING 0xffffu

/* Value of the watched-process map, keyed by tgid. userspace fills it; the
 * fork probe copies a parent's entry to its children. */
struct aster_watch {
	__u16 service_id; /* userspace's index of the service this process feeds,
			   * or ASTER_SERVICE_PENDING */
	__u16 reserved16;
	__u32 reserved;
};

/* One CPU's staging of data records (a value of the `stages` map). Written
 * by the probes on that CPU only; userspace maps it read-only and looks at
 * `staged` and `oldest_ts` to decide which CPUs to flush before a drain. */
struct aster_stage {
	/* Bytes this CPU handed to the ring since its fill level was checked. */
	__u64 since_fill_check;
	/* Bytes staged in buf[] (whole records, each 8-byte aligned). */
	__u32 staged;
	/* Records and moved bytes staged, for the lost counters if the ring
	 * refuses the batch. */
	__u32 staged_records;
	__u64 staged_moved;
	/* Set while a probe appends on this CPU: the flush program, which may
	 * interrupt it (it runs from an inter-processor interrupt), leaves the
	 * stage alone then. */
	__u32 busy;
	__u32 reserved;
	/* Stamp of the oldest staged record; userspace flushes a CPU once it
	 * has waited a poll interval, and until then orders no record stamped
	 * after it. Written before `staged`. */
	__u64 oldest_ts;
	/* Records back to back; sized for the probes' masked offsets (see
	 * bpf/maps.bpf.h), only the first ASTER_STAGE_BYTES + a record used. */
	__u8 buf[4 * ASTER_CAPTURE_MAX];
};

/* Per-CPU counters the probes keep; userspace sums them at scrape time. */
enum aster_counter {
	ASTER_CTR_EVENTS_LOST = 0,       /* ring buffer full: a record was dropped */
	ASTER_CTR_BYTES_LOST,            /* bytes those dropped records described */
	ASTER_CTR_NO_USER_BUFFER,        /* transfers reported as gaps (sendfile, splice, io_uring) */
	ASTER_CTR_PEEK_SKIPPED,          /* MSG_PEEK reads, which consume nothing */
	ASTER_CTR_CONN_STATE_FULL,       /* fallback mode: connection map full */
	ASTER_CTR_WATCH_MAP_FULL,        /* fork of a watched process not followed: map full */
	ASTER_CTR_STAGE_BUSY,            /* a transfer met its CPU's staging in use: reported as a gap */
	ASTER_CTR_IOV_HINTS_CAPPED,      /* a record reached ASTER_MAX_IOV_HINTS: the rest is a gap */
	ASTER_CTR_TLS_UNBOUND,           /* TLS plaintext records with no connection bound to their session: dropped */
	ASTER_CTR_TLS_BOUND,             /* TLS sessions bound to a connection */
	ASTER_CTR_TLS_SCRATCH_BUSY,      /* TLS plaintext met its CPU's scratch in use: reported as a gap */
	ASTER_CTR_GO_TLS_SKIPPED,        /* Go crypto/tls calls whose connection is no *net.TCPConn or whose socket was unreadable */
	ASTER_CTR_WALK_SELF_ARMED,       /* the walker armed itself from a copied head */
	ASTER_CTR_WALK_ARMED,            /* the walker took an arm from userspace */
	ASTER_CTR_WALK_ARM_LATE,         /* an arm from userspace named a position already passed */
	ASTER_CTR_WALK_WINDOWS,          /* boundary windows copied into records */
	ASTER_CTR_WALK_CAPPED,           /* transfers with more boundaries than a record's windows */
	ASTER_CTR_WALK_LOST,             /* a window did not hold the framing expected there: walker stopped */
	ASTER_CTR_WALK_UNSUPPORTED,      /* a transfer shape or framing kind the walker does not read */
	ASTER_CTR_MAX,
};

/*
 * The boundary walker (bpf/boundary_walker.bpf.h): framing that sits beyond
 * the copied head of a transfer. A framing kind names a boundary by its
 * stream position P and says how the bytes at P give the next one; at each
 * boundary the kernel copies a small window of the bytes there into the
 * record, and steps on. Windows are hints: userspace checks each against
 * the record (bounds, order) and its parser against the framing it
 * expects, and never takes one blindly.
 */
enum aster_framing {
	ASTER_FRAMING_NONE = 0,
	/* HTTP/1.1 chunked body. P is a chunk-size line; the window holds it
	 * (and, when after_data, the CRLF ending the previous chunk's data,
	 * from P - 2). Next: P + line length + size + 2; a size of 0 ends the
	 * walk (trailers follow). */
	ASTER_FRAMING_H1_CHUNKED = 1,
	/* HTTP/2 frames (issue #19), NOT IMPLEMENTED: P is a 9-byte frame
	 * header; next: P + 9 + its 24-bit length. The kernel refuses this kind
	 * (ASTER_CTR_WALK_UNSUPPORTED) until walk_step() reads it; the window
	 * layout already fits a frame header. */
	ASTER_FRAMING_H2_FRAMES = 2,
};

/* Bytes copied at a boundary: a chunk-size line of up to 15 hex digits with
 * its CRLFs, or an HTTP/2 frame header with room to spare. */
#define ASTER_WINDOW_BYTES 24
/* Windows one record carries at most; past it the walker stops and the
 * record says so (ASTER_F_WINDOWS_CAPPED). 64 covers a 64 KiB read of 1 KiB
 * chunks; 2 KiB of windows next to a head of up to ASTER_CAPTURE_MAX. */
#define ASTER_MAX_WINDOWS 64

/* One window: the bytes of the transfer at `offset` (from its first byte). */
struct aster_window {
	__u32 offset;
	__u8 len;    /* bytes used of bytes[] (less at the end of a transfer) */
	__u8 kind;   /* enum aster_framing */
	__u16 reserved;
	__u8 bytes[ASTER_WINDOW_BYTES];
};

/* With ASTER_F_WINDOWS, a DATA record goes on with this block and `count`
 * windows, offsets strictly ascending: after its payload at the next 8-byte
 * boundary, or after its iovec hint block when it has one (ASTER_F_IOV_HINTS;
 * a readv of one large buffer has windows and no hints, Node's writev has
 * hints and, when the walker is armed, windows that repeat some of the
 * hints' bytes). Both describe bytes of the same transfer at known offsets;
 * userspace takes each byte once, in stream order. */
struct aster_windows {
	__u16 count;
	__u16 reserved16;
	__u32 reserved;
	struct aster_window w[];
};

/* The walker's place in one direction of a connection. */
struct aster_walk {
	/* Stream position of the next boundary; meaningful while kind != 0. */
	__u64 next;
	__u8 kind;       /* enum aster_framing; 0: not armed */
	__u8 after_data; /* H1: the window starts 2 bytes early, at the CRLF ending chunk data */
	/* Bytes of the boundary's window the previous transfer ended with: a
	 * chunk-size line cut by a transfer end is completed in the next one. */
	__u8 stash_len;
	__u8 reserved[5];
	__u8 stash[ASTER_WINDOW_BYTES];
};

/* Userspace arms the walker through the `walk_arms` map once it has parsed
 * a head the kernel could not: "the next boundary of `kind` is at stream
 * position `next` in direction `dir`". The kernel takes (deletes) the entry
 * at the connection's next transfer in that direction, if it is not past. */
struct aster_walk_arm_key {
	__u64 conn_id;
	__u32 dir;
	__u32 reserved;
};
struct aster_walk_arm {
	__u64 next;
	__u8 kind;
	__u8 after_data;
	__u8 reserved[6];
};
/* Slots of the `walk_arm_pending` counters (bss): userspace bumps the slot
 * of conn_id & (ASTER_WALK_ARM_SLOTS - 1) before adding an arm, the kernel
 * drops it when it takes one, so a transfer of a connection without a
 * pending arm pays one load, not a hash lookup. */
#define ASTER_WALK_ARM_SLOTS 4096

/* Connection state the probes keep per socket (socket-local storage in the
 * primary mode, a hash keyed by the socket's address in the fallback). */
struct aster_conn_state {
	__u64 conn_id;
	__u64 stream_pos[2]; /* indexed by enum aster_direction */
	/* Fallback mode: the socket's inode number. A socket freed and another
	 * allocated at the same address has another inode, so it starts over
	 * instead of inheriting this state. */
	__u64 sock_ino;
	/* The last process that moved bytes on this socket and its service, so
	 * the watched map is looked up only when another process takes over or
	 * userspace watched a process anew or moved it (watch_epoch). */
	__u32 owner_tgid;
	__u16 owner_service;
	__u16 owner_epoch;
	/* Socket mode: the TCP sequence number (copied_seq ingress, write_seq
	 * egress) just after the last byte a record of that direction placed;
	 * valid once stream_pos of that direction is not 0. */
	__u32 seq_next[2];
	/* The TLS session (the library's SSL*) bound to this socket, 0 for a
	 * plain one: its ciphertext is not sent, its plaintext comes from the
	 * TLS uprobes (bpf/tls_probes.bpf.h). */
	__u64 tls_session;
	struct aster_walk walk[2]; /* indexed by enum aster_direction */
};

/* The attach cookie of the TLS read/write entry program: which call it is
 * attached to (userspace sets it per function). */
#define ASTER_TLS_COOKIE_WRITE 1u /* a write; else a read */
#define ASTER_TLS_COOKIE_EX 2u    /* SSL_*_ex: the count comes back through a size_t *, not the return value */

/* A TLS session of a watched process: the key and value of the map that
 * binds it to its connection (bpf/tls_probes.bpf.h). */
struct aster_tls_key {
	__u64 session; /* the library's SSL* */
	__u32 tgid;
	__u32 reserved;
};
struct aster_tls_binding {
	__u64 conn_id;
	__u64 stream_pos[2]; /* plaintext bytes, indexed by enum aster_direction */
	/* Go crypto/tls: the inode of the socket the session was bound on (a
	 * tls.Conn's address reused by another connection binds anew); 0 for
	 * OpenSSL sessions. */
	__u64 sock_ino;
};

/* The attach cookie of the Go crypto/tls entry program: the function. */
#define ASTER_GO_TLS_READ 0u
#define ASTER_GO_TLS_WRITE 1u
#define ASTER_GO_TLS_HANDSHAKE 2u

/* Where a Go process keeps the socket of a *tls.Conn (userspace reads it
 * from the binary's DWARF and symbols, bpf/go_tls_probes.bpf.h follows
 * it): tls.Conn.conn is a net.Conn interface (itab, data); the data of a
 * *net.TCPConn points to its netFD, whose poll.FD holds Sysfd. */
struct aster_go_tls_proc {
	__u64 tcpconn_itab;     /* address of the itab of (*net.TCPConn, net.Conn) in this process */
	__u16 conn_off;         /* tls.Conn.conn */
	__u16 tcpconn_fd_off;   /* net.TCPConn.conn.fd (*netFD) */
	__u16 netfd_sysfd_off;  /* netFD.pfd.Sysfd (int) */
	__u16 reserved;
};

#endif /* ASTER_EVENTS_H */
