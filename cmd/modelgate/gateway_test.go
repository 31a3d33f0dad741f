package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/tools/gateway"
)

func TestGatewayCommandServesStoredRoutes(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"outputs":[{"name":"predict","shape":[1],"datatype":"FP64","data":[0.25]}]}`))
	}))
	defer up.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, sqlite.FileName)})
	require.NoError(t, err)
	table, _ := json.Marshal(gateway.RouteTable{Model: "fraud", Stable: gateway.Backend{Version: "v1", URL: up.URL}, Mode: gateway.ModeStable})
	require.NoError(t, st.RouteSet(ctx, "fraud", table))

	pr, pw := io.Pipe()
	root := newRoot(pw, io.Discard)
	root.SetArgs([]string{"gateway", "--addr", "127.0.0.1:0", "--data-dir", dir, "--reload", "50ms"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, line)
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	post := func() (*http.Response, string) {
		resp, err := http.Post(base+"/v2/models/fraud/infer", "application/json", strings.NewReader(string(gateway.EncodeRequest([][]float64{{1}}))))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post()
	require.Equal(t, 200, resp.StatusCode, body)
	require.Equal(t, "v1", resp.Header.Get("X-Modelgate-Version"))

	// A route change written by another process (the coordinator) is picked up.
	table, _ = json.Marshal(gateway.RouteTable{Model: "fraud", Stable: gateway.Backend{Version: "v9", URL: up.URL}, Mode: gateway.ModeStable})
	require.NoError(t, st.RouteSet(ctx, "fraud", table))
	require.Eventually(t, func() bool {
		resp, _ := post()
		return resp.Header.Get("X-Modelgate-Version") == "v9"
	}, 5*time.Second, 20*time.Millisecond)

	m, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	mb, _ := io.ReadAll(m.Body)
	m.Body.Close()
	require.Contains(t, string(mb), `modelgate_gateway_requests_total{model="fraud",outcome="ok",version="v1"}`)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not stop on cancel")
	}
	st.Close()
}

func TestGatewayCommandBadInput(t *testing.T) {
	t.Parallel()
	var stdout, stderr strings.Builder
	require.Equal(t, 2, execute([]string{"gateway", "--reload", "0s", "--data-dir", t.TempDir()}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "must be positive")
	require.Equal(t, 2, execute([]string{"gateway", "--addr", "256.1.1.1:99999", "--data-dir", t.TempDir()}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "listen on")
}
