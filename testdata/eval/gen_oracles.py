#!/usr/bin/python3
"""Generates extra oracles for tools/model, tools/metrics and tools/compare.

Run with Debian's python (xgboost 1.7.4, scikit-learn 1.2.1, scipy 1.10.1):
    /usr/bin/python3 testdata/eval/gen_oracles.py
It writes, next to itself:
  metrics-extra-oracle.json  sklearn metrics on tied, weighted and edge cases,
                             scipy's exact binomial McNemar p-values, and DeLong
                             from an independent numpy implementation.
  xgb-extra/                 small XGBoost models trained here with missing
                             values (default_left routing) and other objectives,
                             their inputs and xgboost's own predictions.
"""
import json
import os

import numpy as np
import scipy.stats
import sklearn
import xgboost as xgb
from sklearn import metrics as skm

HERE = os.path.dirname(os.path.abspath(__file__))


def binary_case(name, y, p, w=None, threshold=0.5):
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    out = {"name": name, "y": y.tolist(), "p": p.tolist(), "threshold": threshold}
    if w is not None:
        out["w"] = list(map(float, w))
    pred = (p >= threshold).astype(float)
    kw = {"sample_weight": w} if w is not None else {}
    m = {
        "accuracy": skm.accuracy_score(y, pred, **kw),
        "precision": skm.precision_score(y, pred, zero_division=0, **kw),
        "recall": skm.recall_score(y, pred, zero_division=0, **kw),
        "f1": skm.f1_score(y, pred, zero_division=0, **kw),
        "brier": skm.brier_score_loss(y, p, **kw),
    }
    if len(set(y.tolist())) == 2:
        m["roc_auc"] = skm.roc_auc_score(y, p, **kw)
        m["pr_auc"] = skm.average_precision_score(y, p, **kw)
        m["log_loss"] = skm.log_loss(y, p, **kw)
    out["metrics"] = m
    return out


def delong(y, p1, p2):
    """Paired DeLong test (DeLong et al. 1988), written directly from the
    structural components with O(m*n) comparisons (independent of the
    fast midrank algorithm the Go code uses)."""
    y = np.asarray(y)
    pos, neg = y == 1, y == 0
    res = []
    for p in (p1, p2):
        x, z = p[pos][:, None], p[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)
        res.append((psi.mean(axis=1), psi.mean(axis=0), psi.mean()))
    m, n = pos.sum(), neg.sum()
    v10 = np.vstack([r[0] for r in res])
    v01 = np.vstack([r[1] for r in res])
    s = np.cov(v10) / m + np.cov(v01) / n
    var = s[0, 0] + s[1, 1] - 2 * s[0, 1]
    delta = res[0][2] - res[1][2]
    z = delta / np.sqrt(var)
    return {"auc1": res[0][2], "auc2": res[1][2], "delta": delta, "var": var,
            "z": z, "p_value": 2 * scipy.stats.norm.sf(abs(z))}


