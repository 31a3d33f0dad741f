package prompts

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestRenderedPromptsMatchGolden(t *testing.T) {
	t.Parallel()
	ev := []Line{
		{ID: "change:candidate", Text: "candidate 2026-12-01 (sha256:ab12cd34ef56) replaces production 2026-11-01"},
		{ID: "policy:decision", Text: "policy decision: approval required, risk high, 1 approval(s) from ml-reviewers"},
		{ID: "metric:roc_auc", Text: "roc_auc candidate 0.9312, production 0.9401, delta -0.0089 (95% CI -0.0141 to -0.0037)"},
		{ID: "drift:amount", Text: "column amount drifted: psi 0.3121"},
	}
	for _, tc := range []struct {
		name string
		data any
	}{
		{"brief", BriefData{RunID: "r-1", Model: "fraud-detector", Environment: "production", State: "awaiting_approval", Evidence: ev}},
		{"triage", TriageData{RunID: "r-2", Model: "fraud-detector", Environment: "production", State: "rolled_back", Reason: "error_rate above 0.01 in 2 windows", MaxCalls: 6, Evidence: ev}},
		{"ask", AskData{Text: "roll fraud-detector in prod back to last week's version", Today: "2026-12-07", Models: []string{"fraud-detector", "recommender"}, Environments: []string{"production", "staging"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := Render(tc.name, tc.data)
			require.NoError(t, err)
			require.Equal(t, tc.name+"@v1", r.ID)
			got := "# " + r.ID + "\n## system\n" + r.System + "\n## user\n" + r.User + "\n"
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./prompts -update to create it")
			require.Equal(t, string(want), got)
		})
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	_, err := Render("nope", nil)
	require.ErrorContains(t, err, `no prompt named "nope"`)
	_, err = Render("brief", struct{}{}) // a field the template needs is missing
	require.ErrorContains(t, err, "render prompt brief")
	require.Equal(t, "", ID("nope"))
	for _, bad := range []string{"brief.tmpl", "brief.x1.tmpl", "brief.v0.tmpl", "a.b.v1.tmpl"} {
		_, _, err := parseName(bad)
		require.Error(t, err, bad)
	}
}
