#!/usr/bin/env python3
"""Runs the integration suite against a built exporter, once per attach mode.

    python3 tests/integration/run.py --exporter build/aster-exporter [--modes socket,syscalls] [-k NAME ...]

-k may be given several times: a test runs when its id contains any of them.
Needs root: the tests load the real BPF programs and start real servers.
Prints "N passed, N failed" last; exits non-zero on any failure.
"""
import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exporter", required=True)
    ap.add_argument("--modes", default="socket,syscalls")
    # append: a second -k used to replace the first, so `-k a -k b` silently ran only b.
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="only tests whose id contains this (repeatable: any of them)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("the integration tests load BPF programs: run them as root", file=sys.stderr)
        return 2
    os.environ["ASTER_EXPORTER"] = os.path.abspath(args.exporter)
    sys.path.insert(0, HERE)
    passed = failed = 0
    for mode in args.modes.split(","):
        os.environ["ASTER_ATTACH_MODE"] = mode
        import harness
        harness.EXPORTER = os.environ["ASTER_EXPORTER"]
        harness.ATTACH_MODE = mode
        suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py")
        if args.patterns:
            suite = unittest.TestSuite(t for t in iter_tests(suite)
                                       if any(p in t.id() for p in args.patterns))
            if suite.countTestCases() == 0:
                print(f"no test id contains any of {args.patterns}", file=sys.stderr)
                return 2
        print(f"=== attach mode: {mode} ===", flush=True)
        result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
        bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
        failed += bad
        passed += result.testsRun - bad - len(result.skipped)
    print(f"integration: {passed} passed, {failed} failed")
    return 1 if failed else 0


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


if __name__ == "__main__":
    sys.exit(main())
