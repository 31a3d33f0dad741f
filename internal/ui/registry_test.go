package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
)

// hostileModel is a model name that is markup; model names reach the
// store from pipeline files and API calls, so the page must treat them
// as text.
const hostileModel = `evil<b>"'&x`

// registryTokens adds, to the reviewer, the weakest token there is for
// reading: a worker's, which has no "read" at all.
var registryTokens = map[string]auth.Principal{
	"reviewer-token": tokens["reviewer-token"],
	"worker-token":   {Subject: "wendy", Roles: []string{"worker"}},
}

var registryIdentities = identities{
	authenticate: func(tok string) (auth.Principal, bool) { p, ok := registryTokens[tok]; return p, ok },
	identify: func(sub string) (auth.Principal, bool) {
		for _, p := range registryTokens {
			if p.Subject == sub {
				return p, true
			}
		}
		return auth.Principal{}, false
	},
}

// registered is what a registry fixture stored: two versions of the
// fixture's model (v6 with lineage as a training run records it, v7 with
// the lineage release.LineageOf gathers from the fixture's run after its
// approval) and one version of a model whose name is markup.
type registered struct {
	*fixture
	v6, v7, evil store.ModelVersion
}

const v6Digest = "sha256:0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"

func setupRegistry(t *testing.T) *registered {
	t.Helper()
	ctx := context.Background()
	f := setupWith(t, registryIdentities)
	// The approval is decided through the real queue, so v7's lineage
	// carries a real vote.
	_, err := f.q.Approve(ctx, f.approval.ID, registryTokens["reviewer-token"], "looks fine")
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Second)
	v6 := store.ModelVersion{Model: "fraud-detector", Version: "v6", Digest: v6Digest, RunID: "run-v6",
		CreatedAt: now.Add(-2 * time.Hour),
		Metrics:   map[string]float64{"roc_auc": 0.951, "log_loss": 0.15},
		Lineage: &store.Lineage{
			Data:         map[string]string{"reference": "sha256:aa11", "holdout": "sha256:bb22"},
			ConfigDigest: "sha256:cc33", Commit: "4f2a9c1", CommitAuthor: "Dana Dev <dana@example.com>",
			Requester: "ci-bot", Trigger: "github",
			Command:   []string{"python3", "train.py", "--out", hostileName},
			Env:       map[string]string{"SEED": "7", "API_KEY": "***", "NOTE": hostileName},
			Toolchain: map[string]string{"go": "go1.26.0", "sandbox": "bwrap"},
			Approvals: []store.LineageApproval{{ID: "apr-old", State: "approved", Risk: "high",
				Votes: []store.Vote{{Reviewer: "rita", Decision: "approve", Comment: hostileName, At: now.Add(-3 * time.Hour)}}}},
			Evidence: map[string]float64{"evaluate.candidate.roc_auc": 0.951, "evaluate.candidate.log_loss": 0.15, "train.seconds": 41},
		}}
	require.NoError(t, f.st.ModelVersionPut(ctx, v6))
	l7, err := release.LineageOf(ctx, f.st, f.run.ID)
	require.NoError(t, err)
	require.NotEmpty(t, l7.Evidence, "the fixture's stages give v7 evidence")
	require.NotEmpty(t, l7.Approvals, "and its approval")
	v7 := store.ModelVersion{Model: "fraud-detector", Version: "v7", Digest: digest, RunID: f.run.ID, CreatedAt: now.Add(-time.Hour),
		Metrics: map[string]float64{"roc_auc": 0.962, "log_loss": 0.12}, Lineage: l7}
	require.NoError(t, f.st.ModelVersionPut(ctx, v7))
	evil := store.ModelVersion{Model: hostileModel, Version: "1", Digest: v6Digest, CreatedAt: now}
	require.NoError(t, f.st.ModelVersionPut(ctx, evil))

	desc := "Retrained on November. " + hostileName
	_, err = f.st.ModelVersionAnnotate(ctx, store.ModelVersionAnnotateParams{Model: "fraud-detector", Version: "v6", Description: &desc,
		SetTags: map[string]string{"team": "fraud", "note": hostileName}})
	require.NoError(t, err)
	_, err = f.st.ModelVersionAnnotate(ctx, store.ModelVersionAnnotateParams{Model: hostileModel, Version: "1", Description: &desc})
	require.NoError(t, err)
	for _, a := range []store.AliasSetParams{{Model: "fraud-detector", Name: "champion", Version: "v6", Actor: "olga"},
		{Model: "fraud-detector", Name: "challenger", Version: "v7", Actor: "olga", Reason: hostileName}} {
		_, err := f.st.AliasSet(ctx, a)
		require.NoError(t, err)
	}
	for _, p := range []store.ProductionSetParams{{Model: "fraud-detector", Environment: "production", Version: "v6"},
		{Model: "fraud-detector", Environment: "staging", Version: "v7", RunID: f.run.ID}} {
		_, err := f.st.ProductionSet(ctx, p)
		require.NoError(t, err)
	}
	// What the pages must show is what the store returns, not what the
	// test put: read the versions back.
	r := &registered{fixture: f}
	for _, p := range []struct {
		dst            *store.ModelVersion
		model, version string
	}{{&r.v6, "fraud-detector", "v6"}, {&r.v7, "fraud-detector", "v7"}, {&r.evil, hostileModel, "1"}} {
		*p.dst, err = f.st.ModelVersionGet(ctx, p.model, p.version)
		require.NoError(t, err)
	}
	return r
}

