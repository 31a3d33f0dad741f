// Package stats holds every two-sample statistic modelgate computes, once, written to agree with scipy 1.10.
//
// # Tests
//
// Where scipy defines the number the result agrees to its last few bits:
// ks_2samp (method="auto": exact distribution when both samples have at
// most 10,000 values, Smirnov's asymptotic kstwo otherwise, both ported
// from scipy), wasserstein_distance, chi2_contingency, a two-proportion
// Z-test, scipy.spatial.distance.jensenshannon, mannwhitneyu (asymptotic,
// tie- and continuity-corrected, with the rank-biserial effect size) and
// the Benjamini-Hochberg correction. Drift detection (tools/drift) and the
// rollout's canary checks (agents/deployment) call the same functions, so
// a KS p-value means the same thing in both.
//
// # Population stability index
//
// Two binnings, because the two callers need different ones: PSISorted
// cuts at the reference's deciles (drift of a feature against training
// data); PSIEqualWidth uses Evidently's equal-width bins over both
// samples' joint range (model scores, which a small tree ensemble spreads
// over few distinct values).
//
// # Sketches
//
// The KLL quantile sketch serves the bounded-memory streaming mode; its
// error bound is stated on the type and tested.
//
// Functions that take samples expect them without NaN; sorted variants
// (suffix Sorted) skip the O(n log n) sort for callers that keep data sorted.
package stats
