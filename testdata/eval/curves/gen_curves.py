#!/usr/bin/python3
"""Generates the oracle of the evaluation report's stored curves.

Run with Debian's python (scikit-learn 1.2.1):
    /usr/bin/python3 testdata/eval/curves/gen_curves.py
It writes, next to itself:
  scores.csv          4,000 rows: label, candidate and production scores,
                      with ties (about 1,000 distinct scores each) so that
                      the ROC and PR curves exceed the 200 stored points;
                      scores sit off the calibration bin edges (k/10),
                      where numpy's searchsorted and int(p*10) disagree.
  curves-oracle.json  scikit-learn's roc_curve (drop_intermediate=False),
                      precision_recall_curve, calibration_curve(n_bins=10),
                      roc_auc_score and average_precision_score per model.
"""
import json
import os

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(19)
n = 4000
y = (rng.random(n) < 0.3).astype(int)


def scores(strength):
    s = 1 / (1 + np.exp(-(strength * (2 * y - 1) + rng.normal(0, 1.2, n))))
    return np.clip(np.round(s, 3), 0, 0.999) + 0.00005


cand, prod = scores(1.6), scores(1.1)
with open(os.path.join(here, "scores.csv"), "w") as f:
    f.write("label,candidate,production\n")
    for a, b, c in zip(y, cand, prod):
        f.write(f"{a},{b:.5f},{c:.5f}\n")
# read back what was written, so the oracle scores exactly the file's numbers
data = np.loadtxt(os.path.join(here, "scores.csv"), delimiter=",", skiprows=1)
y, cand, prod = data[:, 0], data[:, 1], data[:, 2]
out = {}
for name, s in [("candidate", cand), ("production", prod)]:
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    prec, rec, _ = precision_recall_curve(y, s)
    pt, pp = calibration_curve(y, s, n_bins=10)
    out[name] = {
        "fpr": fpr.tolist(), "tpr": tpr.tolist(),
        "precision": prec.tolist(), "recall": rec.tolist(),
        "prob_true": pt.tolist(), "prob_pred": pp.tolist(),
        "roc_auc": roc_auc_score(y, s), "average_precision": average_precision_score(y, s),
        "distinct_scores": int(len(np.unique(s))),
    }
with open(os.path.join(here, "curves-oracle.json"), "w") as f:
    json.dump(out, f, indent=1)
