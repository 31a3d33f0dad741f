package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDemoLLMCommand: `modelgate demo --llm` runs the LLM demo and says
// what happened to each prompt version.
func TestDemoLLMCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: three rollouts")
	}
	code, stdout, stderr := cli("demo", "--llm", "--data-dir", t.TempDir())
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"== modelgate demo --llm", "Promoted support-bot v1", "Promoted support-bot v2 to production, replacing v1 after shadow mean token F1",
		"Rolled back support-bot v3; all traffic is back on v2", "hash chain and signed checkpoints verified: true"} {
		require.True(t, strings.Contains(stdout, want), "no %q in:\n%s", want, stdout)
	}
}
