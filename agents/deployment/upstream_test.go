package deployment

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/model"
)

// TestUpstreamMustServeTheApprovedDigest: what reviewers approved is what
// is served, also when modelgate does not start the server. Before any
// request reaches an upstream candidate, the rollout asks its V2 metadata
// which bytes it holds; one that holds other bytes never gets traffic
// (whatever the config asks), and one that does not say gets traffic only
// when the run asked for it (deploy.target.allow_unverified), which the
// promotion policy refuses unless its settings allow it.
func TestUpstreamMustServeTheApprovedDigest(t *testing.T) {
	t.Parallel()
	approved := fileDigest(t, candModel)
	other := fileDigest(t, prodModel)
	cases := map[string]struct {
		versions   []string // what the upstream lists as the model's versions
		allow      bool     // deploy.target.allow_unverified
		promoted   bool
		reason     string
		unverified bool
	}{
		"lists the approved digest":              {versions: []string{approved}, promoted: true},
		"lists the approved digest among others": {versions: []string{"7", approved}, promoted: true},
		"lists another digest":                   {versions: []string{other}, reason: "not the approved candidate"},
		"lists another digest, unverified asked": {versions: []string{other}, allow: true, reason: "not the approved candidate"},
		"lists nothing":                          {reason: "does not show it serves the approved candidate"},
		"lists a version name":                   {versions: []string{"v2"}, reason: "does not show it serves the approved candidate"},
		"lists nothing, unverified asked":        {allow: true, promoted: true, unverified: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.production()
			// It answers with production's trees so that the canary has
			// nothing to find: only the metadata check decides here.
			p, err := model.Load(prodModel)
			require.NoError(t, err)
			inner := model.NewServer(model.ServerOptions{Models: map[string]model.Predictor{"fraud": p}, Logger: log.New(io.Discard)})
			var infers atomic.Int64
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && r.URL.Path == "/v2/models/fraud" {
					md := `{"name":"fraud","platform":"xgboost_json","inputs":[],"outputs":[]`
					if tc.versions != nil {
						md += `,"versions":["` + strings.Join(tc.versions, `","`) + `"]`
					}
					_, _ = io.WriteString(w, md+"}")
					return
				}
				if strings.HasSuffix(r.URL.Path, "/infer") {
					infers.Add(1)
				}
				inner.ServeHTTP(w, r)
			}))
			t.Cleanup(up.Close)
			yaml := "deploy: {min_requests: 10, canary: {steps: [50, 100]}, target: {upstream: " + up.URL
			if tc.allow {
				yaml += ", allow_unverified: true"
			}
			task := e.task("run-up", pipeline(t, yaml+"}}\n"))
			require.Equal(t, approved, task.Candidate.Digest)
			// Enough traffic per window that the canary's checks are never
			// inconclusive on identical scores.
			st, seen := e.drive(e.agent, task, 1000, 30*time.Second, 20, nil)
			require.NotNil(t, st.Upstream, "the check is recorded in the rollout state")
			checked := e.audit.OfType("deploy.upstream_checked")
			require.Len(t, checked, 1, "and audited once")
			if !tc.promoted {
				requireRolledBack(t, e, st, tc.reason)
				require.Zero(t, infers.Load(), "no request, not even the smoke test, reached an upstream that did not prove what it serves: %v", seen)
				return
			}
			require.Equal(t, PhasePromoted, st.Phase, "%v %s", seen, st.Reason)
			require.Equal(t, tc.unverified, st.Upstream.Unverified)
			require.Equal(t, !tc.unverified, st.Upstream.Verified)
			require.Positive(t, infers.Load())
		})
	}
}
