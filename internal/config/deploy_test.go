package config

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDeployDefaults(t *testing.T) {
	t.Parallel()
	p, err := Parse("m.yaml", []byte("model: m\ntask: binary\ncandidate: {artifact: m.json}\ndeploy:\n  shadow: {}\n"))
	require.NoError(t, err)
	d := p.Deploy
	require.Equal(t, "canary", d.Strategy)
	require.Equal(t, []int{5, 25, 50, 100}, d.Canary.Steps)
	require.Equal(t, 30*time.Second, d.Canary.Interval.Duration)
	require.Equal(t, 2, d.Canary.MaxFailedChecks)
	require.Equal(t, 0.01, *d.Canary.Checks.ErrorRate.Max)
	require.Equal(t, 0.2, *d.Canary.Checks.ScorePSI.Max)
	require.Equal(t, 2*time.Minute, d.Shadow.Duration.Duration)
	require.Equal(t, 1.0, d.Shadow.Share)
	require.Equal(t, 0.95, *d.Shadow.Checks.Agreement.Min)
	require.Equal(t, 5*time.Minute, d.BlueGreen.RollbackWindow.Duration)
	require.Equal(t, 20, d.MinReqs)
	require.Equal(t, 3, d.Inconcl)
	require.Equal(t, time.Hour, d.Timeout.Duration)

	// no shadow section: no shadow phase
	p, err = Parse("m.yaml", []byte("model: m\ntask: binary\ncandidate: {artifact: m.json}\n"))
	require.NoError(t, err)
	require.Nil(t, p.Deploy.Shadow)
}

func TestDeployDesignSketchParses(t *testing.T) {
	t.Parallel()
	// The deploy section of DESIGN.md's config sketch, verbatim.
	y := `model: fraud-detector
task: binary
candidate: {artifact: model.json}
deploy:
  target: {upstream: http://127.0.0.1:9001}  # or local: {model: model.json}
  strategy: canary                         # canary | bluegreen
  shadow: {duration: 2m, share: 1.0}
  canary: {steps: [5, 25, 50, 100], interval: 30s, max_failed_checks: 2,
           checks: {error_rate: {max: 0.01}, latency_p99_ms: {max: 50}, score_psi: {max: 0.2}}}
`
	p, err := Parse("modelgate.yaml", []byte(y))
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:9001", p.Deploy.Target.Upstream)
	require.Equal(t, 50.0, *p.Deploy.Canary.Checks.LatencyP99Ms.Max)
}

func TestDeployValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, deploy, field string
		line                int
	}{
		{"strategy", "  strategy: yolo\n", "deploy.strategy", 5},
		{"both targets", "  target: {upstream: http://x:1, local: {model: m.json}}\n", "deploy.target", 5},
		{"bad upstream", "  target: {upstream: 'ftp://x'}\n", "deploy.target.upstream", 5},
		{"local without model", "  target: {local: {}}\n", "deploy.target.local.model", 5},
		{"steps decrease", "  canary: {steps: [50, 25]}\n", "deploy.canary.steps[1]", 5},
		{"step over 100", "  canary: {steps: [5, 150]}\n", "deploy.canary.steps[1]", 5},
		{"negative interval", "  canary: {interval: -1s}\n", "deploy.canary.interval", 5},
		{"share over 1", "  shadow: {share: 1.5}\n", "deploy.shadow.share", 5},
		{"agreement over 1", "  shadow: {checks: {agreement: {min: 2}}}\n", "deploy.shadow.checks.agreement.min", 5},
		{"error rate negative", "  canary: {checks: {error_rate: {max: -0.1}}}\n", "deploy.canary.checks.error_rate.max", 5},
		{"min over max", "  canary: {checks: {score_ks: {min: 0.5, max: 0.1}}}\n", "deploy.canary.checks.score_ks", 5},
		{"mann whitney alpha", "  canary: {checks: {mann_whitney: {alpha: 1.5}}}\n", "deploy.canary.checks.mann_whitney.alpha", 5},
		{"sticky header", "  sticky_header: 'X Customer'\n", "deploy.sticky_header", 5},
		{"max failed checks", "  canary: {max_failed_checks: -1}\n", "deploy.canary.max_failed_checks", 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("m.yaml", []byte("model: m\ntask: binary\ncandidate: {artifact: m.json}\ndeploy:\n"+tc.deploy))
			var ce *Error
			require.True(t, errors.As(err, &ce), "%v", err)
			var fields []string
			for _, p := range ce.Problems {
				fields = append(fields, p.Field)
				if p.Field == tc.field {
					require.Equal(t, tc.line, p.Pos.Line, p.String())
				}
			}
			require.Contains(t, fields, tc.field)
		})
	}
	_, err := Parse("m.yaml", []byte("model: m\ntask: binary\ncandidate: {artifact: m.json}\ndeploy:\n  canary: {stepz: [1]}\n"))
	require.ErrorContains(t, err, `unknown key "stepz"`)
}

func TestDeployCheckOff(t *testing.T) {
	t.Parallel()
	base := "model: m\ntask: binary\ncandidate: {artifact: m.json}\ndeploy:\n  canary:\n    checks: "
	p, err := Parse("m.yaml", []byte(base+"{score_psi: {off: true}}\n"))
	require.NoError(t, err)
	require.False(t, p.Deploy.Canary.Checks.ScorePSI.Set(), "off must beat the default")
	require.True(t, p.Deploy.Canary.Checks.ErrorRate.Set(), "other defaults stay")
	p, err = Parse("m.yaml", []byte(base+"{}\n"))
	require.NoError(t, err)
	require.True(t, p.Deploy.Canary.Checks.ScorePSI.Set(), "the default applies when not switched off")
	_, err = Parse("m.yaml", []byte(base+"{score_psi: {off: true, max: 1}}\n"))
	require.ErrorContains(t, err, "deploy.canary.checks.score_psi")
}
