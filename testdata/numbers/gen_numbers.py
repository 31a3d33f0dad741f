#!/usr/bin/python3
"""Oracles for issue 14 (XGBoost's missing value and best_iteration,
log_loss on float64 scores, overflow-safe regression metrics, pandas'
number parsing).

Run with Debian's python (xgboost 1.7.4, scikit-learn 1.2.1, pandas 1.5.3):
    /usr/bin/python3 testdata/numbers/gen_numbers.py
It writes next to itself:
  input.csv                 features with zeros and -999 sentinels (no empty fields)
  sk-missing0.json          XGBClassifier(missing=0.0): records "missing": 0.0
  sk-missing0.predictions.csv   its predict_proba[:,1]
  train-missing999.json     xgb.train on DMatrix(missing=-999): records nothing
  train-missing999.predictions.csv  predict on DMatrix(missing=-999)
  early.json                XGBClassifier with early stopping: records best_iteration
  early.predictions.csv     predict_proba[:,1] (trees up to best_iteration)
  early.alltrees.csv        predict_proba with iteration_range=(0, all rounds)
  early-multi.json / early-multi.predictions.csv / early-multi.alltrees.csv: the same, 3 classes
  numbers-oracle.json       log_loss on hard 0/1 scores read from text (float64),
                            rmse/mae/r2/mape near 1e300, pandas' parse of inf/1e400/spaces
  parse.csv                 the file pandas parsed for numbers-oracle.json
"""
import io
import json
import os

import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from sklearn import metrics as skm

HERE = os.path.dirname(os.path.abspath(__file__))


def write_preds(path, pred):
    with open(os.path.join(HERE, path), "w") as f:
        for row in np.asarray(pred).reshape(len(pred), -1):
            f.write(",".join("%.9g" % v for v in row) + "\n")


