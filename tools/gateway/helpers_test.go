package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// upstream is a real V2 server whose behaviour a test can change while
// it runs: the score it returns, its status, a delay, garbage bodies.
type upstream struct {
	*httptest.Server
	score   atomic.Value // func(row []float64) float64
	status  atomic.Int64
	delay   atomic.Int64 // ns
	garbage atomic.Bool
	block   chan struct{} // when non-nil, each request waits for a receive
	calls   atomic.Int64
}

func newUpstream(t *testing.T, score func(row []float64) float64) *upstream {
	t.Helper()
	u := &upstream{}
	u.score.Store(score)
	u.status.Store(200)
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.calls.Add(1)
	if u.block != nil {
		<-u.block
	}
	if d := u.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	if strings.HasSuffix(r.URL.Path, "/ready") || r.Method == http.MethodGet {
		w.WriteHeader(http.StatusOK)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if st := int(u.status.Load()); st != 200 {
		http.Error(w, `{"error":"injected"}`, st)
		return
	}
	if u.garbage.Load() {
		_, _ = w.Write([]byte(`<html>oops`))
		return
	}
	if r.URL.Path == "/v1/chat/completions" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"chat.completion","choices":[{"message":{"role":"assistant","content":"from %s"}}]}`, u.URL)
		return
	}
	_, rows, err := ParseInputs(body, nil)
	if err != nil {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	f := u.score.Load().(func([]float64) float64)
	out := make([]float64, len(rows))
	for i, row := range rows {
		out[i] = f(row)
	}
	data, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"model_name":"m","outputs":[{"name":"predict","shape":[%d],"datatype":"FP64","data":%s}]}`, len(out), data)
}

func constScore(v float64) func([]float64) float64 { return func([]float64) float64 { return v } }

// firstFeature scores a row by its first value: a deterministic model.
func firstFeature(row []float64) float64 { return row[0] }

type bundle struct {
	store *sqlite.Store
	gw    *Gateway
	srv   *httptest.Server
}

func setup(t *testing.T, o Options) *bundle {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "gw.db")})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	o.Routes = st
	if o.Logger == nil {
		o.Logger = log.New(io.Discard)
	}
	gw, err := New(o)
	require.NoError(t, err)
	t.Cleanup(func() { gw.Close() })
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &bundle{store: st, gw: gw, srv: srv}
}

func infer(t *testing.T, base, model string, rows [][]float64, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v2/models/"+model+"/infer", strings.NewReader(string(EncodeRequest(rows))))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}
