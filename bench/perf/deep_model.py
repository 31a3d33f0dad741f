#!/usr/bin/python3
"""Trains the depth-6 model of bench/perf/run.sh part 3 (xgboost's default
max_depth, 100 trees) on the first 100,000 rows of the inference features,
so that the general step of the flat layout is timed against xgboost as
well as the depth-3 candidate. The label is a fixed nonlinear function of
four features plus noise (seeded), 5% of the values are removed so that
trees learn default directions. Usage: deep_model.py features.csv out.json"""
import sys

import numpy as np
import pandas as pd
import xgboost as xgb

data, out = sys.argv[1], sys.argv[2]
df = pd.read_csv(data, nrows=100_000)
X = df.to_numpy(np.float32)
rng = np.random.default_rng(0)


def std(c):
    return (X[:, c] - X[:, c].mean()) / X[:, c].std()


z = std(0) * std(1) + np.sin(std(2) * 3) + std(5) * std(7) + rng.normal(0, 0.5, len(X))
X[rng.random(X.shape) < 0.05] = np.nan
d = xgb.DMatrix(X, label=(z > 0).astype(int), feature_names=list(df.columns))
bst = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "nthread": 1, "seed": 0}, d, 100)
bst.save_model(out)
