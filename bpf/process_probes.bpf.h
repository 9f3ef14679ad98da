/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Follows watched processes through fork and exit in the kernel itself, so a
 * pre-forking server's new worker is watched before its first accept(), and
 * an exited process's entry is gone before its PID can be reused.
 */
#ifndef ASTER_PROCESS_PROBES_BPF_H
#define ASTER_PROCESS_PROBES_BPF_H

SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = parent->tgid;
	__u32 child_tgid = child->tgid;
	if (parent_tgid == child_tgid) /* a new thread, not a new process */
		return 0;
	struct aster_watch *w = bpf_map_lookup_elem(&watched, &parent_tgid);
	if (!w)
		return 0;
	struct aster_watch copy = *w;
	set_watched_bit(child_tgid); /* before the entry: see ASTER_PID_BITS */
	if (bpf_map_update_elem(&watched, &child_tgid, &copy, BPF_ANY)) {
		count(ASTER_CTR_WATCH_MAP_FULL, 1);
		clear_watched_bit(child_tgid);
	}
	emit_simple(ASTER_EVENT_PROC_FORK, 0, child_tgid, parent_tgid, copy.service_id);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *task)
{
	if (task->pid != task->tgid) /* a thread, not the process */
		return 0;
	__u32 tgid = task->tgid;
	struct aster_watch *w = bpf_map_lookup_elem(&watched, &tgid);
	if (!w)
		return 0;
	__u16 service_id = w->service_id;
	bpf_map_delete_elem(&watched, &tgid);
	clear_watched_bit(tgid); /* after the entry: see ASTER_PID_BITS */
	emit_simple(ASTER_EVENT_PROC_EXIT, 0, tgid, 0, service_id);
	return 0;
}

/* A watched process that execs may have become another program (a worker
 * turned shell); any exec matters when selectors name executables or
 * cgroups. Userspace re-checks the process either way. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task->tgid;
	struct aster_watch *w = bpf_map_lookup_elem(&watched, &tgid);
	if (!w && !follow_exec)
		return 0;
	emit_simple(ASTER_EVENT_PROC_EXEC, 0, tgid, 0, w ? w->service_id : 0xffff);
	return 0;
}

#endif
