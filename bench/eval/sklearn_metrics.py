#!/usr/bin/python3
"""Peer of `evalbench -mode metrics`: scikit-learn's roc_auc, average
precision, log_loss and brier on the same file, reading timed apart."""
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
y = df["label"].to_numpy()
p = df["score"].to_numpy(dtype=np.float64)
read = time.perf_counter() - t0
best = best_cpu = float("inf")
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
    c = time.process_time()
    t = time.perf_counter()
    auc = roc_auc_score(y, p)
    ap = average_precision_score(y, p)
    ll = log_loss(y, p)
    br = brier_score_loss(y, p)
    best = min(best, time.perf_counter() - t)
    best_cpu = min(best_cpu, time.process_time() - c)
print("rows=%d read_s=%.3f compute_s=%.3f compute_cpu_s=%.3f roc_auc=%.12f pr_auc=%.12f log_loss=%.12f brier=%.12f"
      % (len(y), read, best, best_cpu, auc, ap, ll, br))