func modelPath(name string) string { return "/ui/models/" + url.PathEscape(name) }

// TestRegistryPagesRefuseWithoutRead: a visitor without a session is
// sent to sign in and a worker token (no "read") is refused, on every
// registry page, for a model that exists and for one that does not (so
// the answer does not tell which exist); neither sees a digest, a
// version or a description.
func TestRegistryPagesRefuseWithoutRead(t *testing.T) {
	t.Parallel()
	r := setupRegistry(t)
	paths := []string{"/ui/models", modelPath("fraud-detector"), modelPath("fraud-detector") + "/diff?a=v6&b=v7",
		modelPath("no-such-model"), modelPath(hostileModel)}
	anon := client(t)
	anon.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	worker := client(t)
	signIn(t, r.fixture, worker, "worker-token")
	for _, p := range paths {
		t.Run("anonymous "+p, func(t *testing.T) {
			status, body := get(t, anon, r.srv.URL+p)
			require.Equal(t, http.StatusSeeOther, status)
			// The redirect names the page asked for, which the visitor
			// sent; nothing else.
			require.Equal(t, "<a href=\"/ui/login?next="+url.QueryEscape(p)+"\">See Other</a>.\n\n", body)
		})
		t.Run("worker "+p, func(t *testing.T) {
			status, body := get(t, worker, r.srv.URL+p)
			require.Equal(t, http.StatusForbidden, status, body)
			requireNoRegistryData(t, r, body)
		})
	}
}

// TestRegistryListRefusesWithoutReadWhenEmpty: with no model registered
// the list still refuses a worker, so the answer says nothing of the
// registry, not even that it is empty.
func TestRegistryListRefusesWithoutReadWhenEmpty(t *testing.T) {
	t.Parallel()
	f := setupWith(t, registryIdentities)
	worker := client(t)
	signIn(t, f, worker, "worker-token")
	status, body := get(t, worker, f.srv.URL+"/ui/models")
	require.Equal(t, http.StatusForbidden, status)
	require.NotContains(t, body, "no-models")
	reader := client(t)
	signIn(t, f, reader, "reviewer-token")
	status, body = get(t, reader, f.srv.URL+"/ui/models")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `id="no-models"`)
}

func requireNoRegistryData(t *testing.T, r *registered, body string) {
	t.Helper()
	for _, s := range []string{r.v6.Digest, r.v7.Digest, "Retrained on November", "v6", "v7", "champion", "fraud-detector", "evil"} {
		require.NotContains(t, body, s)
	}
}

