package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidateTextWithAHugeColumnName: the text table cuts long cells
// instead of padding every row to a 400 KB column name (27 MB of output).
func TestValidateTextWithAHugeColumnName(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 400<<10)
	cases := []struct {
		name, ref, data string
	}{
		{"long column in the data", "a,b\n1,2\n3,4\n5,6\n", "a,b," + long + "\n1,2,3\n3,4,5\n5,6,7\n"},
		{"long column in the reference", "a,b," + long + "\n1,2,3\n3,4,5\n5,6,7\n", "a,b\n1,2\n3,4\n5,6\n"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref := filepath.Join(dir, "ref"+string(rune('a'+i))+".csv")
			data := filepath.Join(dir, "data"+string(rune('a'+i))+".csv")
			require.NoError(t, os.WriteFile(ref, []byte(tc.ref), 0o644))
			require.NoError(t, os.WriteFile(data, []byte(tc.data), 0o644))
			_, out, errOut := cli("validate", "--reference", ref, "--data", data)
			require.Contains(t, out, "…", "the long name is cut: %s", errOut)
			require.Less(t, len(out), 8<<10, "no padding to the long name")
		})
	}
}

// TestDemoHeadingsPlainOffATerminal: escape codes only for a terminal.
func TestNoEscapeCodesOffATerminal(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("model: m\ntask: binary\ncandidate: {artifact: m.json}\n"), 0o644))
	_, out, errOut := cli("run", "-f", cfg, "--local")
	require.NotContains(t, out+errOut, "\x1b[")
}
