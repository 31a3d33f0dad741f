package chatops_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/approval"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/chatops"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

const secret = "8f742231b10e8888abcd99yyyzzz85a5"

// fakeSlack stands in for Slack: its Web API (chat.postMessage,
// chat.update) and the response_url endpoints, recording what the bot sent.
type fakeSlack struct {
	srv  *httptest.Server
	mu   sync.Mutex
	sent []sent
}

type sent struct {
	Path    string
	Form    url.Values            // Web API calls (form-encoded by slack-go)
	Webhook *slack.WebhookMessage // response_url posts
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := sent{Path: r.URL.Path}
		if strings.HasPrefix(r.URL.Path, "/api/response/") {
			var m slack.WebhookMessage
			if err := json.Unmarshal(body, &m); err != nil {
				t.Errorf("response_url body: %v", err)
			}
			s.Webhook = &m
			f.add(s)
			_, _ = w.Write([]byte("ok"))
			return
		}
		s.Form, _ = url.ParseQuery(string(body))
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			s.Form = url.Values{}
			for k, v := range m {
				if str, ok := v.(string); ok {
					s.Form.Set(k, str)
				} else {
					b, _ := json.Marshal(v)
					s.Form.Set(k, string(b))
				}
			}
		}
		f.add(s)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "C0FRAUD", "ts": "1700000000.000100"})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) add(s sent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, s)
}

func (f *fakeSlack) all() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.sent...)
}

func (f *fakeSlack) responses() []*slack.WebhookMessage {
	var out []*slack.WebhookMessage
	for _, s := range f.all() {
		if s.Webhook != nil {
			out = append(out, s.Webhook)
		}
	}
	return out
}

func (f *fakeSlack) calls(method string) []url.Values {
	var out []url.Values
	for _, s := range f.all() {
		if s.Path == "/api/"+method {
			out = append(out, s.Form)
		}
	}
	return out
}

func (f *fakeSlack) responseURL() string { return f.srv.URL + "/api/response/1" }

type bundle struct {
	st      store.Store
	rec     *audittest.Recorder
	queue   *approval.Queue
	eng     *oversight.Engine
	h       *chatops.Handler
	srv     *httptest.Server
	slack   *fakeSlack
	blobs   *blob.FS
	starter *triggers.Starter
	ids     *auth.Authenticator
}

var people = []auth.Token{
	{Token: "rita-token-0123456789", Name: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}, Slack: []string{"U0RITA"}},
	{Token: "rex-token-01234567890", Name: "rex", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}, Slack: []string{"U0REX"}},
	{Token: "otto-token-0123456789", Name: "otto", Roles: []string{"operator"}, Groups: []string{"sre"}, Slack: []string{"U0OTTO"}},
	{Token: "cici-token-0123456789", Name: "ci-bot", Roles: []string{"ci"}, Slack: []string{"U0CI"}},
	{Token: "dana-token-0123456789", Name: "dana", Roles: []string{"reviewer", "operator"}, Groups: []string{"ml-reviewers"}, Slack: []string{"U0DANA"}},
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	rec := &audittest.Recorder{}
	eng, err := oversight.NewEngine(ctx, oversight.EngineOptions{Recorder: rec})
	require.NoError(t, err)
	ids, err := auth.New(people)
	require.NoError(t, err)
	q := approval.NewQueue(approval.QueueOptions{Store: st, Recorder: rec, PolicyRevision: eng.Revision})
	blobs, err := blob.NewFS(filepath.Join(dir, "blobs"))
	require.NoError(t, err)
	coord, err := coordinator.New(coordinator.Options{Store: st, Recorder: rec, DataDir: dir, Blobs: blobs})
	require.NoError(t, err)
	starter := &triggers.Starter{Store: st, Blobs: blobs, Submit: coord, InputsDir: filepath.Join(dir, "inputs")}
	fs := newFakeSlack(t)
	h, err := chatops.New(chatops.Options{
		SigningSecret: secret, BotToken: "xoxb-test", APIURL: fs.srv.URL + "/api/", PublicURL: "https://modelgate.example.com",
		Store: st, Identities: ids, Approvals: q, Starter: starter, Recorder: rec,
		// The real proposer, without an LLM: its rule parser.
		Ask: func(ctx context.Context, _ auth.Principal, sentence string) (assistant.Proposal, error) {
			known, err := assistant.KnownFrom(ctx, st)
			if err != nil {
				return assistant.Proposal{}, err
			}
			return assistant.Ask(ctx, nil, sentence, known, time.Now())
		},
		WebhookBackoff: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond},
		Authorize: func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
			return eng.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &bundle{st: st, rec: rec, queue: q, eng: eng, h: h, srv: srv, slack: fs, blobs: blobs, starter: starter, ids: ids}
}