def main():
    rng = np.random.default_rng(14)
    n = 300
    names = ["a", "b", "c", "d"]
    X = rng.normal(size=(n, 4)).astype(np.float32)
    # Zeros mean "missing" to a model trained with missing=0.0; -999 is
    # the sentinel of the xgb.train model.
    zero = rng.random(X.shape) < 0.3
    X[zero] = 0.0
    lin = X[:, 0] * 1.5 - X[:, 1] + (X[:, 2] == 0) * 2.0
    y = (lin + rng.normal(size=n) * 0.5 > 0).astype(int)
    X999 = X.copy()
    X999[zero] = -999.0
    with open(os.path.join(HERE, "input.csv"), "w") as f:
        f.write(",".join(names + ["s999_" + c for c in names] + ["target"]) + "\n")
        for i in range(n):
            f.write(",".join(["%.9g" % v for v in X[i]] + ["%.9g" % v for v in X999[i]] + [str(y[i])]) + "\n")
    df = pd.DataFrame(X, columns=names)

    clf = xgb.XGBClassifier(n_estimators=10, max_depth=3, missing=0.0, n_jobs=1, random_state=1)
    clf.fit(df, y)
    clf.save_model(os.path.join(HERE, "sk-missing0.json"))
    write_preds("sk-missing0.predictions.csv", clf.predict_proba(df)[:, 1])

    d = xgb.DMatrix(X999, label=y, feature_names=["s999_" + c for c in names], missing=-999.0)
    bst = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1, "seed": 1}, d, num_boost_round=10)
    bst.save_model(os.path.join(HERE, "train-missing999.json"))
    write_preds("train-missing999.predictions.csv", bst.predict(d))

    # Early stopping: an eval set the model soon overfits.
    Xn = rng.normal(size=(n, 4)).astype(np.float32)
    yn = (Xn[:, 0] + rng.normal(size=n) * 1.5 > 0).astype(int)
    dn = pd.DataFrame(Xn, columns=names)
    es = xgb.XGBClassifier(n_estimators=60, max_depth=4, learning_rate=0.5, early_stopping_rounds=5,
                           n_jobs=1, random_state=1)
    es.fit(dn[:200], yn[:200], eval_set=[(dn[200:], yn[200:])], verbose=False)
    es.save_model(os.path.join(HERE, "early.json"))
    assert es.best_iteration + 1 < es.get_booster().num_boosted_rounds()
    write_preds("early.predictions.csv", es.predict_proba(dn)[:, 1])
    write_preds("early.alltrees.csv", es.predict_proba(dn, iteration_range=(0, es.get_booster().num_boosted_rounds()))[:, 1])
    with open(os.path.join(HERE, "early-input.csv"), "w") as f:
        f.write(",".join(names) + "\n")
        for row in Xn:
            f.write(",".join("%.9g" % v for v in row) + "\n")

    ym = np.digitize(Xn[:, 0] + rng.normal(size=n), [-0.5, 0.5])
    em = xgb.XGBClassifier(n_estimators=60, max_depth=4, learning_rate=0.5, early_stopping_rounds=5,
                           n_jobs=1, random_state=1)
    em.fit(dn[:200], ym[:200], eval_set=[(dn[200:], ym[200:])], verbose=False)
    em.save_model(os.path.join(HERE, "early-multi.json"))
    assert em.best_iteration + 1 < em.get_booster().num_boosted_rounds()
    write_preds("early-multi.predictions.csv", em.predict_proba(dn))
    write_preds("early-multi.alltrees.csv", em.predict_proba(dn, iteration_range=(0, em.get_booster().num_boosted_rounds())))

    # log_loss of hard 0/1 scores as pandas reads them from text (float64).
    yh = [0, 1, 1, 0, 1, 0, 0, 1, 1, 1]
    ph = "score\n" + "\n".join(["0", "1", "0", "0", "1", "1", "0", "1", "1", "0"]) + "\n"
    p = pd.read_csv(io.StringIO(ph))["score"].to_numpy(dtype=np.float64)
    hard = {"y": yh, "p": p.tolist(), "log_loss": skm.log_loss(yh, p)}

    # Regression near 1e300: numpy's sums overflow, so sklearn is run on
    # the values scaled by an exact power of two and rmse/mae scaled back.
    yr = rng.uniform(-1, 1, 50) * 1e300
    pr = yr + rng.normal(size=50) * 3e299
    s = 2.0 ** -990
    reg = {"y": yr.tolist(), "p": pr.tolist(),
           "rmse": skm.mean_squared_error(yr * s, pr * s, squared=False) / s,
           "mae": skm.mean_absolute_error(yr * s, pr * s) / s,
           "r2": skm.r2_score(yr * s, pr * s),
           "mape": skm.mean_absolute_percentage_error(yr, pr)}

    # pandas (C parser) reads inf, -inf, Infinity and values with spaces
    # around them as float64. It leaves 1e400 as text; numpy's float
    # conversion (strtod) overflows it to inf, and that is the rule here.
    text = "x,y\ninf,1\n-inf,2\n 3.5,4\n2.5 ,5\n+inf,7\n-Infinity,8\nInf,9\n"
    with open(os.path.join(HERE, "parse.csv"), "w") as f:
        f.write(text)
    df = pd.read_csv(os.path.join(HERE, "parse.csv"))
    assert df["x"].dtype == np.float64, df["x"].dtype
    overflow = ["1e400", "-1e400", "+1e400", "1e-400"]
    parse = {"x": [repr(float(v)) for v in df["x"]], "y": df["y"].tolist(),
             "overflow_text": overflow,
             "overflow": [repr(float(v)) for v in np.array(overflow).astype(np.float64)]}

    out = {"produced_with": {"scikit-learn": sklearn.__version__, "pandas": pd.__version__,
                             "numpy": np.__version__, "xgboost": xgb.__version__},
           "early_best_iteration": es.best_iteration, "early_rounds": es.get_booster().num_boosted_rounds(),
           "early_multi_best_iteration": em.best_iteration,
           "hard_log_loss": hard, "regression_1e300": reg, "parse": parse}
    with open(os.path.join(HERE, "numbers-oracle.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
