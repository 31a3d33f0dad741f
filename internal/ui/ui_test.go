package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/approval"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/pipeline"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/internal/ui"
)

const digest = "sha256:5f2b1c0e9a8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b"

var tokens = map[string]auth.Principal{
	"reviewer-token": {Subject: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
	"ci-token":       {Subject: "ci-bot", Roles: []string{"ci"}},
	"author-token":   {Subject: "dana", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
}

type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Record(_ context.Context, typ, _, _ string, _ any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, typ)
	return nil
}

func (r *recorder) has(typ string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e == typ {
			return true
		}
	}
	return false
}

type fixture struct {
	srv      *httptest.Server
	st       store.Store
	q        *approval.Queue
	rec      *recorder
	run      store.Run
	approval store.Approval
}

// identities is how a fixture resolves tokens and session subjects.
type identities struct {
	authenticate func(string) (auth.Principal, bool)
	identify     func(string) (auth.Principal, bool)
}

// mapIdentities resolves the fixed tokens map.
var mapIdentities = identities{
	authenticate: func(tok string) (auth.Principal, bool) { p, ok := tokens[tok]; return p, ok },
	identify: func(sub string) (auth.Principal, bool) {
		for _, p := range tokens {
			if p.Subject == sub {
				return p, true
			}
		}
		return auth.Principal{}, false
	},
}

// setup builds the real thing: SQLite in a temp dir, the default policy
// bundle, the approval queue, and a run waiting for approval with reports.
func setup(t *testing.T) *fixture {
	t.Helper()
	return setupWith(t, mapIdentities)
}

func setupWith(t *testing.T, ids identities) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	rec := &recorder{}
	eng, err := oversight.NewEngine(ctx, oversight.EngineOptions{Recorder: rec})
	require.NoError(t, err)
	q := approval.NewQueue(approval.QueueOptions{
		Store: st, Recorder: rec, PolicyRevision: eng.Revision,
		// What the coordinator does when reviewers approve.
		OnDecided: func(ctx context.Context, a store.Approval) {
			if a.State == store.ApprovalApproved {
				_, err := st.RunTransition(ctx, store.RunTransitionParams{ID: a.RunID, From: []store.RunState{store.RunAwaitingApproval}, To: store.RunDeploying})
				if err != nil {
					t.Errorf("transition run %s: %v", a.RunID, err)
				}
			}
		},
	})
	run, _, err := st.RunCreate(ctx, store.RunCreateParams{Run: store.Run{
		Model: "fraud-detector", Environment: "production", State: store.RunQueued, Trigger: "github",
		Requester: "ci-bot", CommitAuthor: "Dana Dev <dana@example.com>",
		Candidate: store.Candidate{Version: "v7", Digest: digest},
	}})
	require.NoError(t, err)
	for _, s := range []store.RunState{store.RunRunning, store.RunAwaitingApproval} {
		// The coordinator records why the run waits in its Error field.
		run, err = st.RunTransition(ctx, store.RunTransitionParams{ID: run.ID, To: s, Error: map[store.RunState]string{
			store.RunAwaitingApproval: "risk high: 1 approval(s) from ml-reviewers required"}[s]})
		require.NoError(t, err)
	}
	reports := map[string]pipeline.Report{
		"validate": {Agent: "testing", Verdict: pipeline.Warn, Summary: "1 of 3 columns drifted", Metrics: map[string]float64{
			"drift.share": 1.0 / 3, "drift.amount.ks_statistic": 0.21, "drift.amount.ks_pvalue": 0.0004, "drift.amount.psi": 0.31,
			"drift.age.ks_statistic": 0.02, "drift.age.ks_pvalue": 0.9, "drift.age.psi": 0.01, "rows": 5000,
		}, Findings: []pipeline.Finding{
			{Severity: pipeline.Low, Code: "validate.nulls", Message: "age has 2% nulls", Subject: "age"},
			{Severity: pipeline.High, Code: "drift.column", Message: "amount drifted <script>alert(1)</script>", Subject: "amount"},
		}},
		"evaluate": {Agent: "evaluation", Verdict: pipeline.Pass, Summary: "roc_auc improved", Metrics: map[string]float64{
			"candidate.roc_auc": 0.962, "production.roc_auc": 0.951, "delta.roc_auc": 0.011, "delta.roc_auc.ci_low": 0.002, "delta.roc_auc.ci_high": 0.019,
			"delta.roc_auc.p_value": 0.013, "candidate.log_loss": 0.12, "production.log_loss": 0.15, "delta.log_loss": -0.03,
			"delta.log_loss.ci_low": -0.05, "delta.log_loss.ci_high": -0.01,
		}},
	}
	in := oversight.Input{
		Run: oversight.RunInfo{ID: run.ID, Trigger: run.Trigger, CommitAuthor: run.CommitAuthor}, Model: run.Model, Environment: run.Environment, Task: "binary",
		Candidate: pipeline.Candidate{Version: "v7", Digest: digest}, Production: &pipeline.Production{Version: "v6"},
		Reports: map[string]pipeline.Report{"validate": reports["validate"], "scan": {Verdict: pipeline.Pass}, "evaluate": reports["evaluate"]},
		Deploy:  oversight.DeployInfo{Strategy: "canary", MaxTrafficShare: 1}, Requester: auth.Principal{Subject: "ci-bot"},
	}
	d, err := eng.Decide(ctx, in)
	require.NoError(t, err)
	require.True(t, d.RequireApproval, "the fixture must need approval: %v %v", d.Deny, d.Reasons)
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	run, err = st.RunUpdate(ctx, store.RunUpdateParams{ID: run.ID, Decision: raw})
	require.NoError(t, err)
	for name, rep := range reports {
		b, err := json.Marshal(rep)
		require.NoError(t, err)
		require.NoError(t, st.StagePut(ctx, store.Stage{RunID: run.ID, Name: name, State: store.StageSucceeded, Attempt: 1, Verdict: string(rep.Verdict), Report: b}))
	}
	a, err := q.Request(ctx, approval.ApprovalRequest{Run: run, Decision: d})
	require.NoError(t, err)
	h, err := ui.New(ui.Options{
		Store: st, Queue: q, Engine: eng, Recorder: rec,
		Authenticate: ids.authenticate, Identify: ids.identify,
		SessionKey: []byte("0123456789abcdef0123456789abcdef"),
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/ui/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, st: st, q: q, rec: rec, run: run, approval: a}
}

