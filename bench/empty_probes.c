// SPDX-License-Identifier: Apache-2.0
// Loads bench/empty_probes.bpf.c and attaches one set of its empty programs
// until SIGINT/SIGTERM:
//   empty_probes socket     tp_btf/sock_{send,recv}_length
//   empty_probes syscalls   syscall tracepoints of the fallback mode
//   empty_probes copy PID.. the copy floor on tp_btf/sock_{send,recv}_length,
//                           for these processes only
// Prints "ready" on stdout once attached, so the benchmark can start its
// load at the right moment.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "empty_probes.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

/* The programs a mode loads: the copy floor's, or the empty ones on the
 * socket tracepoints or on the syscall tracepoints. */
static int wanted(const char *mode, struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);
	int is_socket = strncmp(bpf_program__section_name(prog), "tp_btf/", 7) == 0;
	if (strcmp(mode, "copy") == 0)
		return strncmp(name, "copy_", 5) == 0;
	if (strncmp(name, "empty_", 6) != 0)
		return 0;
	return is_socket == (strcmp(mode, "socket") == 0);
}

int main(int argc, char **argv)
{
	int copy = argc >= 3 && strcmp(argv[1], "copy") == 0;
	if (!copy && (argc != 2 || (strcmp(argv[1], "socket") && strcmp(argv[1], "syscalls")))) {
		fprintf(stderr, "usage: %s socket|syscalls|copy PID...\n", argv[0]);
		return 2;
	}

	struct empty_probes_bpf *skel = empty_probes_bpf__open();
	if (!skel) {
		fprintf(stderr, "empty_probes: cannot open the BPF object: %s\n", strerror(errno));
		return 1;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj)
	{
		bpf_program__set_autoload(prog, wanted(argv[1], prog));
	}
	int err = empty_probes_bpf__load(skel);
	if (err) {
		fprintf(stderr, "empty_probes: cannot load: %s\n", strerror(-err));
		goto out;
	}
	for (int i = 2; copy && i < argc; i++) {
		char *end;
		unsigned long pid = strtoul(argv[i], &end, 10);
		if (*end || pid == 0 || pid >= sizeof(skel->bss->copy_pids) * 8) {
			fprintf(stderr, "empty_probes: not a pid: %s\n", argv[i]);
			err = 1;
			goto out;
		}
		skel->bss->copy_pids[pid / 64] |= 1ull << (pid % 64);
	}
	bpf_object__for_each_program(prog, skel->obj)
	{
		if (!bpf_program__autoload(prog))
			continue;
		struct bpf_link *link = bpf_program__attach(prog);
		if (!link) {
			fprintf(stderr,
				"empty_probes: cannot attach %s: %s (syscall tracepoints need tracefs: "
				"mount -t tracefs nodev /sys/kernel/tracing)\n",
				bpf_program__section_name(prog), strerror(errno));
			err = 1;
			goto out;
		}
		/* The skeleton does not own links we made by hand; they are freed
		 * with the process. */
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
out:
	empty_probes_bpf__destroy(skel);
	return err ? 1 : 0;
}
