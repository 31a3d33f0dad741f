package api_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/egress"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/internal/workspace"
)

const (
	ciToken       = "ci-token-0123456789abcdef"
	reviewerToken = "reviewer-token-0123456789"
	adminToken    = "admin-token-0123456789abc"
	trainerToken  = "trainer-token-0123456789"
)

type gateAgent struct {
	name    string
	release chan struct{}
}

func (a gateAgent) Name() string { return a.name }
func (a gateAgent) Run(ctx context.Context, t agents.Task) (agents.Report, error) {
	if a.release != nil {
		select {
		case <-ctx.Done():
			return agents.Report{}, ctx.Err()
		case <-a.release:
		}
	}
	return agents.Report{Verdict: agents.Pass, Summary: a.name + " ok"}, nil
}

type allowAll struct{}

func (allowAll) Decide(context.Context, oversight.Input) (oversight.Decision, error) {
	return oversight.Decision{ID: "d", Allow: true, Risk: "low"}, nil
}

type bundle struct {
	srv     *httptest.Server
	store   store.Store
	dir     string
	release chan struct{}
}

// setup starts the API on a real listener over a real SQLite store, a
// real coordinator and the real policy engine for authorization.
func setup(t *testing.T, hold bool) *bundle {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b := &bundle{store: st, dir: dir}
	var release chan struct{}
	if hold {
		release = make(chan struct{})
		b.release = release
	}
	as := map[string]agents.Agent{"validate": gateAgent{name: "validate", release: release}}
	quiet := log.NewWithOptions(io.Discard, log.Options{})
	reg := prometheus.NewRegistry()
	coord, err := coordinator.New(coordinator.Options{Store: st, Agents: as, Decider: allowAll{}, DataDir: dir, Logger: quiet, Registerer: reg})
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	require.NoError(t, coord.Start(cctx))
	t.Cleanup(func() { cancel(); coord.Stop() })
	engine, err := oversight.NewEngine(ctx, oversight.EngineOptions{Logger: quiet})
	require.NoError(t, err)
	a, err := auth.New([]auth.Token{
		{Token: ciToken, Name: "ci-bot", Roles: []string{"ci"}},
		{Token: reviewerToken, Name: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
		{Token: adminToken, Name: "ada", Roles: []string{"admin"}},
		{Token: trainerToken, Name: "tess", Roles: []string{"trainer"}},
	})
	require.NoError(t, err)
	roots, err := workspace.New([]string{dir})
	require.NoError(t, err)
	blobs, err := blob.NewFS(filepath.Join(t.TempDir(), "blobs"))
	require.NoError(t, err)
	allowed, err := egress.New([]string{allowedEndpoint})
	require.NoError(t, err)
	api, err := api.New(api.Options{Coordinator: coord, Store: st, Auth: a, Gatherer: reg, Logger: quiet, MaxBodyBytes: 64 << 10, Workspaces: roots, Endpoints: allowed,
		Blobs: blobs, MaxBlobBytes: 1 << 20, InputsDir: filepath.Join(t.TempDir(), "inputs"),
		Authorize: func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
			return engine.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
		}})
	require.NoError(t, err)
	b.srv = httptest.NewServer(api)
	t.Cleanup(b.srv.Close)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{}`), 0o644))
	return b
}

func (b *bundle) do(t *testing.T, method, path, token string, body string, headers ...string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return resp.StatusCode, m, resp.Header
}

func (b *bundle) runBody(extra string) string {
	cfg := "model: fraud\ntask: binary\ncandidate: {artifact: model.json}\n" + extra
	body, _ := json.Marshal(api.RunRequest{Config: cfg, BaseDir: b.dir})
	return string(body)
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestRoutesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(api.OpenAPI(), &doc))
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	// build a server only to list its routes
	s, err := api.New(api.Options{Coordinator: mustCoord(t), Store: b.store, Auth: &auth.Authenticator{},
		Authorize: func(context.Context, auth.Principal, string, string, string) (bool, error) { return false, nil }})
	require.NoError(t, err)
	served := s.Routes()
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, documented, served, "routes and openapi.json disagree")
}

func mustCoord(t *testing.T) *coordinator.Coordinator {
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "x.db")})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	c, err := coordinator.New(coordinator.Options{Store: st})
	require.NoError(t, err)
	return c
}

func TestAuthAndErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	cases := []struct {
		name, method, path, token, body string
		headers                         []string
		status                          int
		code                            string
	}{
		{name: "health needs no token", method: "GET", path: "/healthz", status: 200},
		{name: "ready needs no token", method: "GET", path: "/readyz", status: 200},
		{name: "missing token", method: "GET", path: "/v1/runs", status: 401, code: "unauthorized"},
		{name: "wrong token", method: "GET", path: "/v1/runs", token: "nope-nope-nope-nope", status: 401, code: "unauthorized"},
		{name: "openapi with a token", method: "GET", path: "/v1/openapi.json", token: ciToken, status: 200},
		{name: "unknown run", method: "GET", path: "/v1/runs/does-not-exist", token: ciToken, status: 404, code: "not_found"},
		{name: "unknown endpoint", method: "GET", path: "/v1/nothing", token: ciToken, status: 404, code: "not_found"},
		{name: "malformed JSON", method: "POST", path: "/v1/runs", token: ciToken, body: `{"config": `, status: 400, code: "bad_request"},
		{name: "unknown field", method: "POST", path: "/v1/runs", token: ciToken, body: `{"config": "x", "colour": 1}`, status: 400, code: "bad_request"},
		{name: "empty config", method: "POST", path: "/v1/runs", token: ciToken, body: `{"config": ""}`, status: 400, code: "bad_request"},
		{name: "invalid config names the line", method: "POST", path: "/v1/runs", token: ciToken,
			body: `{"config": "model: m\ntask: binary\ncandidate: {artifact: x}\nthreshold: 3\n"}`, status: 400, code: "invalid_config"},
		{name: "oversized body", method: "POST", path: "/v1/runs", token: ciToken,
			body: `{"config": "` + strings.Repeat("a", 70<<10) + `"}`, status: 413, code: "payload_too_large"},
		{name: "reviewer may not trigger", method: "POST", path: "/v1/runs", token: reviewerToken, body: b.runBody(""), status: 403, code: "forbidden"},
		{name: "policy reload without an engine is not supported", method: "POST", path: "/v1/policies/reload", token: ciToken, status: 501, code: "not_supported"},
		{name: "bad state filter", method: "GET", path: "/v1/runs?state=done", token: ciToken, status: 400, code: "bad_request"},
		{name: "bad limit", method: "GET", path: "/v1/audit?limit=0", token: adminToken, status: 400, code: "bad_request"},
		{name: "unknown model", method: "GET", path: "/v1/models/nope", token: ciToken, status: 404, code: "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, body, _ := b.do(t, tc.method, tc.path, tc.token, tc.body, tc.headers...)
			require.Equal(t, tc.status, status, "body: %v", body)
			if tc.code != "" {
				require.Equal(t, tc.code, errCode(body), "body: %v", body)
				e := body["error"].(map[string]any)
				require.NotEmpty(t, e["message"])
			}
		})
	}
}

func TestRunCreateIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	body := b.runBody("")
	s1, r1, h1 := b.do(t, "POST", "/v1/runs", ciToken, body, "Idempotency-Key", "build-7")
	require.Equal(t, 201, s1, "%v", r1)
	require.Equal(t, "/v1/runs/"+r1["id"].(string), h1.Get("Location"))
	s2, r2, h2 := b.do(t, "POST", "/v1/runs", ciToken, body, "Idempotency-Key", "build-7")
	require.Equal(t, 200, s2)
	require.Equal(t, r1["id"], r2["id"])
	require.Equal(t, "true", h2.Get("Idempotent-Replayed"))
	s3, r3, _ := b.do(t, "POST", "/v1/runs", ciToken, b.runBody("environment: staging\n"), "Idempotency-Key", "build-7")
	require.Equal(t, 422, s3)
	require.Equal(t, "idempotency_mismatch", errCode(r3))

	// The whole body counts: other labels are another request.
	labelled, _ := json.Marshal(api.RunRequest{Config: "model: fraud\ntask: binary\ncandidate: {artifact: model.json}\n", BaseDir: b.dir,
		Labels: map[string]string{"team": "risk"}})
	s4, r4, h4 := b.do(t, "POST", "/v1/runs", ciToken, string(labelled), "Idempotency-Key", "build-7")
	require.Equal(t, 422, s4, "%v", r4)
	require.Equal(t, "idempotency_mismatch", errCode(r4))
	require.Empty(t, h4.Get("Idempotent-Replayed"))

	// Keys are scoped by principal: ada's build-7 is not ci-bot's.
	s5, r5, h5 := b.do(t, "POST", "/v1/runs", adminToken, body, "Idempotency-Key", "build-7")
	require.Equal(t, 201, s5, "%v", r5)
	require.NotEqual(t, r1["id"], r5["id"], "another principal must not get the first one's run")
	require.Equal(t, "ada", r5["requester"])
	require.Empty(t, h5.Get("Idempotent-Replayed"))
	s6, r6, _ := b.do(t, "POST", "/v1/runs", adminToken, body, "Idempotency-Key", "build-7")
	require.Equal(t, 200, s6)
	require.Equal(t, r5["id"], r6["id"])

	// concurrent retries of one request create one run
	var wg sync.WaitGroup
	ids := make([]string, 8)
	statuses := make([]int, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r map[string]any
			statuses[i], r, _ = b.do(t, "POST", "/v1/runs", ciToken, body, "Idempotency-Key", "build-8")
			ids[i], _ = r["id"].(string)
		}()
	}
	wg.Wait()
	created := 0
	for i, id := range ids {
		require.Contains(t, []int{200, 201}, statuses[i])
		require.NotEmpty(t, id)
		require.Equal(t, ids[0], id)
		if statuses[i] == 201 {
			created++
		}
	}
	require.Equal(t, 1, created, "exactly one of the retries creates the run")
	runs, err := b.store.RunList(context.Background(), store.RunListParams{})
	require.NoError(t, err)
	require.Len(t, runs, 3, "ci-bot's build-7, ada's build-7 and build-8, nothing else")
}

func TestRunLifecycleOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	status, run, _ := b.do(t, "POST", "/v1/runs", ciToken, b.runBody(""))
	require.Equal(t, 201, status)
	id := run["id"].(string)

	// the event stream starts with a snapshot and ends with the terminal state
	req, _ := http.NewRequest("GET", b.srv.URL+"/v1/runs/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+ciToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	close(b.release)
	var events []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	deadline := time.AfterFunc(20*time.Second, func() { resp.Body.Close() })
	defer deadline.Stop()
	for sc.Scan() {
		if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			events = append(events, ev)
		}
		if strings.Contains(sc.Text(), `"state":"succeeded"`) {
			break
		}
	}
	require.Equal(t, "snapshot", events[0])
	require.Contains(t, events, "stage")

	status, got, _ := b.do(t, "GET", "/v1/runs/"+id, ciToken, "")
	require.Equal(t, 200, status)
	require.Equal(t, "succeeded", got["state"])
	require.NotEmpty(t, got["stages"])
	require.Contains(t, got["config"], "model: fraud")
	// every run report carries a reviewer brief; without an LLM, the template's
	brief := got["brief"].(map[string]any)
	require.Equal(t, "template", brief["source"])
	require.Contains(t, brief["text"], "[change:candidate]")
	require.Nil(t, got["triage"], "only failed and rolled-back runs are triaged")

	status, list, _ := b.do(t, "GET", "/v1/runs?model=fraud&state=succeeded", ciToken, "")
	require.Equal(t, 200, status)
	require.Len(t, list["runs"], 1)

	status, model, _ := b.do(t, "GET", "/v1/models/fraud", ciToken, "")
	require.Equal(t, 200, status)
	require.Len(t, model["production"], 1)

	status, body, _ := b.do(t, "POST", "/v1/runs/"+id+"/cancel", adminToken, "")
	require.Equal(t, 409, status, "%v", body)
}

func TestCancelOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	defer close(b.release)
	_, run, _ := b.do(t, "POST", "/v1/runs", ciToken, b.runBody(""))
	id := run["id"].(string)
	status, _, _ := b.do(t, "POST", "/v1/runs/"+id+"/cancel", ciToken, `{"reason":"x"}`)
	require.Equal(t, 403, status, "ci may not abort")
	status, got, _ := b.do(t, "POST", "/v1/runs/"+id+"/cancel", adminToken, `{"reason":"wrong holdout"}`)
	require.Equal(t, 200, status, "%v", got)
	require.Equal(t, "cancelled", got["state"])
	require.Equal(t, "wrong holdout", got["error"])
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	_, run, _ := b.do(t, "POST", "/v1/runs", ciToken, b.runBody(""))
	require.Eventually(t, func() bool {
		r, err := b.store.RunGet(context.Background(), run["id"].(string))
		return err == nil && r.State == store.RunSucceeded
	}, 10*time.Second, 10*time.Millisecond)
	resp, err := http.Get(b.srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	text, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(text), `modelgate_run_transitions_total{state="succeeded"} 1`)
	require.Contains(t, string(text), `modelgate_stage_duration_seconds_count{stage="validate"} 1`)
}

// TestTrustBoundary: what the weakest token that may start runs (ci) can
// make the server read or run. Each case is a hole found on the server as
// it was: a train command that printed tokens.yaml into the run's log, and
// config paths naming any file the server can read.
func TestTrustBoundary(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "tokens.yaml"), []byte("admin: secret"), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(outside, "tokens.yaml"), filepath.Join(b.dir, "link.csv")))
	require.NoError(t, os.Symlink(outside, filepath.Join(b.dir, "linkdir")))
	steal := `train: {command: [sh, -c, "cat tokens.yaml; cp model.json {{.ArtifactDir}}/model.json"]}` + "\n"
	body := func(cfg, base string) string {
		raw, _ := json.Marshal(api.RunRequest{Config: "model: fraud\ntask: binary\ncandidate: {artifact: model.json}\n" + cfg, BaseDir: base})
		return string(raw)
	}
	for _, tc := range []struct {
		name, token, body string
		status            int
		code, field       string
	}{
		{"ci may not train", ciToken, body(steal, b.dir), 403, "forbidden", ""},
		{"an absolute data path", ciToken, body("data: {reference: /etc/passwd}\n", b.dir), 400, "path_refused", "data.reference"},
		{"a path out of base_dir", ciToken, body("data: {reference: ../../tokens.yaml}\n", b.dir), 400, "path_refused", "data.reference"},
		{"a symlink out of the workspace", ciToken, body("data: {reference: link.csv}\n", b.dir), 400, "path_refused", "data.reference"},
		{"a symlinked folder out of the workspace", ciToken, body("data: {holdout: linkdir/tokens.yaml}\n", b.dir), 400, "path_refused", "data.holdout"},
		{"base_dir outside every workspace", ciToken, body("", outside), 400, "path_refused", "base_dir"},
		{"base_dir through .. out of the workspace", ciToken, body("", filepath.Join(b.dir, "..")), 400, "path_refused", "base_dir"},
		{"files but no base_dir", ciToken, body("", ""), 400, "path_refused", "candidate.artifact"},
		{"a key outside", ciToken, body("security: {public_key: /root/.ssh/id_ed25519.pub}\n", b.dir), 400, "path_refused", "security.public_key"},
	} {
		status, m, _ := b.do(t, "POST", "/v1/runs", tc.token, tc.body)
		require.Equal(t, tc.status, status, "%s: %v", tc.name, m)
		require.Equal(t, tc.code, errCode(m), tc.name)
		msg, _ := m["error"].(map[string]any)["message"].(string)
		require.Contains(t, msg, tc.field, tc.name)
		require.NotContains(t, msg, "admin: secret", tc.name)
	}
	runs, err := b.store.RunList(context.Background(), store.RunListParams{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, runs, "a refused request stores no run")

	// The same config is accepted from a token with the train right, and
	// a plain run inside the workspace from ci.
	status, m, _ := b.do(t, "POST", "/v1/runs", trainerToken, body(strings.Replace(steal, "cat tokens.yaml; ", "", 1), b.dir))
	require.Equal(t, 201, status, "%v", m)
	status, m, _ = b.do(t, "POST", "/v1/runs", ciToken, b.runBody(""))
	require.Equal(t, 201, status, "%v", m)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestUploads: a CI job with no disk shared with the server hands it the
// run's inputs as blobs; the server checks every byte against its digest,
// lays the inputs out itself, and refuses names that would lead out.
func TestUploads(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	model, data := []byte(`{"learner": {}}`), []byte("a,b\n1,2\n")
	md, dd := sha(model), sha(data)
	put := func(token, digest string, body []byte) (int, map[string]any) {
		st, m, _ := b.do(t, "PUT", "/v1/blobs/"+digest, token, string(body))
		return st, m
	}
	for _, tc := range []struct {
		name, token, digest string
		body                []byte
		status              int
		code                string
	}{
		{"a reviewer may not upload", reviewerToken, md, model, 403, "forbidden"},
		{"bytes that are not the digest's", ciToken, md, data, 400, "digest_mismatch"},
		{"a digest that is a path", ciToken, "sha256:..%2F..%2Fetc%2Fpasswd", model, 400, "invalid_digest"},
		{"another algorithm", ciToken, "md5:" + strings.Repeat("0", 32), model, 400, "invalid_digest"},
		{"over the size limit", ciToken, sha(make([]byte, 2<<20)), make([]byte, 2<<20), 413, "too_large"},
	} {
		status, m := put(tc.token, tc.digest, tc.body)
		require.Equal(t, tc.status, status, "%s: %v", tc.name, m)
		require.Equal(t, tc.code, errCode(m), tc.name)
	}
	status, _, _ := b.do(t, "HEAD", "/v1/blobs/"+md, ciToken, "")
	require.Equal(t, 404, status, "nothing refused was kept")

	status, m := put(ciToken, md, model)
	require.Equal(t, 201, status, "%v", m)
	status, m = put(ciToken, md, model)
	require.Equal(t, 200, status, "a second upload is idempotent: %v", m)
	require.Equal(t, false, m["created"])
	status, m = put(ciToken, dd, data)
	require.Equal(t, 201, status, "%v", m)
	status, _, h := b.do(t, "HEAD", "/v1/blobs/"+md, ciToken, "")
	require.Equal(t, 200, status)
	require.Equal(t, strconv.Itoa(len(model)), h.Get("Content-Length"))

	// Streamed uploads name no digest: stored under what the bytes hash
	// to, with the same right and limit as PUT.
	post := func(token string, body []byte) (int, map[string]any) {
		st, m, _ := b.do(t, "POST", "/v1/blobs", token, string(body))
		return st, m
	}
	status, m = post(reviewerToken, []byte("x"))
	require.Equal(t, 403, status, "%v", m)
	status, m = post(ciToken, make([]byte, 2<<20))
	require.Equal(t, 413, status, "%v", m)
	streamed := []byte("c,d\n3,4\n")
	status, m = post(ciToken, streamed)
	require.Equal(t, 201, status, "%v", m)
	require.Equal(t, sha(streamed), m["digest"], "the reply names the digest the bytes hash to")
	status, m = post(ciToken, streamed)
	require.Equal(t, 200, status, "%v", m)
	require.Equal(t, false, m["created"])
	status, m = post(ciToken, model)
	require.Equal(t, 200, status, "bytes already stored by PUT: %v", m)
	require.Equal(t, md, m["digest"])

	cfg := "model: fraud\ntask: binary\ncandidate: {artifact: m/model.json}\ndata: {reference: ref.csv}\n"
	req := func(files map[string]string, base string) string {
		raw, _ := json.Marshal(api.RunRequest{Config: cfg, Files: files, BaseDir: base})
		return string(raw)
	}
	good := map[string]string{"m/model.json": md, "ref.csv": dd}
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{"an input not uploaded", req(map[string]string{"m/model.json": md}, ""), 400, "missing_input", "data.reference"},
		{"a name leading out", req(map[string]string{"m/model.json": md, "ref.csv": dd, "../../x": dd}, ""), 400, "path_refused", "../../x"},
		{"an absolute name", req(map[string]string{"m/model.json": md, "ref.csv": dd, "/etc/cron.d/x": dd}, ""), 400, "path_refused", "/etc/cron.d/x"},
		{"a blob never uploaded", req(map[string]string{"m/model.json": md, "ref.csv": sha([]byte("nope"))}, ""), 400, "blob_missing", "ref.csv"},
		{"files and base_dir", req(good, b.dir), 400, "bad_request", "base_dir"},
	} {
		status, m, _ := b.do(t, "POST", "/v1/runs", ciToken, tc.body)
		require.Equal(t, tc.status, status, "%s: %v", tc.name, m)
		require.Equal(t, tc.code, errCode(m), tc.name)
		msg, _ := m["error"].(map[string]any)["message"].(string)
		require.Contains(t, msg, tc.field, tc.name)
	}

	status, m, _ = b.do(t, "POST", "/v1/runs", ciToken, req(good, ""), "Idempotency-Key", "k1")
	require.Equal(t, 201, status, "%v", m)
	run, err := b.store.RunGet(context.Background(), m["id"].(string))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(run.BaseDir, "m", "model.json"))
	require.NoError(t, err)
	require.Equal(t, model, got, "the run reads the uploaded bytes, laid out by the server")
	st, err := os.Stat(filepath.Join(run.BaseDir, "ref.csv"))
	require.NoError(t, err)
	require.Zero(t, st.Mode().Perm()&0o222, "inputs are read-only")

	status, m, h = b.do(t, "POST", "/v1/runs", ciToken, req(good, ""), "Idempotency-Key", "k1")
	require.Equal(t, 200, status, "%v", m)
	require.Equal(t, run.ID, m["id"])
	require.Equal(t, "true", h.Get("Idempotent-Replayed"))
	other := map[string]string{"m/model.json": dd, "ref.csv": dd}
	status, m, _ = b.do(t, "POST", "/v1/runs", ciToken, req(other, ""), "Idempotency-Key", "k1")
	require.Equal(t, 422, status, "the same key with other bytes is another request: %v", m)
}
