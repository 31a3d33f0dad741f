// Package drift compares a current dataset with a reference one, column by
// column, and decides whether the dataset as a whole has drifted.
//
// The test for each column follows Evidently's defaults, overridable per
// column: numeric columns use the two-sample Kolmogorov-Smirnov test
// (p < 0.05) when the reference has at most 1,000 rows and the Wasserstein
// distance normalised by the reference's standard deviation (>= 0.1)
// above that; categorical and boolean columns (and numeric columns with at
// most five distinct reference values) use a chi-square test of
// homogeneity (p < 0.05), or a two-proportion Z-test when there are two
// categories, at most 1,000 rows, and the Jensen-Shannon distance (>= 0.1)
// above. For numeric columns ks_statistic, ks_pvalue, wasserstein and psi
// are always reported whatever test decides. Timestamp columns are not
// tested (time always moves). Missing values are left out of every test
// and reported as null fractions.
//
// The dataset has drifted when the share of drifted columns reaches
// Options.Share (default 0.5). With Correction "bh", the p-values of the
// p-value tests are adjusted with Benjamini-Hochberg before they are
// compared with their thresholds.
//
// Compare works on in-memory frames; CompareStream reads two CSV files in
// one pass each with bounded memory, using KLL sketches (see
// stats.KLL for the error bound) and exact category counts.
package drift
