package demo_test

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkReadme holds the README's account of the demo to what the demo
// printed: the figures a newcomer reads before running it are the ones
// they will see.
func checkReadme(t *testing.T, printed string) {
	t.Helper()
	b, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	readme := string(b)
	find := func(text, pattern, what string) []string {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(text)
		require.NotNil(t, m, "%s: no match for %q", what, pattern)
		return m[1:]
	}
	num := func(s string) float64 {
		t.Helper()
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		return v
	}

	// v2's evaluation: exact, the holdout and models are fixed
	rq := find(readme, `roc_auc (\d\.\d+) vs (\d\.\d+), with a bootstrap interval`, "README v2 roc_auc")
	pr := find(printed, `Candidate roc_auc (\d\.\d+) vs (\d\.\d+) for production v1`, "demo v2 roc_auc")
	require.Equal(t, rq, pr, "README's v2 roc_auc figures")

	// v2's shadow agreement: about the README's figure
	ra := num(find(readme, `\(about (\d+) % agreement\s+with v1\)`, "README v2 agreement")[0])
	pa := num(find(printed, `shadow agreement (\d+(?:\.\d+)?)% over`, "demo v2 agreement")[0])
	require.LessOrEqual(t, math.Abs(ra-pa), 1.5, "README says about %g %%, the demo printed %g %%", ra, pa)

	// v2's canary steps: exact
	rs := find(readme, `canary (5 → 25 → 50 → 100) %, promoted`, "README canary steps")[0]
	ps := find(printed, `canary (5%→25%→50%→100%)`, "demo canary steps")[0]
	require.Equal(t, regexp.MustCompile(`[ %]`).ReplaceAllString(rs, ""), regexp.MustCompile(`%`).ReplaceAllString(ps, ""))

	// v3's shadow agreement: inside the README's range, and the
	// threshold it names is the one the rollback cites
	rr := find(readme, `measures (\d+)–(\d+) % agreement with production \(below the (\d+) %`, "README v3 agreement")
	pb := find(printed, `agreement (0\.\d+) is below the minimum (0\.\d+)`, "demo v3 agreement")
	got := 100 * num(pb[0])
	require.GreaterOrEqual(t, got, num(rr[0]), "README's v3 range")
	require.LessOrEqual(t, got, num(rr[1]), "README's v3 range")
	require.InDelta(t, num(rr[2]), 100*num(pb[1]), 1e-9, "README's v3 threshold")
}
