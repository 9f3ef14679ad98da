#!/usr/bin/env python3
"""The layout's one rule, checked: each stage of userspace/ includes only
the model and the stages upstream of it (README "How it works"), so data
flows one way and a protocol is a folder that nothing but the wiring names.
The model and the protocols include nothing of BPF, so the fuzzers build
without the skeleton.

    tests/e2e/check_layout.py [REPO]

Prints each violation and "N passed, N failed" last; exits 1 on any.
"""
import os
import re
import sys

# stage -> the stages it may include (itself always).
ALLOWED = {
    "model": set(),
    "config": {"model"},
    "identity": {"model", "config"},
    "targets": {"model", "config", "identity"},
    "capture": {"model", "config", "targets", "identity"},
    "streams": {"model"},
    "protocols": {"model"},
    "metrics": {"model", "config", "targets", "identity", "capture"},
    "web": {"model", "config"},
}
NO_BPF = {"model", "protocols", "streams"}
INCLUDE = re.compile(r'^\s*#\s*include\s+[<"]([^>"]+)[>"]', re.M)


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    top = os.path.join(repo, "userspace")
    problems, files = [], 0
    for root, _, names in os.walk(top):
        rel = os.path.relpath(root, top)
        stage = rel.split(os.sep)[0]
        for name in names:
            if not name.endswith((".h", ".cc")):
                continue
            files += 1
            path = os.path.join(rel, name)
            if stage == ".":
                continue  # main.cc and replay.cc wire every stage
            if stage not in ALLOWED:
                problems.append(f"{path}: folder '{stage}' is not a stage this check knows; add it to ALLOWED")
                continue
            text = open(os.path.join(root, name)).read()
            for inc in INCLUDE.findall(text):
                first = inc.split("/")[0]
                if first in ALLOWED and first != stage and first not in ALLOWED[stage]:
                    problems.append(f"{path}: includes {inc}, but {stage}/ may only include "
                                    f"{', '.join(sorted(ALLOWED[stage] | {stage}))}")
                if stage in NO_BPF and (inc.startswith("bpf/") or inc.endswith(".skel.h")):
                    problems.append(f"{path}: includes {inc}; {stage}/ must build without BPF")
    for p in problems:
        print("FAIL " + p)
    print(f"layout: {files} files checked")
    print(f"{0 if problems else 1} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
