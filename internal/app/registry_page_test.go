package app_test

import (
	"context"
	"html"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/store"
)

// TestRegistryPageShowsAPromotedVersion: the demo's candidate goes
// through every agent and two approvals on a real server and is promoted
// into the registry; the registry page of that server shows the version
// with the lineage the promotion recorded (digest, config and data
// digests, commit author, run, approvals) and the environment it serves.
func TestRegistryPageShowsAPromotedVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	dir := t.TempDir()
	tokens := auth.File{Tokens: []auth.Token{
		{Token: "rita-token-0123456789abcd", Name: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
		{Token: "sam-token-0123456789abcde", Name: "sam", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
	}}
	b, err := yaml.Marshal(tokens)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens.yaml"), b, 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := app.Build(ctx, app.Options{DataDir: filepath.Join(dir, "data"), TokensFile: filepath.Join(dir, "tokens.yaml"),
		NoDeploy: true, Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Start(ctx))
	web := httptest.NewServer(s.Handler)
	defer web.Close()

	example, err := filepath.Abs("demo/example")
	require.NoError(t, err)
	cfg, err := os.ReadFile(filepath.Join(example, "modelgate.yaml"))
	require.NoError(t, err)
	run, _, err := s.Coordinator.Submit(ctx, coordinator.SubmitParams{Config: cfg, BaseDir: example, Requester: "ci-bot", CommitAuthor: "dev-dana"})
	require.NoError(t, err)
	run, err = s.Coordinator.Wait(ctx, run.ID, true)
	require.NoError(t, err)
	require.Equal(t, store.RunAwaitingApproval, run.State, run.Error)
	as, err := s.Queue.List(ctx, store.ApprovalListParams{RunID: run.ID})
	require.NoError(t, err)
	require.Len(t, as, 1)
	for _, who := range []auth.Principal{{Subject: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
		{Subject: "sam", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}}} {
		_, err := s.Queue.Approve(ctx, as[0].ID, who, "reviewed")
		require.NoError(t, err)
	}
	run, err = s.Coordinator.Wait(ctx, run.ID, false)
	require.NoError(t, err)
	require.Equal(t, store.RunSucceeded, run.State, run.Error)
	p, err := s.Store.ProductionGet(ctx, run.Model, "production")
	require.NoError(t, err)
	v, err := s.Store.ModelVersionGet(ctx, run.Model, p.Version)
	require.NoError(t, err)
	require.NotNil(t, v.Lineage, "the promotion recorded lineage")
	require.NotEmpty(t, v.Lineage.Data, "the demo's data files were hashed")

	list := uiPage(t, web.URL, tokens.Tokens[0].Token, "/ui/models")
	require.Contains(t, list, "production: "+html.EscapeString(p.Version))

	page := uiPage(t, web.URL, tokens.Tokens[0].Token, "/ui/models/"+run.Model)
	want := []string{v.Digest, `href="/ui/runs/` + run.ID + `"`, v.Lineage.ConfigDigest, html.EscapeString(v.Lineage.CommitAuthor),
		`data-id="` + as[0].ID + `" data-state="approved"`, `<dd class="v-envs">production</dd>`}
	for role, d := range v.Lineage.Data {
		want = append(want, `data-role="`+role+`">`+role+`: <code>`+d+`</code>`)
	}
	for k, val := range v.Lineage.Evidence {
		if strings.HasPrefix(k, "evaluate.") {
			want = append(want, `data-name="`+k+`" data-value="`+exactNum(val)+`"`)
		}
	}
	require.Greater(t, len(want), 6+len(v.Lineage.Data), "the evaluation's evidence is checked too")
	for _, w := range want {
		require.Contains(t, page, w)
	}
}

func exactNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
