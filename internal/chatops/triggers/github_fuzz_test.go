package triggers

import (
	"strings"
	"testing"
)

// FuzzParseGitHubEvent: whatever a signed delivery carries, the parser
// returns an event or an error, never panics, and an event it accepts
// names a repository as owner/name and, when it would start a run, a
// commit.
func FuzzParseGitHubEvent(f *testing.F) {
	sha := strings.Repeat("ab", 20)
	for _, s := range []struct{ event, body string }{
		{"push", `{"ref":"refs/heads/main","after":"` + sha + `","repository":{"full_name":"acme/fraud","default_branch":"main"},"head_commit":{"author":{"name":"D","email":"d@x","username":"d"}},"commits":[{"added":["train/a.py"],"modified":["b"],"removed":[]}]}`},
		{"push", `{"ref":"refs/tags/v1","after":"` + sha + `","repository":{"full_name":"acme/fraud"}}`},
		{"push", `{"ref":"refs/heads/x","deleted":true,"after":"0000000000000000000000000000000000000000","repository":{"full_name":"a/b"}}`},
		{"workflow_run", `{"action":"completed","repository":{"full_name":"a/b"},"workflow_run":{"head_sha":"` + sha + `","head_branch":"main","conclusion":"success","path":".github/workflows/t.yml"}}`},
		{"release", `{"action":"published","repository":{"full_name":"a/b"},"release":{"tag_name":"v1","target_commitish":"main","author":{"login":"x"}}}`},
		{"ping", `{"zen":"z"}`},
		{"issues", `{}`},
		{"push", `{"ref":7}`},
		{"push", `[]`},
		{"push", `{} {}`},
	} {
		f.Add(s.event, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		e, err := ParseGitHubEvent(event, body)
		if err != nil {
			return
		}
		if e.Kind != GitHubPing && !repoName.MatchString(e.Repository) {
			t.Fatalf("accepted repository %q", e.Repository)
		}
		if e.Kind == GitHubPush && e.Skip == "" && !shaPattern.MatchString(e.SHA) {
			t.Fatalf("accepted push without a commit: %q", e.SHA)
		}
		if len(e.Files) > maxGitHubFiles {
			t.Fatalf("%d files", len(e.Files))
		}
		_ = e.Author()
		_, _ = GitHub{Repository: e.Repository, Paths: []string{"train/**"}}.MatchGitHub(e)
	})
}
