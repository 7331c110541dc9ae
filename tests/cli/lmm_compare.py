#!/usr/bin/env python3
"""Compare `alliance lmm --json` output with lme4's golden JSON.

Usage: lmm_compare.py [--criterion] GOLDEN.json OURS.json
With --criterion only the criterion is checked (against lme4's default
fit, which may stop short of the optimum); without, everything (against
lme4 driven to full convergence, the *_tight.json files).
Tolerances of issue 4: the criterion (REML criterion or -2 logLik) within
1e-7 relative or lower; fixed effects and their SEs within 1e-5 relative;
random-effect SDs, correlations and the residual SD within 1e-4 relative.
Prints one line per failed check and exits 1 if any failed."""
import json
import sys


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def main():
    args = sys.argv[1:]
    crit_only = args[0] == "--criterion"
    if crit_only:
        args = args[1:]
    gold = json.load(open(args[0]))
    ours = json.load(open(args[1]))
    bad = []
    if gold["method"] != ours["method"]:
        bad.append("method %s vs %s" % (ours["method"], gold["method"]))
    if gold["nobs"] != ours["nobs"]:
        bad.append("nobs %s vs %s" % (ours["nobs"], gold["nobs"]))
    c, g = ours["criterion"], gold["criterion"]
    if c > g and rel(c, g) > 1e-7:
        bad.append("criterion %.12g higher than lme4's %.12g" % (c, g))
    for key, tol in () if crit_only else (("fixef", 1e-5), ("se", 1e-5), ("sdcor", 1e-4)):
        if set(gold[key]) != set(ours[key]):
            bad.append("%s names %s vs %s" % (key, sorted(ours[key]), sorted(gold[key])))
            continue
        for name, gv in gold[key].items():
            ov = ours[key][name]
            # a correlation or effect near zero: compare on the absolute scale
            err = rel(ov, gv) if abs(gv) > 1e-3 else abs(ov - gv)
            if err > tol:
                bad.append("%s[%s] %.10g vs lme4 %.10g (rel %.2g > %g)" % (key, name, ov, gv, err, tol))
    if not ours.get("converged"):
        bad.append("not converged: %s" % ours.get("convergence"))
    for b in bad:
        print(b)
    sys.exit(1 if bad else 0)


main()