func client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	require.NotNil(t, m, "no CSRF field in page")
	return m[1]
}

// login signs in through the form and returns the session's CSRF token.
func login(t *testing.T, f *fixture, c *http.Client, token string) string {
	t.Helper()
	_, body := get(t, c, f.srv.URL+"/ui/login")
	status, body := post(t, c, f.srv.URL+"/ui/login", url.Values{"csrf": {csrfOf(t, body)}, "token": {token}, "next": {"/ui/approvals"}})
	require.Equal(t, http.StatusOK, status, body)
	return csrfOf(t, body)
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name   string
		form   func(csrf string) url.Values
		status int
		want   string
	}{
		{"unknown token", func(c string) url.Values { return url.Values{"csrf": {c}, "token": {"nope"}} }, 401, "That token is not valid."},
		{"missing login CSRF", func(c string) url.Values { return url.Values{"token": {"reviewer-token"}} }, 403, "security token (CSRF)"},
		{"wrong login CSRF", func(c string) url.Values { return url.Values{"csrf": {c + "x"}, "token": {"reviewer-token"}} }, 403, "security token (CSRF)"},
		{"good token", func(c string) url.Values { return url.Values{"csrf": {c}, "token": {"reviewer-token"}} }, 200, `id="who">rita<`},
	}
	// The group returns once its parallel cases finished.
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := client(t)
				_, body := get(t, c, f.srv.URL+"/ui/login")
				status, body := post(t, c, f.srv.URL+"/ui/login", tc.form(csrfOf(t, body)))
				require.Equal(t, tc.status, status)
				require.Contains(t, body, tc.want)
			})
		}
	})
	require.True(t, f.rec.has("ui.login_failed"))
	require.True(t, f.rec.has("ui.login"))
}

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := client(t)
	_, body := get(t, c, f.srv.URL+"/ui/login")
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(f.srv.URL+"/ui/login", url.Values{"csrf": {csrfOf(t, body)}, "token": {"reviewer-token"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "modelgate_session" {
			session = ck
		}
	}
	require.NotNil(t, session)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, session.SameSite)
	require.Equal(t, "/ui", session.Path)

	// A tampered cookie is not a session.
	bad := client(t)
	bad.CheckRedirect = c.CheckRedirect
	u, _ := url.Parse(f.srv.URL + "/ui/")
	forged := *session
	forged.Value = strings.Replace(session.Value, ".", "x.", 1)
	bad.Jar.SetCookies(u, []*http.Cookie{&forged})
	resp, err = bad.Get(f.srv.URL + "/ui/runs")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Location"), "/ui/login")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := client(t)
	login(t, f, c, "reviewer-token")

	status, body := get(t, c, f.srv.URL+"/ui/runs")
	require.Equal(t, 200, status)
	require.Contains(t, body, f.run.ID)
	require.Contains(t, body, `id="state-`+f.run.ID+`">awaiting_approval<`)

	status, body = get(t, c, f.srv.URL+"/ui/runs/"+f.run.ID)
	require.Equal(t, 200, status)
	for _, want := range []string{
		`id="run-state">awaiting_approval<`,
		`id="decision-risk">high<`,
		"allowed, needs approval",
		`<td>roc_auc</td><td>0.9620</td><td>0.9510</td>`,
		"[&#43;0.0020, &#43;0.0190]",
		"<td>amount</td><td>0.2100</td><td>0.0004</td><td>0.3100</td>",
		"33.3% of columns drifted",
		"amount drifted &lt;script&gt;alert(1)&lt;/script&gt;",
		"target environment &#34;production&#34; is a production environment",
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "<script>")
	// Awaiting approval is news, not an error.
	require.Contains(t, body, `id="run-note">risk high: 1 approval(s) from ml-reviewers required<`)
	require.NotContains(t, body, `id="run-error"`)
	// A lower log_loss is an improvement: green, like a higher roc_auc.
	require.Regexp(t, `<td>log_loss</td>(?s:.*?)<td class="up">-0.0300</td>`, body)
	require.Regexp(t, `<td>roc_auc</td>(?s:.*?)<td class="up">&#43;0.0110</td>`, body)
	// The p-value sits beside its delta, not as a metric with a delta.
	require.NotContains(t, body, "<td>roc_auc.p_value</td>")
	require.Regexp(t, `<td>roc_auc</td>(?s:.*?)<td>0.0130</td></tr>`, body)
	// Findings by severity: high before low (in the stages; the brief above them cites some too).
	stages := body[strings.Index(body, "<h2>Stages</h2>"):]
	require.Less(t, strings.Index(stages, "drift.column"), strings.Index(stages, "validate.nulls"))
	// The reviewer brief, in its template form without an LLM, with its evidence.
	require.Contains(t, body, `<div class="card brief template">`)
	require.Contains(t, body, "template · template-brief@v1")
	require.Contains(t, body, "[change:candidate]")

	status, _ = get(t, c, f.srv.URL+"/ui/runs/no-such-run")
	require.Equal(t, 404, status)

	status, body = get(t, c, f.srv.URL+"/ui/approvals")
	require.Equal(t, 200, status)
	require.Contains(t, body, `id="approve-`+f.approval.ID+`"`)
	require.Contains(t, body, `id="count-`+f.approval.ID+`">0/1<`)
}