// pendingApproval makes a run awaiting approval by ml-reviewers, asked by
// requester, and returns its approval.
func (b *bundle) pendingApproval(t *testing.T, requester, author string, min int) store.Approval {
	t.Helper()
	ctx := context.Background()
	run, _, err := b.st.RunCreate(ctx, store.RunCreateParams{Run: store.Run{
		Model: "fraud-detector", Environment: "production", State: store.RunQueued, Trigger: "api",
		Requester: requester, CommitAuthor: author, Candidate: store.Candidate{Version: "v7", Digest: "sha256:" + strings.Repeat("ab", 32)},
	}})
	require.NoError(t, err)
	for _, s := range []store.RunState{store.RunRunning, store.RunAwaitingApproval} {
		run, err = b.st.RunTransition(ctx, store.RunTransitionParams{ID: run.ID, To: s})
		require.NoError(t, err)
	}
	a, err := b.queue.Request(ctx, approval.ApprovalRequest{Run: run, Decision: oversight.Decision{
		ID: "dec-" + run.ID, Allow: true, RequireApproval: true, Risk: "high", Reasons: []string{"high risk: roc_auc moved"},
		PolicyRevision: b.eng.Revision(), Approvers: oversight.Approvers{Groups: []string{"ml-reviewers"}, Min: min},
	}})
	require.NoError(t, err)
	return a
}

// sign signs body as Slack does at the given time.
func sign(key string, ts time.Time, body string) (string, string) {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	return stamp, "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends a form body to path, signed now with the test secret unless
// headers say otherwise.
func (b *bundle) post(t *testing.T, path, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", b.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	stamp, sig := sign(secret, time.Now(), body)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", sig)
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// commandBody is a slash command's form, as Slack sends it.
func (b *bundle) commandBody(user, text string) string {
	return url.Values{
		"token": {"legacy"}, "team_id": {"T0TEAM"}, "team_domain": {"acme"}, "channel_id": {"C0FRAUD"},
		"user_id": {user}, "user_name": {strings.ToLower(user)}, "command": {"/modelgate"}, "text": {text},
		"response_url": {b.slack.responseURL()}, "trigger_id": {fmt.Sprintf("trig-%d", time.Now().UnixNano())},
	}.Encode()
}

// clickBody is a block_actions payload of a button on the approval message.
func (b *bundle) clickBody(t *testing.T, user, actionID, value string) string {
	t.Helper()
	payload := map[string]any{
		"type": "block_actions", "team": map[string]any{"id": "T0TEAM"}, "user": map[string]any{"id": user},
		"api_app_id": "A0APP", "trigger_id": "trig", "response_url": b.slack.responseURL(),
		"container": map[string]any{"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0FRAUD"},
		"channel":   map[string]any{"id": "C0FRAUD"},
		"actions":   []any{map[string]any{"type": "button", "action_id": actionID, "block_id": "modelgate.approval", "value": value, "action_ts": "1700000001.1"}},
	}
	raw, err := json.Marshal(payload)
	require.NoError(t, err)
	return url.Values{"payload": {string(raw)}}.Encode()
}

func (b *bundle) approvalState(t *testing.T, id string) store.Approval {
	t.Helper()
	a, err := b.st.ApprovalGet(context.Background(), id)
	require.NoError(t, err)
	return a
}

func lastText(msgs []*slack.WebhookMessage) string {
	if len(msgs) == 0 {
		return ""
	}
	return msgs[len(msgs)-1].Text
}

func blocksJSON(v any) string {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	return buf.String()
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

func mustPrincipal(t *testing.T, b *bundle, slackID string) auth.Principal {
	t.Helper()
	p, ok := b.ids.BySlack(slackID)
	require.True(t, ok)
	return p
}
