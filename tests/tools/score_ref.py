#!/usr/bin/env python3
"""Independent scoring of item-level rows, for checking 'alliance score'.

Implements shared/spec/registry-report.md section 1 (phq9, gad7, wai_sr) and
the WAI-SR subscales of Hatcher & Gillaspy (2006) straight from the
published rules, without reading the project's instrument files, and
compares the result with alliance's output row by row.

Usage: score_ref.py ITEMS.csv ALLIANCE_SCORES.csv
"""
import csv
import sys
from collections import defaultdict

RULES = {"phq9": (9, 1, "sum"), "gad7": (7, 1, "sum"), "wai_sr": (12, 2, "mean")}
WAI_SUB = {"task": [1, 2, 10, 12], "bond": [3, 5, 7, 9], "goal": [4, 6, 8, 11]}


def expected(path):
    adm = defaultdict(dict)
    meta = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for r in csv.DictReader(f):
            key = (r["client_id"], int(r["session"]), r["instrument"])
            adm[key][int(r["item"])] = None if r["value"] == "" else int(r["value"])
            meta.setdefault(key, (r["therapist_id"], r["date"], r["modality"]))
    out = {}
    for key, items in adm.items():
        k, maxmiss, how = RULES[key[2]]
        vals = [items.get(i) for i in range(1, k + 1)]
        got = [v for v in vals if v is not None]
        if not got or k - len(got) > maxmiss:
            continue
        if how == "mean":
            out[key + ("total",)] = sum(got) / len(got)
            for name, idx in WAI_SUB.items():
                sub = [vals[i - 1] for i in idx if vals[i - 1] is not None]
                if len(idx) - len(sub) <= 1:
                    out[key + (name,)] = sum(sub) / len(sub)
        else:
            s, a = sum(got), len(got)
            out[key + ("total",)] = (2 * s * k + a) // (2 * a)
    return out, meta


def main(items, scores):
    want, meta = expected(items)
    got = {}
    with open(scores, newline="") as f:
        for r in csv.DictReader(f):
            key = (r["client_id"], int(r["session"]), r["instrument"], r["scale"])
            if key in got:
                print("duplicate output row", key)
                return 1
            got[key] = float(r["score"])
            if meta[key[:3]] != (r["therapist_id"], r["date"], r["modality"]):
                print("metadata differs for", key)
                return 1
    if set(want) != set(got):
        print("rows differ: %d expected, %d got; e.g. missing %s, extra %s" % (
            len(want), len(got), sorted(set(want) - set(got))[:3],
            sorted(set(got) - set(want))[:3]))
        return 1
    for key, v in want.items():
        if abs(got[key] - v) > 5e-7:
            print("score differs for", key, v, got[key])
            return 1
    print("%d score rows agree" % len(want))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
