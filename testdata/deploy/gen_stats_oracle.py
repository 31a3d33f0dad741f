#!/usr/bin/python3
"""Oracle values for agents/deployment/analysis.go, computed by scipy/numpy.

Run with the Debian python (/usr/bin/python3, scipy 1.10):
    /usr/bin/python3 testdata/deploy/gen_stats_oracle.py > testdata/deploy/stats-oracle.json
"""
import json
import numpy as np
from scipy import stats

rng = np.random.default_rng(7)
cases = []

def psi(expected, actual):
    # Evidently's psi_stat_test with get_binned_data (numeric feature,
    # n_bins=10): equal-width bins over both samples, zeros -> 0.0001.
    bins = np.histogram_bin_edges(list(expected) + list(actual), bins=10)
    e = np.histogram(expected, bins)[0] / len(expected)
    a = np.histogram(actual, bins)[0] / len(actual)
    np.place(e, e == 0, 0.0001)
    np.place(a, a == 0, 0.0001)
    return float(np.sum((e - a) * np.log(e / a)))

def case(name, stable, cand):
    ks = stats.ks_2samp(stable, cand, method="asymp")
    # the rollout checks call tools/stats.KS2Samp, scipy's method="auto"
    # (exact at these sizes), the same p-value method as drift detection
    ks_auto = stats.ks_2samp(stable, cand, method="auto")
    mw = stats.mannwhitneyu(cand, stable, alternative="two-sided", method="asymptotic", use_continuity=True)
    cases.append({
        "name": name,
        "stable": [float(x) for x in stable],
        "candidate": [float(x) for x in cand],
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "ks_pvalue_auto": float(ks_auto.pvalue),
        "mw_u": float(mw.statistic),
        "mw_pvalue": float(mw.pvalue),
        "psi": psi(np.array(stable), np.array(cand)),
    })

case("same-beta", rng.beta(2, 5, 400), rng.beta(2, 5, 300))
case("shifted-beta", rng.beta(2, 5, 400), rng.beta(3, 4, 300))
case("rounded-ties", np.round(rng.beta(2, 5, 500), 1), np.round(rng.beta(2.5, 5, 500), 1))
case("garbage-constant", rng.beta(2, 5, 200), np.full(150, 0.999))
case("small", rng.normal(0, 1, 25), rng.normal(0.5, 1, 30))
print(json.dumps({"generator": "scipy " + __import__("scipy").__version__ + ", numpy " + np.__version__, "cases": cases}))
