package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAssistSection(t *testing.T) {
	t.Parallel()
	base := "model: m\ntask: binary\ncandidate: {artifact: m.json}\n"
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{name: "absent means no LLM", yaml: ""},
		{name: "ollama", yaml: "assist: {base_url: 'http://localhost:11434/v1', model: 'llama3.1:8b', token_budget: 5000, timeout: 20s}\n"},
		{name: "no URL", yaml: "assist: {model: x}\n", wantErr: "assist.base_url"},
		{name: "not http", yaml: "assist: {base_url: 'localhost:11434', model: x}\n", wantErr: "assist.base_url"},
		{name: "no model", yaml: "assist: {base_url: 'http://h/v1'}\n", wantErr: "assist.model"},
		{name: "negative budget", yaml: "assist: {base_url: 'http://h/v1', model: x, token_budget: -1}\n", wantErr: "assist.token_budget"},
		{name: "a key in the file is refused", yaml: "assist: {base_url: 'http://h/v1', model: x, api_key: sk-1}\n", wantErr: "api_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse("m.yaml", []byte(base+tc.yaml))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if tc.yaml == "" {
				require.Nil(t, p.Assist)
				return
			}
			require.Equal(t, "llama3.1:8b", p.Assist.Model)
			require.Equal(t, 20*time.Second, p.Assist.Timeout.Duration)
			require.Equal(t, 5000, p.Assist.TokenBudget)
		})
	}
}
