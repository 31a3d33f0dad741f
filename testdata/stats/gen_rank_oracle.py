#!/usr/bin/python3
"""Oracle values for tools/stats/rank.go (Mann-Whitney U, equal-width PSI),
computed by scipy/numpy.

Run with the Debian python (/usr/bin/python3, scipy 1.10):
    /usr/bin/python3 testdata/stats/gen_rank_oracle.py > testdata/stats/rank-oracle.json
"""
import json
import numpy as np
from scipy import stats

rng = np.random.default_rng(11)
cases = []

def psi(expected, actual):
    # Evidently's psi_stat_test (numeric feature, n_bins=10): equal-width
    # bins over both samples, zero shares -> 0.0001.
    bins = np.histogram_bin_edges(list(expected) + list(actual), bins=10)
    e = np.histogram(expected, bins)[0] / len(expected)
    a = np.histogram(actual, bins)[0] / len(actual)
    np.place(e, e == 0, 0.0001)
    np.place(a, a == 0, 0.0001)
    return float(np.sum((e - a) * np.log(e / a)))

def case(name, x, y):
    mw = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    cases.append({"name": name, "x": [float(v) for v in x], "y": [float(v) for v in y],
                  "u": float(mw.statistic), "p": float(mw.pvalue), "psi": psi(np.array(y), np.array(x))})

case("same-normal", rng.normal(0, 1, 200), rng.normal(0, 1, 150))
case("shifted-normal", rng.normal(0.4, 1, 120), rng.normal(0, 1, 130))
case("heavy-ties", rng.integers(0, 5, 300).astype(float), rng.integers(1, 6, 250).astype(float))
case("tiny", [0.1, 0.5, 0.9], [0.2, 0.3])
case("separated", rng.uniform(2, 3, 40), rng.uniform(0, 1, 60))
case("unequal-sizes", rng.exponential(1, 1000), rng.exponential(1.2, 37))
print(json.dumps({"generator": "scipy " + __import__("scipy").__version__ + ", numpy " + np.__version__, "cases": cases}))
