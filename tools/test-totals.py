#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Adds up meson test logs into one line: 'N passed, N failed'.

A TAP test counts each of its cases; any other test counts once. A TAP test
that died (crash, timeout) without reporting a failing case counts one more
failure, so a crash is never hidden behind its passing cases.

  test-totals.py LABEL=build/x/meson-logs/testlog.json ...
"""
import json
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b", re.MULTILINE)
GOOD = {"OK", "EXPECTEDFAIL", "SKIP"}


def failed_cases(stdout, limit=10):
    """The failing TAP cases with the diagnostics after them, so that the
    tail of a CI log says what failed, not only where."""
    lines = stdout.splitlines()
    shown = []
    for i, line in enumerate(lines):
        if line.startswith("not ok"):
            shown.append("  " + line[:200])
            for extra in lines[i + 1:i + 6]:
                if not extra.startswith("#"):
                    break
                shown.append("    " + extra[:200])
            if len(shown) >= limit * 3:
                shown.append("  ...")
                break
    if not shown:
        shown = ["  last output: " + l[:200] for l in lines[-5:]]
    return shown


def count(path):
    passed = failed = 0
    failures = []
    with open(path, encoding="utf-8") as log:
        for line in log:
            test = json.loads(line)
            results = TAP_LINE.findall(test.get("stdout") or "")
            ok = test["result"] in GOOD
            if results:
                p = results.count("ok")
                f = results.count("not ok")
                if not ok and f == 0:
                    f = 1
            else:
                p, f = (1, 0) if ok else (0, 1)
            passed += p
            failed += f
            if f:
                failures.append(f"{test['name']} ({test['result']})")
                failures.extend(failed_cases(test.get("stdout") or ""))
    return passed, failed, failures


def main(argv):
    total_p = total_f = 0
    for arg in argv[1:]:
        label, _, path = arg.partition("=")
        try:
            p, f, failures = count(path)
        except FileNotFoundError:
            p, f, failures = 0, 1, [f"{label}: no test log (did it run?)"]
        print(f"  {label:<12} {p:5d} passed {f:5d} failed")
        for name in failures:
            print(f"      failed: {name}")
        total_p += p
        total_f += f
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
