#!/usr/bin/python3
"""Peer of `evalbench -mode read`: pandas.read_csv of the whole file.
With --digest it also prints, per numeric column, the SHA-256 of the
float64 values (missing as numpy's NaN) as evalbench does; the digest is
computed after the read, and the timed runs do not pass --digest."""
import hashlib
import sys
import time

import numpy as np
import pandas as pd

path = sys.argv[1]
prec = None
if "--round-trip" in sys.argv:
    prec = "round_trip"  # correctly rounded, as strconv.ParseFloat
t0 = time.perf_counter()
df = pd.read_csv(path, float_precision=prec)
print("read_s %.3f" % (time.perf_counter() - t0))
if "--digest" in sys.argv:
    for name in df.columns:
        col = df[name]
        if not np.issubdtype(col.dtype, np.number):
            continue
        a = col.to_numpy(dtype=np.float64).copy()
        a[np.isnan(a)] = np.nan
        print(name, hashlib.sha256(a.astype("<f8").tobytes()).hexdigest()[:16])
    print("rows", len(df))
