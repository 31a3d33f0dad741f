package coordinator

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
)

// TestDeployInfoNamesUnverifiedUpstreams: the policy can refuse to serve a
// candidate from a server that need not prove what it serves only if the
// coordinator tells it where the candidate will be served from, in the
// same order the deployment agent picks a backend.
func TestDeployInfoNamesUnverifiedUpstreams(t *testing.T) {
	t.Parallel()
	base := "model: m\ntask: binary\ndata: {holdout: h.csv}\ncandidate: {artifact: m.json}\n"
	cases := map[string]struct {
		yaml                 string
		endpoint             string
		upstream, unverified bool
	}{
		"artifact served locally":         {yaml: "deploy: {strategy: canary}\n"},
		"local target":                    {yaml: "deploy: {target: {local: {model: m.json}}}\n"},
		"upstream target":                 {yaml: "deploy: {target: {upstream: 'http://10.0.0.1:9000'}}\n", upstream: true},
		"upstream, unverified asked":      {yaml: "deploy: {target: {upstream: 'http://10.0.0.1:9000', allow_unverified: true}}\n", upstream: true, unverified: true},
		"candidate's own endpoint":        {yaml: "deploy: {strategy: canary}\n", endpoint: "http://10.0.0.2:9000", upstream: true},
		"local target beats the endpoint": {yaml: "deploy: {target: {local: {model: m.json}}}\n", endpoint: "http://10.0.0.2:9000"},
		"no rollout at all":               {yaml: "deploy: {target: {upstream: 'http://10.0.0.1:9000', allow_unverified: true}}\nstages: {skip: [deploy]}\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse("modelgate.yaml", []byte(base+tc.yaml))
			require.NoError(t, err)
			run := store.Run{Candidate: store.Candidate{Endpoint: tc.endpoint}}
			d := deployInfo(cfg, run, 1)
			require.Equal(t, tc.upstream, d.Upstream, "upstream")
			require.Equal(t, tc.unverified, d.Unverified, "unverified")
		})
	}
}
