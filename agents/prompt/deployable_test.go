package prompt

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/llmeval"
)

func TestDeployable(t *testing.T) {
	t.Parallel()
	const base = "model: bot\ntask: llm\ncandidate: {artifact: prompt.yaml}\nllm: {suite: evals.yaml}\n"
	for _, c := range []struct {
		name, cfg, system string
		finding           bool
	}{
		{"variables, rolled out", base + "deploy: {min_requests: 5}\n", "You help {{ customer }}.", true},
		{"variables, registry only", base, "You help {{ customer }}.", false},
		{"no variables, rolled out", base + "deploy: {min_requests: 5}\n", "You help customers.", false},
		{"rolled out, deploy skipped", base + "deploy: {min_requests: 5}\nstages: {skip: [deploy]}\n", "You help {{ customer }}.", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := config.Parse("modelgate.yaml", []byte(c.cfg))
			require.NoError(t, err)
			f := (&runner{cfg: p}).deployable(&llmeval.Prompt{System: c.system})
			if !c.finding {
				require.Nil(t, f)
				return
			}
			require.NotNil(t, f)
			require.Equal(t, "llm.not_deployable", f.Code)
			require.Contains(t, f.Message, "template")
		})
	}
}