// TestRegistryPagesAnswers: what a reader gets for each page and each
// bad request, status and message.
func TestRegistryPagesAnswers(t *testing.T) {
	t.Parallel()
	r := setupRegistry(t)
	c := client(t)
	login(t, r.fixture, c, "reviewer-token")
	tests := []struct {
		name, path string
		status     int
		want       []string
	}{
		{"list", "/ui/models", 200, []string{`href="/ui/models/fraud-detector"`, "production: v6", "staging: v7", "champion → v6", "challenger → v7",
			`href="/ui/models/evil%3Cb%3E%22%27&amp;x"`}},
		{"model", modelPath("fraud-detector"), 200, []string{r.v6.Digest, r.v7.Digest, `href="/ui/runs/` + r.run.ID + `"`, "sha256:aa11", "4f2a9c1"}},
		{"diff", modelPath("fraud-detector") + "/diff?a=v6&b=v7", 200, []string{`id="diff-deltas"`, "data-field=\"digest\""}},
		{"unknown model", modelPath("no-such-model"), 404, []string{"no registered version"}},
		{"diff without b", modelPath("fraud-detector") + "/diff?a=v6", 400, []string{"b is missing"}},
		{"diff of an unknown version", modelPath("fraud-detector") + "/diff?a=v6&b=v99", 404, []string{`b: there is no version &#34;v99&#34;`}},
		{"diff across models is not possible", modelPath(hostileModel) + "/diff?a=1&b=v7", 404, []string{`b: there is no version &#34;v7&#34;`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(t, c, r.srv.URL+tc.path)
			require.Equal(t, tc.status, status, body)
			for _, w := range tc.want {
				require.Contains(t, body, w)
			}
		})
	}
}

// TestRegistryEscapesHostileStrings: a model name, tag values, a
// description, an alias reason, a command, an env value and a vote's
// comment that are markup reach the HTML only as text.
func TestRegistryEscapesHostileStrings(t *testing.T) {
	t.Parallel()
	r := setupRegistry(t)
	c := client(t)
	login(t, r.fixture, c, "reviewer-token")
	for _, p := range []string{"/ui/models", modelPath("fraud-detector"), modelPath(hostileModel), modelPath("fraud-detector") + "/diff?a=v6&b=v7"} {
		t.Run(p, func(t *testing.T) {
			status, body := get(t, c, r.srv.URL+p)
			require.Equal(t, http.StatusOK, status, body)
			require.NotContains(t, body, "<script>")
			require.NotContains(t, body, "<img")
			require.NotContains(t, body, "<b>")
			for _, tag := range tagsOf(t, body) {
				require.NotContains(t, []string{"script", "img", "b"}, tag.name, "no element from the hostile text")
				for _, a := range tag.attrs {
					require.False(t, strings.HasPrefix(a, "on"), "<%s> carries the handler %s", tag.name, a)
				}
			}
			require.True(t, strings.Contains(body, "&lt;script&gt;") || strings.Contains(body, "evil&lt;b&gt;"), "the hostile text is shown, escaped")
		})
	}
}

// tagRe is a start tag as html/template writes them (attribute values
// always double-quoted); attrRe one of its attributes.
var (
	tagRe  = regexp.MustCompile(`^<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:="[^"]*")?)*)\s*/?>`)
	attrRe = regexp.MustCompile(`\s+([^\s"'>/=]+)(?:="[^"]*")?`)
)

type tag struct {
	name  string
	attrs []string
}

// tagsOf lists every element of the page with its attribute names; a
// start tag that is not well-formed (an injected, unquoted attribute)
// fails the test.
func tagsOf(t *testing.T, body string) []tag {
	t.Helper()
	var out []tag
	for i := 0; i < len(body); i++ {
		if body[i] != '<' || i+1 == len(body) || !(body[i+1] >= 'a' && body[i+1] <= 'z' || body[i+1] >= 'A' && body[i+1] <= 'Z') {
			continue
		}
		m := tagRe.FindStringSubmatch(body[i:])
		require.NotNil(t, m, "malformed tag at %d: %.80s", i, body[i:])
		tg := tag{name: strings.ToLower(m[1])}
		for _, a := range attrRe.FindAllStringSubmatch(m[2], -1) {
			tg.attrs = append(tg.attrs, strings.ToLower(a[1]))
		}
		out = append(out, tg)
	}
	return out
}

// signIn signs in through the form whatever the landing page answers (a
// worker may read no page), and checks a session was started.
func signIn(t *testing.T, f *fixture, c *http.Client, token string) {
	t.Helper()
	_, body := get(t, c, f.srv.URL+"/ui/login")
	_, _ = post(t, c, f.srv.URL+"/ui/login", url.Values{"csrf": {csrfOf(t, body)}, "token": {token}, "next": {"/ui/models"}})
	u, err := url.Parse(f.srv.URL + "/ui/models")
	require.NoError(t, err)
	var ok bool
	for _, ck := range c.Jar.Cookies(u) {
		ok = ok || ck.Name == "modelgate_session"
	}
	require.True(t, ok, "signed in")
}
