package audit

import (
	"bytes"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"
)

// TestKeyCreationGoesToTheCallersLogger: `run --local` makes a fresh data
// folder (and key) on every run and logs at warn level; the key's
// creation must go to that logger, not to the global one, so it is not
// printed every time, while a server's info logger still says it.
func TestKeyCreationGoesToTheCallersLogger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		level log.Level
		want  bool
	}{
		{"server logging at info", log.InfoLevel, true},
		{"run --local logging at warn", log.WarnLevel, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			b := setup(t, Options{Logger: log.NewWithOptions(&buf, log.Options{Level: tc.level})})
			require.FileExists(t, b.keyPath)
			require.Equal(t, tc.want, bytes.Contains(buf.Bytes(), []byte("created audit signing key")), buf.String())
		})
	}
}
