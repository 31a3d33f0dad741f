// Package stats holds the two-sample statistics that drift detection and
// the other agents share, written to agree with scipy 1.10 to the last few
// bits where scipy defines the number: ks_2samp (method="auto": exact
// distribution when both samples have at most 10,000 values, Smirnov's
// asymptotic kstwo otherwise, both ported from scipy), wasserstein_distance,
// chi2_contingency, a two-proportion Z-test, scipy.spatial.distance.jensenshannon,
// the population stability index and the Benjamini-Hochberg correction.
//
// It also holds the KLL quantile sketch used by the bounded-memory
// streaming mode; its error bound is stated on the type and tested.
//
// Functions that take samples expect them without NaN; sorted variants
// (suffix Sorted) skip the O(n log n) sort for callers that keep data sorted.
package stats
