package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunConfigProblemsAtOnce: every problem of a config is reported in
// one go, before any stage runs, naming its field, with exit 2; no
// knock-on problem follows from a mistyped task.
func TestRunConfigProblemsAtOnce(t *testing.T) {
	t.Setenv("MODELGATE_TOKEN", "")
	dir := t.TempDir()
	example, err := filepath.Abs("../../internal/app/demo/example")
	require.NoError(t, err)
	for _, f := range []string{"train.csv", "holdout.csv", "model-candidate.json"} {
		b, err := os.ReadFile(filepath.Join(example, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	cases := []struct {
		name    string
		config  string
		want    []string
		notWant []string
	}{
		{"unknown keys do not hide the rest",
			"model: m\ntask: binery\nfoo: 1\ndata: {reference: train.csv, holdout: holdout.csv, bar: 2}\ncandidate: {artifact: model-candidate.json}\n",
			[]string{"3 problem(s)", `task: must be one of`, `unknown key "foo"`, `unknown key "bar"`}, nil},
		{"no knock-on from a mistyped task",
			"model: m\ntask: binery\ndata: {reference: train.csv, holdout: holdout.csv}\ncandidate: {artifact: model-candidate.json}\nevaluation: {cost: {fn: 5, fp: 1}}\n",
			[]string{"1 problem(s)", "task:"}, []string{"evaluation.cost"}},
		{"a missing holdout is named by its field",
			"model: m\ntask: binary\ndata: {reference: train.csv, holdout: nothere.csv}\ncandidate: {artifact: model-candidate.json}\n",
			[]string{"data.holdout:", "nothere.csv does not exist"}, []string{"stage"}},
		{"a label column absent from the holdout",
			"model: m\ntask: binary\nlabel: outcome\ndata: {reference: train.csv, holdout: holdout.csv}\ncandidate: {artifact: model-candidate.json}\n",
			[]string{`label: column "outcome" is not in data.holdout`}, []string{"stage"}},
		{"both at once",
			"model: m\ntask: binary\nlabel: outcome\ndata: {reference: train.csv, holdout: holdout.csv}\ncandidate: {artifact: gone.json}\n",
			[]string{"2 problem(s)", "candidate.artifact:", "label:"}, nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := write("c"+string(rune('a'+i))+".yaml", tc.config)
			code, _, stderr := cli("run", "-f", path, "--local")
			require.Equal(t, 2, code, stderr)
			for _, w := range tc.want {
				require.Contains(t, stderr, w)
			}
			for _, w := range tc.notWant {
				require.NotContains(t, stderr, w)
			}
		})
	}
}

// TestForbiddenExitsThree: a request the server's policy refuses exits
// with its own code, so a CI job can tell it from a failed model (1) and
// from bad input (2).
func TestForbiddenExitsThree(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"ci may not cancel runs"}}`))
	}))
	defer srv.Close()
	cases := []struct {
		name string
		args []string
	}{
		{"runs cancel", []string{"runs", "cancel", "0123456789abcdef0123456789abcdef", "--server", srv.URL, "--token", "t"}},
		{"runs list", []string{"runs", "list", "--server", srv.URL, "--token", "t"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(tc.args...)
			require.Equal(t, 3, code, stderr)
			require.Contains(t, stderr, "ci may not cancel runs")
		})
	}
}
