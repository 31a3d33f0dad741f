#!/usr/bin/python3
"""Peer of `evalbench -mode infer`: xgboost's inplace_predict on the same
rows with nthread threads, reading timed apart."""
import sys
import time

import numpy as np
import pandas as pd
import xgboost as xgb

data, model, nthread = sys.argv[1], sys.argv[2], int(sys.argv[3])
reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
t0 = time.perf_counter()
df = pd.read_csv(data)
bst = xgb.Booster()
bst.load_model(model)
X = df[bst.feature_names].to_numpy(dtype=np.float32)
read = time.perf_counter() - t0
bst.set_param({"nthread": nthread})
best = best_cpu = float("inf")
for _ in range(reps):
    c = time.process_time()  # user+system CPU of the process (all threads)
    t = time.perf_counter()
    p = bst.inplace_predict(X)
    best = min(best, time.perf_counter() - t)
    best_cpu = min(best_cpu, time.process_time() - c)
print("rows=%d threads=%d read_s=%.3f predict_s=%.4f rows_per_s=%.0f rows_per_cpu_s=%.0f checksum=%.6f"
      % (len(X), nthread, read, best, len(X) / best, len(X) / best_cpu, float(np.sum(p.astype(np.float64)))))