func TestVoting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		token     string
		action    string
		csrf      func(string) string
		status    int
		want      string
		wantState store.ApprovalState
		runState  store.RunState
	}{
		{"forged form without CSRF", "reviewer-token", "approve", func(string) string { return "" }, 403, "security token (CSRF)", store.ApprovalPending, store.RunAwaitingApproval},
		{"CSRF of another session", "reviewer-token", "approve", func(string) string { return strings.Repeat("ab", 24) }, 403, "security token (CSRF)", store.ApprovalPending, store.RunAwaitingApproval},
		{"ci may not approve", "ci-token", "approve", func(s string) string { return s }, 403, "does not allow ci-bot to approve", store.ApprovalPending, store.RunAwaitingApproval},
		{"commit author may not approve", "author-token", "approve", func(s string) string { return s }, 403, "someone else must approve it", store.ApprovalPending, store.RunAwaitingApproval},
		{"reviewer approves", "reviewer-token", "approve", func(s string) string { return s }, 200, "is now approved", store.ApprovalApproved, store.RunDeploying},
		{"reviewer rejects", "reviewer-token", "reject", func(s string) string { return s }, 200, "is now rejected", store.ApprovalRejected, store.RunAwaitingApproval},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			c := client(t)
			csrf := login(t, f, c, tc.token)
			status, body := post(t, c, f.srv.URL+"/ui/approvals/"+f.approval.ID+"/"+tc.action, url.Values{"csrf": {tc.csrf(csrf)}, "comment": {"checked the slices"}})
			require.Equal(t, tc.status, status, body)
			require.Contains(t, body, tc.want)
			a, err := f.q.Get(context.Background(), f.approval.ID)
			require.NoError(t, err)
			require.Equal(t, tc.wantState, a.State)
			run, err := f.st.RunGet(context.Background(), f.run.ID)
			require.NoError(t, err)
			require.Equal(t, tc.runState, run.State)
			if tc.wantState != store.ApprovalPending {
				require.Equal(t, "checked the slices", a.Votes[0].Comment)
			}
		})
	}
}

func TestVoteOnDecidedAndUnknown(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := client(t)
	csrf := login(t, f, c, "reviewer-token")
	status, _ := post(t, c, f.srv.URL+"/ui/approvals/"+f.approval.ID+"/reject", url.Values{"csrf": {csrf}})
	require.Equal(t, 200, status)
	status, body := post(t, c, f.srv.URL+"/ui/approvals/"+f.approval.ID+"/approve", url.Values{"csrf": {csrf}})
	require.Equal(t, 409, status)
	require.Contains(t, body, "already decided")
	status, body = post(t, c, f.srv.URL+"/ui/approvals/nope/approve", url.Values{"csrf": {csrf}})
	require.Equal(t, 404, status)
	require.Contains(t, body, "There is no approval request nope.")
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	_, err := ui.New(ui.Options{})
	require.ErrorContains(t, err, "Store is required")
}

