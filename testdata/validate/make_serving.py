#!/usr/bin/python3
"""Make serving-drifted.csv: the breast-cancer holdout without its label
(serving data), with the first twelve feature columns scaled by 1.8 so that
they drift and stray outside the training ranges.
Run: /usr/bin/python3 make_serving.py"""
import os
import pandas as pd

here = os.path.dirname(os.path.abspath(__file__))
df = pd.read_csv(os.path.join(here, "..", "drift", "holdout.csv")).drop(columns=["target"])
for c in list(df.columns)[:12]:
    df[c] = df[c] * 1.8
df.to_csv(os.path.join(here, "serving-drifted.csv"), index=False)
