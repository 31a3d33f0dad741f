package ui_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/pipeline"
	"github.com/modelgate/modelgate/internal/store"
)

// TestReportFilesServeOnlyWhatWasRecorded: a run's evaluation.html is
// served to a signed-in reader from the path its stored report names,
// only while its bytes have the recorded digest, and under a CSP that
// runs none of its scripts; the URL picks no path.
func TestReportFilesServeOnlyWhatWasRecorded(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	page := []byte("<html><body><h1>evaluation</h1><script>alert(1)</script></body></html>")
	path := filepath.Join(dir, "evaluation.html")
	require.NoError(t, os.WriteFile(path, page, 0o644))
	sum := sha256.Sum256(page)
	put := func(a pipeline.ArtifactRef) {
		rep, err := json.Marshal(pipeline.Report{Agent: "evaluation", Verdict: pipeline.Pass, Summary: "ok", Artifacts: []pipeline.ArtifactRef{a}})
		require.NoError(t, err)
		require.NoError(t, f.st.StagePut(ctx, store.Stage{RunID: f.run.ID, Name: "evaluate", State: store.StageSucceeded, Attempt: 1, Verdict: "pass", Report: rep}))
	}
	put(pipeline.ArtifactRef{Name: "evaluation report", Path: path, SHA256: hex.EncodeToString(sum[:]), MediaType: "text/html"})

	c := client(t)
	base := f.srv.URL + "/ui/runs/" + f.run.ID + "/reports/"
	_, body := get(t, c, base+"evaluate/evaluation.html")
	require.NotContains(t, body, "<h1>evaluation</h1>", "not without signing in (the sign-in page instead)")

	login(t, f, c, "reviewer-token")
	resp, err := c.Get(base + "evaluate/evaluation.html")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox")
	_, body = get(t, c, base+"evaluate/evaluation.html")
	require.Contains(t, body, "<h1>evaluation</h1>", "the recorded bytes, as they were")

	for name, url := range map[string]string{
		"a file that is not a report": "evaluate/tokens.yaml",
		"a path in the URL":           "evaluate/..%2F..%2Fetc%2Fpasswd",
		"a stage without that report": "validate/evaluation.html",
	} {
		status, _ := get(t, c, base+url)
		require.Equal(t, 404, status, name)
	}
	// In order: each step changes what the next one finds.
	for _, step := range []struct {
		name   string
		change func()
		status int
	}{
		{"changed on disk since", func() { require.NoError(t, os.WriteFile(path, []byte("<h1>other</h1>"), 0o644)) }, 409},
		{"recorded without a digest", func() { put(pipeline.ArtifactRef{Path: path, MediaType: "text/html"}) }, 409},
		{"gone from the server", func() { require.NoError(t, os.Remove(path)) }, 410},
	} {
		step.change()
		status, _ := get(t, c, base+"evaluate/evaluation.html")
		require.Equal(t, step.status, status, step.name)
	}
}