const (
	ritaToken = "rita-reviewer-token-0123456789"
	raviToken = "ravi-reviewer-token-0123456789"
)

const reviewersFile = `tokens:
  - {name: rita, token: "` + ritaToken + `", roles: [reviewer], groups: [ml-reviewers]}
  - {name: ravi, token: "` + raviToken + `", roles: [reviewer], groups: [ml-reviewers]}
`

// setupTokensFile is setup with a real tokens file behind a real
// auth.Authenticator, as the server has it.
func setupTokensFile(t *testing.T) (*fixture, *auth.Authenticator, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	require.NoError(t, os.WriteFile(path, []byte(reviewersFile), 0o600))
	toks, err := auth.Load(path)
	require.NoError(t, err)
	a, err := auth.New(toks)
	require.NoError(t, err)
	return setupWith(t, identities{authenticate: a.Lookup, identify: a.Identify}), a, path
}

// Issue 21: sessions were stateless cookies holding the roles, valid 12 h,
// across restarts and after logout. Each case signs a reviewer in through
// the real handler, ends their standing one way, and checks that the very
// next approve is refused and changes nothing.
func TestSessionsEndServerSide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name string
		end  func(t *testing.T, f *fixture, a *auth.Authenticator, path string, c *http.Client, csrf string)
	}{
		{"revoked in the tokens file and reloaded", func(t *testing.T, f *fixture, a *auth.Authenticator, path string, _ *http.Client, _ string) {
			require.NoError(t, os.WriteFile(path, []byte("tokens:\n  - {name: ravi, token: \""+raviToken+"\", roles: [reviewer], groups: [ml-reviewers]}\n"), 0o600))
			require.NoError(t, a.Reload(path))
		}},
		{"moved out of the approvers' group", func(t *testing.T, f *fixture, a *auth.Authenticator, path string, _ *http.Client, _ string) {
			require.NoError(t, os.WriteFile(path, []byte(strings.Replace(reviewersFile, "groups: [ml-reviewers]}", "groups: [sre]}", 1)), 0o600))
			require.NoError(t, a.Reload(path))
		}},
		{"every session ended by the epoch", func(t *testing.T, f *fixture, _ *auth.Authenticator, _ string, _ *http.Client, _ string) {
			_, err := f.st.SessionEpochBump(ctx)
			require.NoError(t, err)
		}},
		{"signed out: a kept copy of the cookie is dead too", func(t *testing.T, f *fixture, _ *auth.Authenticator, _ string, c *http.Client, csrf string) {
			// Another client with the same cookie signs out; the first
			// client still holds it, as a stolen copy would.
			u, _ := url.Parse(f.srv.URL + "/ui/")
			other := client(t)
			other.Jar.SetCookies(u, c.Jar.Cookies(u))
			status, body := post(t, other, f.srv.URL+"/ui/logout", url.Values{"csrf": {csrf}})
			require.Equal(t, http.StatusOK, status, body)
			require.True(t, f.rec.has("ui.logout"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, a, path := setupTokensFile(t)
			c := client(t)
			csrf := login(t, f, c, ritaToken)
			status, body := get(t, c, f.srv.URL+"/ui/approvals")
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, body, "rita", "signed in")

			tc.end(t, f, a, path, c, csrf)

			status, body = post(t, c, f.srv.URL+"/ui/approvals/"+f.approval.ID+"/approve", url.Values{"csrf": {csrf}})
			require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, status, body)
			got, err := f.q.Get(ctx, f.approval.ID)
			require.NoError(t, err)
			require.Equal(t, store.ApprovalPending, got.State, "the refused approve changed nothing")
			require.Empty(t, got.Votes)

			// Ravi, untouched by the change (or signing in afresh after the
			// epoch moved), still approves: only the ended standing is gone.
			c2 := client(t)
			csrf2 := login(t, f, c2, raviToken)
			status, body = post(t, c2, f.srv.URL+"/ui/approvals/"+f.approval.ID+"/approve", url.Values{"csrf": {csrf2}})
			require.Equal(t, http.StatusOK, status, body)
			require.Contains(t, body, "is now approved")
		})
	}
}

func TestRevokedSessionIsRedirectedToSignIn(t *testing.T) {
	t.Parallel()
	f, a, path := setupTokensFile(t)
	c := client(t)
	login(t, f, c, ritaToken)
	require.NoError(t, os.WriteFile(path, []byte("tokens: []\n"), 0o600))
	require.NoError(t, a.Reload(path))
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(f.srv.URL + "/ui/runs")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Location"), "/ui/login")
	require.True(t, f.rec.has("ui.session_revoked"))
}
