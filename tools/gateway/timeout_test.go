package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHangingCandidateFallsBackFast: a candidate that accepts requests
// and never answers used to hold each client routed to it for the whole
// gateway timeout. With a per-route candidate timeout the client gets
// stable's answer once that expires, and the hang counts against the
// candidate. The gateway's own timeout is an hour here, so the client's
// 30 s limit (not a performance bound) only trips without the fix.
func TestHangingCandidateFallsBackFast(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Timeout: time.Hour})
	stable := newUpstream(t, firstFeature)
	cand := newUpstream(t, firstFeature)
	cand.block = make(chan struct{})
	t.Cleanup(func() { close(cand.block) })
	ctx := context.Background()
	require.NoError(t, b.gw.SetRoutes(ctx, "m", RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: stable.URL},
		Candidate: &Backend{Version: "v2", URL: cand.URL}, CandidateWeight: 100, CandidateTimeoutMs: 100, Mode: ModeCanary}))
	mark := b.gw.Mark("m")
	client := &http.Client{Timeout: 30 * time.Second}
	for range 3 {
		resp, err := client.Post(b.srv.URL+"/v2/models/m/infer", "application/json", strings.NewReader(string(EncodeRequest([][]float64{{1}}))))
		require.NoError(t, err, "the client must not wait for the hanging candidate")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, string(body))
		require.Equal(t, "v1", resp.Header.Get("X-Modelgate-Version"), "stable answered")
		require.Equal(t, "v2", resp.Header.Get("X-Modelgate-Fallback"))
	}
	st := b.gw.Stats("m", "v2", mark)
	require.EqualValues(t, 3, st.Errors, "each hang is a candidate error the analysis sees")
	require.EqualValues(t, 3, st.Fallbacks)

	bad := RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: stable.URL}, CandidateTimeoutMs: -1}
	require.ErrorContains(t, bad.Validate(), "candidate_timeout_ms")
}
