package triggers_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

const hookSecret = "a-test-webhook-secret-0123456789"

// TestGitHubSignatureVector is GitHub's published example
// (docs: "Validating webhook deliveries").
func TestGitHubSignatureVector(t *testing.T) {
	t.Parallel()
	const sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	require.NoError(t, triggers.VerifyGitHubSignature("It's a Secret to Everybody", sig, []byte("Hello, World!")))
	for name, tc := range map[string]struct{ secret, sig, body string }{
		"other body":   {"It's a Secret to Everybody", sig, "Hello, World?"},
		"other secret": {"It's a secret to everybody", sig, "Hello, World!"},
		"sha1 form":    {"It's a Secret to Everybody", "sha1=757107ea0eb2509fc211221cce984b8a37570b6d", "Hello, World!"},
		"truncated":    {"It's a Secret to Everybody", sig[:40], "Hello, World!"},
		"missing":      {"It's a Secret to Everybody", "", "Hello, World!"},
	} {
		require.Error(t, triggers.VerifyGitHubSignature(tc.secret, tc.sig, []byte(tc.body)), name)
	}
}

type hookBundle struct {
	st    store.Store
	rec   *audittest.Recorder
	srv   *httptest.Server
	blobs *blob.FS
}

var hookPeople = []auth.Token{
	{Token: "dana-token-0123456789", Name: "dana", Roles: []string{"reviewer"}, GitHub: "dana-gh"},
	{Token: "pete-token-0123456789", Name: "pete", Roles: []string{"operator"}, GitHub: "pete-gh"},
}

func hookSetup(t *testing.T, secret string) *hookBundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	rec := &audittest.Recorder{}
	blobs, err := blob.NewFS(filepath.Join(dir, "blobs"))
	require.NoError(t, err)
	coord, err := coordinator.New(coordinator.Options{Store: st, Recorder: rec, DataDir: dir, Blobs: blobs})
	require.NoError(t, err)
	ids, err := auth.New(hookPeople)
	require.NoError(t, err)
	starter := &triggers.Starter{Store: st, Blobs: blobs, Submit: coord, InputsDir: filepath.Join(dir, "inputs")}
	h, err := triggers.NewGitHubHook(triggers.GitHubOptions{Secret: secret, Store: st, Starter: starter, Identities: ids, Recorder: rec, Logger: log.New(io.Discard)})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &hookBundle{st: st, rec: rec, srv: srv, blobs: blobs}
}

// register stores settings for model that retrain on changes under paths.
func (b *hookBundle) register(t *testing.T, model string, gh triggers.GitHub) {
	t.Helper()
	ctx := context.Background()
	files := map[string]string{}
	for name, body := range map[string]string{"train.csv": "a,target\n1,0\n2,1\n", "holdout.csv": "a,target\n1,0\n2,1\n"} {
		sum := sha256.Sum256([]byte(body))
		d := "sha256:" + hex.EncodeToString(sum[:])
		_, _, err := b.blobs.Put(ctx, blob.PutParams{Digest: d, Body: strings.NewReader(body)})
		require.NoError(t, err)
		files[name] = d
	}
	cfg := "model: " + model + "\ntask: binary\nlabel: target\ndata: {reference: train.csv, holdout: holdout.csv}\n" +
		"train: {command: [sh, -c, 'echo {} > {{.ArtifactDir}}/model.json'], artifact: model.json}\n"
	s := triggers.Settings{Pipeline: &triggers.Pipeline{Config: cfg, Files: files}, GitHub: &gh}
	require.NoError(t, s.Validate(ctx, model, b.blobs))
	require.NoError(t, triggers.Save(ctx, b.st, s))
}

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (b *hookBundle) deliver(t *testing.T, headers map[string]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", b.srv.URL, strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func pushBody(repo, branch, author string, files ...string) []byte {
	b, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/" + branch, "after": strings.Repeat("ab", 20),
		"repository": map[string]any{"full_name": repo, "default_branch": "main"},
		"sender":     map[string]any{"login": "pete-gh"},
		"head_commit": map[string]any{"id": strings.Repeat("ab", 20),
			"author": map[string]any{"name": "Dana D", "email": "dana@example.com", "username": author}},
		"commits": []map[string]any{{"id": strings.Repeat("ab", 20), "modified": files}},
	})
	return b
}

func headers(event, delivery string, body []byte, secret string) map[string]string {
	return map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sign(secret, body)}
}

func (b *hookBundle) runs(t *testing.T) []store.Run {
	t.Helper()
	runs, err := b.st.RunList(context.Background(), store.RunListParams{})
	require.NoError(t, err)
	return runs
}

