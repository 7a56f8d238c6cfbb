#!/usr/bin/python3
"""Turns the output of kmip-conformance into the Markdown results table of test/conformance/README.md.

Every file of the KMIP 1.4 and 2.1 mandatory sets gets one row: its result and, for a failure, the first
difference as the runner reported it (one line). A file the output does not mention is "not run".

Usage: make conformance | test/conformance/results-table.py [VECTORS]
"""
import os
import re
import sys

SETS = [("1.4", "oasis-profiles-v1.4-os/mandatory"), ("2.1", "oasis-profiles-v2.1-os/mandatory")]


def natural(name):
    """Sorts SKFF-M-2 before SKFF-M-10."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def main():
    vectors = sys.argv[1] if len(sys.argv) > 1 else "../shared/kmip-vectors"
    results = {}
    for line in sys.stdin:
        m = re.match(r"^(PASS|FAIL|ERROR) ([^:\s]+)(?:: (.*))?$", line.rstrip("\n"))
        if m:
            results[m.group(2)] = (m.group(1), m.group(3) or "")
    totals = {}
    for version, folder in SETS:
        names = sorted((n for n in os.listdir(os.path.join(vectors, folder)) if n.endswith(".xml")), key=natural)
        print("\n### KMIP %s mandatory (%d files)\n" % (version, len(names)))
        print("| file | result | first difference |")
        print("|---|---|---|")
        for n in names:
            result, why = results.get(n, ("not run", ""))
            totals[result] = totals.get(result, 0) + 1
            why = why.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            print("| %s | %s | %s |" % (n[:-4], result, why))
    print("\nTotal: " + ", ".join("%d %s" % (v, k) for k, v in sorted(totals.items())))


if __name__ == "__main__":
    main()