def main():
    rng = np.random.default_rng(7)
    cases = []
    # heavy ties: scores rounded to one decimal
    y = rng.integers(0, 2, 200)
    p = np.round(np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1), 1)
    cases.append(binary_case("ties", y, p))
    # weighted (bootstrap counts)
    w = rng.integers(0, 4, 200)
    cases.append(binary_case("weighted_ties", y, p, w))
    # scores at the clip limits, imbalanced
    y2 = (rng.random(300) < 0.05).astype(int)
    p2 = np.where(y2 == 1, rng.random(300) * 0.5 + 0.5, rng.random(300) * 0.6)
    p2[:5] = 0.0
    p2[5:10] = 1.0
    cases.append(binary_case("extremes", y2, p2, threshold=0.3))
    cases.append(binary_case("all_tied", [0, 1, 0, 1, 1], [0.5] * 5))
    cases.append(binary_case("one_class", [1, 1, 1], [0.2, 0.9, 0.6]))

    # multiclass with unnormalised rows and a class never predicted
    ym = rng.integers(0, 4, 120)
    pm = rng.random((120, 4))
    pm[:, 3] *= 0.01
    pm_norm = pm / pm.sum(axis=1, keepdims=True)
    multi = {"y": ym.tolist(), "p": pm_norm.ravel().tolist(), "classes": 4,
             "metrics": {"accuracy": skm.accuracy_score(ym, pm_norm.argmax(1)),
                         "macro_f1": skm.f1_score(ym, pm_norm.argmax(1), average="macro"),
                         "log_loss": skm.log_loss(ym, pm_norm)}}
    yr = rng.normal(100, 30, 150)
    pr = yr + rng.normal(0, 10, 150)
    yr[0] = 0.0
    reg = {"y": yr.tolist(), "p": pr.tolist(),
           "metrics": {"rmse": skm.mean_squared_error(yr, pr, squared=False),
                       "mae": skm.mean_absolute_error(yr, pr),
                       "r2": skm.r2_score(yr, pr),
                       "mape": skm.mean_absolute_percentage_error(yr, pr)}}

    mcnemar = []
    for b, c in [(3, 10), (0, 0), (12, 12), (40, 70), (1, 0)]:
        n = b + c
        pv = 1.0 if n == 0 else scipy.stats.binomtest(min(b, c), n, 0.5).pvalue
        mcnemar.append({"b": b, "c": c, "p_value": pv})

    # DeLong on the fixture's two models (and a synthetic tied pair)
    fx = os.path.join(HERE, "binary-breast-cancer")
    hold = np.genfromtxt(os.path.join(fx, "holdout.csv"), delimiter=",", names=True)
    yb = hold["target"]
    pc = np.genfromtxt(os.path.join(fx, "predictions-candidate.csv"), delimiter=",", names=True)["score"]
    pp = np.genfromtxt(os.path.join(fx, "predictions-production.csv"), delimiter=",", names=True)["score"]
    d1 = delong(yb, pc, pp)
    q1 = np.round(rng.random(200) * 0.6 + 0.4 * y, 1)
    d2 = delong(y, p, q1)
    d2.update({"y": y.tolist(), "p1": p.tolist(), "p2": q1.tolist()})

    out = {"produced_with": {"scikit-learn": sklearn.__version__, "scipy": scipy.__version__,
                             "numpy": np.__version__, "xgboost": xgb.__version__},
           "binary": cases, "multiclass": multi, "regression": reg,
           "mcnemar": mcnemar, "delong_fixture": d1, "delong_ties": d2}
    with open(os.path.join(HERE, "metrics-extra-oracle.json"), "w") as f:
        json.dump(out, f, indent=1, default=float)

    # XGBoost models with missing values and other objectives.
    xdir = os.path.join(HERE, "xgb-extra")
    os.makedirs(xdir, exist_ok=True)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.25] = np.nan  # missing values: trees learn default directions
    names = ["a", "b", "c", "d", "e"]
    lin = np.nan_to_num(X[:, 0]) * 1.5 - np.nan_to_num(X[:, 1]) + np.isnan(X[:, 2]) * 2.0
    models = {
        "binary-missing": ("binary:logistic", (lin + rng.normal(size=400) > 0).astype(int), {}),
        "reglogistic": ("reg:logistic", 1 / (1 + np.exp(-lin)), {"base_score": 0.3}),
        "poisson": ("count:poisson", rng.poisson(np.exp(0.3 * np.nan_to_num(lin))), {}),
        "gamma": ("reg:gamma", np.exp(0.2 * np.nan_to_num(lin)) + 0.1, {}),
        "softmax": ("multi:softmax", np.digitize(lin, [-1, 1]), {"num_class": 3}),
        "squared-base": ("reg:squarederror", lin * 10 + 50, {"base_score": 42.0}),
        "dart": ("binary:logistic", (lin > 0).astype(int), {"booster": "dart", "rate_drop": 0.3}),
    }
    header = ",".join(names)
    with open(os.path.join(xdir, "input.csv"), "w") as f:
        f.write(header + "\n")
        for row in X:
            f.write(",".join("" if np.isnan(v) else "%.9g" % v for v in row) + "\n")
    for name, (obj, target, extra) in models.items():
        params = {"objective": obj, "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 1}
        params.update(extra)
        d = xgb.DMatrix(X, label=target, feature_names=names, missing=np.nan)
        bst = xgb.train(params, d, num_boost_round=12)
        bst.save_model(os.path.join(xdir, name + ".json"))
        # Predict from the data as written to input.csv (%.9g round-trips float32).
        if obj == "multi:softmax":
            bst.set_param({"objective": "multi:softprob"})
            pred = bst.predict(d).reshape(-1, 3)
        else:
            pred = bst.predict(d).reshape(-1, 1)
        with open(os.path.join(xdir, name + ".predictions.csv"), "w") as f:
            for row in pred:
                f.write(",".join("%.9g" % v for v in row) + "\n")


if __name__ == "__main__":
    main()