// TestGitHubHookRefusals is every way a delivery is refused: status, code,
// the audit event, no run started, no secret in the answer.
func TestGitHubHookRefusals(t *testing.T) {
	t.Parallel()
	good := pushBody("acme/fraud", "main", "dana-gh", "train/model.py")
	cases := map[string]struct {
		secret  string // the server's; "" = not configured
		headers map[string]string
		body    []byte
		status  int
		code    string
		audited bool
	}{
		"not configured":    {secret: "", headers: headers("push", "d-1", good, hookSecret), body: good, status: 503, code: "github_not_configured", audited: true},
		"missing signature": {secret: hookSecret, headers: map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-2"}, body: good, status: 401, code: "bad_signature", audited: true},
		"wrong secret":      {secret: hookSecret, headers: headers("push", "d-3", good, "another-secret-entirely"), body: good, status: 401, code: "bad_signature", audited: true},
		"body changed":      {secret: hookSecret, headers: headers("push", "d-4", good, hookSecret), body: append([]byte(" "), good...), status: 401, code: "bad_signature", audited: true},
		"sha1 only":         {secret: hookSecret, headers: map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-5", "X-Hub-Signature": "sha1=00"}, body: good, status: 401, code: "bad_signature", audited: true},
		"no delivery id":    {secret: hookSecret, headers: headers("push", "", good, hookSecret), body: good, status: 400, code: "bad_delivery", audited: true},
		"unknown event":     {secret: hookSecret, headers: headers("issues", "d-6", good, hookSecret), body: good, status: 400, code: "unsupported_event", audited: true},
		"malformed payload": {secret: hookSecret, headers: headers("push", "d-7", []byte(`{"ref": 7}`), hookSecret), body: []byte(`{"ref": 7}`), status: 400, code: "bad_payload", audited: true},
		"not JSON":          {secret: hookSecret, headers: headers("push", "d-8", []byte(`ref=main`), hookSecret), body: []byte(`ref=main`), status: 400, code: "bad_payload", audited: true},
		"bad sha":           {secret: hookSecret, headers: headers("push", "d-9", []byte(`{"ref":"refs/heads/main","after":"zz","repository":{"full_name":"acme/fraud"}}`), hookSecret), body: []byte(`{"ref":"refs/heads/main","after":"zz","repository":{"full_name":"acme/fraud"}}`), status: 400, code: "bad_payload", audited: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := hookSetup(t, tc.secret)
			b.register(t, "fraud", triggers.GitHub{Repository: "acme/fraud", Paths: []string{"train/"}})
			status, body := b.deliver(t, tc.headers, tc.body)
			require.Equal(t, tc.status, status, body)
			require.Contains(t, body, `"code":"`+tc.code+`"`)
			require.NotContains(t, body, hookSecret)
			require.Empty(t, b.runs(t), "a refused delivery started a run")
			require.Equal(t, tc.audited, b.rec.Has(triggers.EventGitHubRefused), "audited: %v", b.rec.Types())
			for _, e := range b.rec.OfType(triggers.EventGitHubRefused) {
				raw, _ := json.Marshal(e.Data)
				require.NotContains(t, string(raw), hookSecret)
			}
		})
	}
}

// TestGitHubHookStartsOnlyMatchingModels: a push that changes training
// code of one model starts that model's run, with the commit and its
// author as metadata; a replay of the delivery starts nothing more; a
// push that changes nothing registered, or another branch, starts nothing.
func TestGitHubHookStartsOnlyMatchingModels(t *testing.T) {
	t.Parallel()
	b := hookSetup(t, hookSecret)
	b.register(t, "fraud", triggers.GitHub{Repository: "acme/fraud", Paths: []string{"train/**/*.py"}})
	b.register(t, "churn", triggers.GitHub{Repository: "acme/fraud", Paths: []string{"churn/"}})
	b.register(t, "other", triggers.GitHub{Repository: "acme/other", Paths: []string{"train/"}})

	body := pushBody("acme/fraud", "main", "dana-gh", "README.md", "train/features/encode.py")
	status, out := b.deliver(t, headers("push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", body, hookSecret), body)
	require.Equal(t, http.StatusAccepted, status, out)
	var resp triggers.HookResponse
	require.NoError(t, json.Unmarshal([]byte(out), &resp))
	require.Len(t, resp.Started, 1)
	require.Equal(t, "fraud", resp.Started[0].Model)
	runs := b.runs(t)
	require.Len(t, runs, 1)
	r := runs[0]
	require.Equal(t, "github", r.Trigger)
	require.Equal(t, "dana", r.CommitAuthor, "the author's login maps to their modelgate identity")
	require.Equal(t, "pete", r.Requester, "the pusher is the requester")
	require.Equal(t, strings.Repeat("ab", 20), r.Labels["commit.sha"])
	require.Equal(t, "dana-gh", r.Labels["commit.author"])
	require.True(t, b.rec.Has(triggers.EventGitHubTriggered))

	status, out = b.deliver(t, headers("push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", body, hookSecret), body)
	require.Equal(t, http.StatusConflict, status, out)
	require.Len(t, b.runs(t), 1, "a replayed delivery started another run")

	for i, tc := range []struct {
		event string
		body  []byte
		why   string
	}{
		{"push", pushBody("acme/fraud", "main", "dana-gh", "docs/index.md", "train/README.md"), "no model's registered training-code paths changed"},
		{"push", pushBody("acme/fraud", "feature-x", "dana-gh", "train/model.py"), "no model's registered"},
		{"push", []byte(`{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000","deleted":true,"repository":{"full_name":"acme/fraud"}}`), "the branch was deleted"},
		{"workflow_run", []byte(`{"action":"completed","repository":{"full_name":"acme/fraud"},"workflow_run":{"head_sha":"` + strings.Repeat("cd", 20) + `","head_branch":"main","conclusion":"failure","path":".github/workflows/train.yml"}}`), "concluded failure"},
		{"release", []byte(`{"action":"published","repository":{"full_name":"acme/fraud"},"release":{"tag_name":"v1","target_commitish":"main"}}`), "no model's registered"},
		{"ping", []byte(`{"zen":"Keep it logically awesome.","repository":{"full_name":"acme/fraud"}}`), "ping"},
	} {
		status, out := b.deliver(t, headers(tc.event, fmt.Sprintf("other-%d", i), tc.body, hookSecret), tc.body)
		require.Equal(t, http.StatusOK, status, out)
		require.Contains(t, out, tc.why)
	}
	require.Len(t, b.runs(t), 1, "an event that matched no model started a run")
	require.True(t, b.rec.Has(triggers.EventGitHubIgnored))
}

// TestGitHubHookWorkflowRunAndRelease: a successful workflow run of a
// registered workflow file and a published release (opted in) start runs.
func TestGitHubHookWorkflowRunAndRelease(t *testing.T) {
	t.Parallel()
	b := hookSetup(t, hookSecret)
	b.register(t, "fraud", triggers.GitHub{Repository: "acme/fraud", Paths: []string{".github/workflows/train.yml"},
		Events: []string{"workflow_run", "release"}})
	wr := []byte(`{"action":"completed","repository":{"full_name":"acme/fraud","default_branch":"main"},"sender":{"login":"x"},
	  "workflow_run":{"head_sha":"` + strings.Repeat("cd", 20) + `","head_branch":"main","conclusion":"success","path":".github/workflows/train.yml",
	  "actor":{"login":"pete-gh"},"head_commit":{"id":"x","author":{"name":"Dana D","email":"dana@example.com"}}}}`)
	status, out := b.deliver(t, headers("workflow_run", "wr-1", wr, hookSecret), wr)
	require.Equal(t, http.StatusAccepted, status, out)
	rel := []byte(`{"action":"published","repository":{"full_name":"acme/fraud"},"sender":{"login":"pete-gh"},
	  "release":{"tag_name":"v2.0.0","target_commitish":"` + strings.Repeat("ef", 20) + `","author":{"login":"dana-gh"}}}`)
	status, out = b.deliver(t, headers("release", "rel-1", rel, hookSecret), rel)
	require.Equal(t, http.StatusAccepted, status, out)
	runs := b.runs(t)
	require.Len(t, runs, 2)
	byEvent := map[string]store.Run{}
	for _, r := range runs {
		byEvent[r.Labels["github.event"]] = r
	}
	require.Equal(t, strings.Repeat("cd", 20), byEvent["workflow_run"].Labels["commit.sha"])
	require.Equal(t, "Dana D <dana@example.com>", byEvent["workflow_run"].CommitAuthor)
	require.Equal(t, "pete", byEvent["workflow_run"].Requester)
	require.Equal(t, "v2.0.0", byEvent["release"].Labels["github.ref"])
	require.Equal(t, "dana", byEvent["release"].CommitAuthor)
}

func TestGitHubPathGlobs(t *testing.T) {
	t.Parallel()
	g := triggers.GitHub{Paths: []string{"train/", "models/*/fit.py", "src/**/*.sql", "Makefile"}}
	for file, want := range map[string]bool{
		"train/x.py": true, "train/a/b/c": true, "training/x.py": false,
		"models/fraud/fit.py": true, "models/fraud/eval.py": false, "models/a/b/fit.py": false,
		"src/q.sql": true, "src/a/b/q.sql": true, "src/a/q.py": false,
		"Makefile": true, "sub/Makefile": false, "/train/x": true,
	} {
		require.Equal(t, want, g.Matches(file), file)
	}
	bad := triggers.Settings{GitHub: &triggers.GitHub{Repository: "acme/fraud", Paths: []string{"train/[x"}, Branches: []string{"["}}}
	err := bad.Validate(context.Background(), "fraud", nil)
	require.ErrorContains(t, err, "github.paths[0]")
	require.ErrorContains(t, err, "github.branches[0]")
}

// TestGitHubHookAcceptsThePublishedVector: over HTTP, GitHub's example
// signature gets past the signature check (the body is then refused as
// no push payload), and one changed hex digit does not.
func TestGitHubHookAcceptsThePublishedVector(t *testing.T) {
	t.Parallel()
	b := hookSetup(t, "It's a Secret to Everybody")
	const sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	status, out := b.deliver(t, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "v-1", "X-Hub-Signature-256": sig}, []byte("Hello, World!"))
	require.Equal(t, http.StatusBadRequest, status, out)
	require.Contains(t, out, "bad_payload")
	status, out = b.deliver(t, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "v-2", "X-Hub-Signature-256": sig[:len(sig)-1] + "f"}, []byte("Hello, World!"))
	require.Equal(t, http.StatusUnauthorized, status, out)
}
