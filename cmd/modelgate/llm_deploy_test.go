package main

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents/prompt"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/llm/scripted"
)

// TestLLMDeployFromACITokenCallsOnlyAllowedEndpoints: a ci token submits
// a task: llm run with a rollout whose prompt names an endpoint outside
// the server's allowlist. The server (deployment agent and gateway
// included) never calls it and never routes the model there.
func TestLLMDeployFromACITokenCallsOnlyAllowedEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	good := httptest.NewServer(scripted.New(llmScript()))
	defer good.Close()
	evil := scripted.New(llmScript())
	evilWeb := httptest.NewServer(evil)
	defer evilWeb.Close()
	t.Setenv("MODELGATE_UPLOAD_CACHE", t.TempDir())
	ctx := context.Background()
	s, err := app.Build(ctx, app.Options{DataDir: t.TempDir(), Logger: log.NewWithOptions(io.Discard, log.Options{}), DeployTick: 50 * time.Millisecond,
		Prompt: prompt.Options{Allow: llm.Allowlist{Entries: []string{good.URL + "/v1"}}, Sleep: func(time.Duration) {}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Start(ctx))
	web := httptest.NewServer(s.Handler)
	t.Cleanup(web.Close)
	ci := tokenOf(t, s, "ci")

	dir := t.TempDir()
	cfg := writeLLMPipeline(t, dir, llmPrompt(evilWeb.URL+"/v1", "large", "be brief"))
	b, err := os.ReadFile(cfg)
	require.NoError(t, err)
	deploy := "deploy:\n  min_requests: 5\n  shadow: {duration: 1s}\n  canary: {steps: [100], interval: 1s}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "modelgate.yaml"), append(b, deploy...), 0o644))
	code, stdout, stderr := cli("run", "-f", cfg, "--wait", "--server", web.URL, "--token", ci, "--json")
	require.Equal(t, 1, code, stderr)
	require.True(t, strings.Contains(stdout+stderr, "llm.endpoint_not_allowed"), "%.3000s", stderr)
	require.Zero(t, evil.Calls(), "the server called an endpoint the caller chose")
	_, routed := s.Gateway.Routes("support-bot")
	require.False(t, routed, "the gateway was pointed at the caller's endpoint")
	// and the gateway itself refuses such a route, whoever asks
	require.Error(t, s.Gateway.AllowsPromptUpstream(evilWeb.URL+"/v1"))
	require.NoError(t, s.Gateway.AllowsPromptUpstream(good.URL+"/v1"))
}
