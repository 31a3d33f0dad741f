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

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/llm/scripted"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/tools/gateway"
)

// TestGatewayCommandServesOnlyAllowedPromptRoutes: `modelgate gateway`
// serves a prompt route from the store when --llm-endpoint-allow allows
// its endpoint, and not another one pointing elsewhere.
func TestGatewayCommandServesOnlyAllowedPromptRoutes(t *testing.T) {
	good := httptest.NewServer(scripted.New(scripted.Script{Default: "hello from the allowed one"}))
	defer good.Close()
	evil := scripted.New(scripted.Script{Default: "evil"})
	evilWeb := httptest.NewServer(evil)
	defer evilWeb.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, sqlite.FileName)})
	require.NoError(t, err)
	spec := &gateway.PromptSpec{Digest: "sha256:" + strings.Repeat("0", 64), Model: "small", System: "be brief"}
	for model, url := range map[string]string{"bot": good.URL + "/v1", "other": evilWeb.URL + "/v1"} {
		table, _ := json.Marshal(gateway.RouteTable{Model: model, Stable: gateway.Backend{Version: "p1", URL: url, Prompt: spec}, Mode: gateway.ModeStable})
		require.NoError(t, st.RouteSet(ctx, model, table))
	}
	pr, pw := io.Pipe()
	root := newRoot(pw, io.Discard)
	root.SetArgs([]string{"gateway", "--addr", "127.0.0.1:0", "--data-dir", dir, "--llm-endpoint-allow", good.URL + "/v1"})
	go func() { _ = root.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, line)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	post := func(model string) (int, string) {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post("bot")
	require.Equal(t, 200, code, body)
	require.Contains(t, body, "hello from the allowed one")
	code, body = post("other")
	require.Equal(t, 404, code, body)
	require.Zero(t, evil.Calls())
}
