#!/usr/bin/python3
"""pandas + scipy doing the work of `modelgate drift` on the benchmark data:
read both CSVs, then per column the null fractions and, for numeric columns,
ks_2samp, wasserstein_distance, the reference std (normalised Wasserstein)
and PSI at reference deciles; for categorical columns the category shares
and the Jensen-Shannon distance (chi-square for small references).
Prints the drifted columns and the time spent reading and computing."""
import sys, time
import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

ref_path, cur_path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
ref = pd.read_csv(ref_path)
cur = pd.read_csv(cur_path)
t1 = time.perf_counter()

def psi(a, b, bins=10):
    edges = np.unique(np.quantile(a, np.arange(1, bins) / bins))
    ra = np.bincount(np.searchsorted(edges, a, side="left"), minlength=len(edges) + 1) / len(a)
    rb = np.bincount(np.searchsorted(edges, b, side="left"), minlength=len(edges) + 1) / len(b)
    ra = np.where(ra == 0, 0.0001, ra)
    rb = np.where(rb == 0, 0.0001, rb)
    return float(np.sum((rb - ra) * np.log(rb / ra)))

drifted = []
for col in ref.columns:
    r, c = ref[col], cur[col]
    nf_r, nf_c = r.isna().mean(), c.isna().mean()
    r, c = r.dropna(), c.dropna()
    if pd.api.types.is_numeric_dtype(r):
        ks = stats.ks_2samp(r.values, c.values)
        w = stats.wasserstein_distance(r.values, c.values)
        p = psi(r.values, c.values)
        stat = w / max(np.std(r.values), 0.001)
        if (len(r) <= 1000 and ks.pvalue < 0.05) or (len(r) > 1000 and stat >= 0.1):
            drifted.append(col)
    else:
        keys = sorted(set(r.unique()) | set(c.unique()))
        vr = r.value_counts().reindex(keys, fill_value=0).values
        vc = c.value_counts().reindex(keys, fill_value=0).values
        if len(r) <= 1000:
            chi2, pv, _, _ = stats.chi2_contingency(np.array([vr, vc]))
            if pv < 0.05:
                drifted.append(col)
        elif distance.jensenshannon(vr, vc) >= 0.1:
            drifted.append(col)
t2 = time.perf_counter()
print(f"drifted={','.join(drifted)} read={t1 - t0:.2f}s stats={t2 - t1:.2f}s total={t2 - t0:.2f}s")
