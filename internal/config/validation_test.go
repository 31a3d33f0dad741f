package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidationAndTestsConfig(t *testing.T) {
	t.Parallel()
	const head = "model: m\ntask: binary\ncandidate: {artifact: m.json}\n"
	p, err := Parse("ok.yaml", []byte(head+`validation:
  drift: {correction: bh, tests: {amount: {test: psi, threshold: 0.2}}, exclude: [id]}
tests:
  cases: [{name: c1, input: {x: 1}, class: 1}]
  invariance: [{name: inv, feature: x, delta: 0.5}]
  directional: [{name: dir, feature: x, delta: 1}]
`))
	require.NoError(t, err)
	require.Equal(t, 0.5, p.Validation.Drift.Share)
	require.Equal(t, ByteSize(256<<20), p.Validation.Drift.Memory)
	require.Equal(t, 500, p.Tests.Rows)
	require.Equal(t, 10*time.Millisecond, p.Tests.Sanity.MaxLatencyPerRow.Duration)
	require.Equal(t, 0.05, p.Tests.Invariance[0].Epsilon)
	require.Equal(t, "increase", p.Tests.Directional[0].Direction)
	require.Equal(t, "median", p.Tests.Cases[0].Fill)

	tests := []struct{ yaml, field string }{
		{"validation: {drift: {share: 2}}", "validation.drift.share"},
		{"validation: {drift: {correction: holm}}", "validation.drift.correction"},
		{"validation: {drift: {tests: {a: {test: magic}}}}", "validation.drift.tests.a.test"},
		{"tests: {cases: [{name: c, input: {x: 1}}]}", "tests.cases[0]"},
		{"tests: {cases: [{name: c, input: {}, min: 1}]}", "tests.cases[0].input"},
		{"tests: {invariance: [{name: i, feature: x}]}", "tests.invariance[0].delta"},
		{"tests: {directional: [{name: d, feature: x, delta: 1, direction: up}]}", "tests.directional[0].direction"},
		{"tests: {invariance: [{name: a, feature: x, delta: 1}], directional: [{name: a, feature: x, delta: 1}]}", "tests.directional[0].name"},
		{"tests: {sanity: {threshold: 1.5}}", "tests.sanity.threshold"},
		{"tests: {cases: [{name: c, input: {x: 1}, class: 1, colour: red}]}", "tests.cases[0].colour"},
	}
	for _, tt := range tests {
		_, err := Parse("bad.yaml", []byte(head+tt.yaml+"\n"))
		require.Error(t, err, tt.yaml)
		require.Contains(t, err.Error(), tt.field, tt.yaml)
	}
}
