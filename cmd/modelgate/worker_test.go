package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWorkerCommandErrors: bad flags are exit 2 before anything runs; a
// token the server does not know is 2; a token whose role may not work
// is 3 (forbidden), as for every command.
func TestWorkerCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.token")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	two := filepath.Join(dir, "two.token")
	require.NoError(t, os.WriteFile(two, []byte("a b\n"), 0o600))
	ok := filepath.Join(dir, "ok.token")
	require.NoError(t, os.WriteFile(ok, []byte("some-token\n"), 0o600))
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"deployment on a worker", []string{"worker", "--server", "http://127.0.0.1:1", "--token-file", ok, "--agents", "deployment"}, 2, "deployment stays on the server"},
		{"unknown agent", []string{"worker", "--server", "http://127.0.0.1:1", "--token-file", ok, "--agents", "magic"}, 2, `"magic"`},
		{"missing token file", []string{"worker", "--server", "http://127.0.0.1:1", "--token-file", filepath.Join(dir, "none")}, 2, "--token-file"},
		{"empty token file", []string{"worker", "--server", "http://127.0.0.1:1", "--token-file", empty}, 2, "one token"},
		{"two tokens", []string{"worker", "--server", "http://127.0.0.1:1", "--token-file", two}, 2, "one token"},
		{"not a URL", []string{"worker", "--server", "ftp://x", "--token-file", ok}, 2, "http(s) URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := execute(tc.args, &out, &errb)
			require.Equal(t, tc.code, code, errb.String())
			require.Contains(t, errb.String(), tc.msg)
		})
	}
}

// TestWorkerTokenRefusedByTheServer: against a real server, an unknown
// token exits 2 and a token without the work right exits 3.
func TestWorkerTokenRefusedByTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a server")
	}
	t.Parallel()
	r := rig(t, 5)
	unknown := filepath.Join(r.dir, "unknown.token")
	require.NoError(t, os.WriteFile(unknown, []byte("no-such-token-0123456789\n"), 0o600))
	ci := filepath.Join(r.dir, "ci.token")
	require.NoError(t, os.WriteFile(ci, []byte(faultCI+"\n"), 0o600))
	for _, tc := range []struct {
		file string
		code int
		msg  string
	}{{unknown, 2, "401"}, {ci, 3, "403"}} {
		var out, errb bytes.Buffer
		code := execute([]string{"worker", "--server", r.api, "--token-file", tc.file}, &out, &errb)
		require.Equal(t, tc.code, code, errb.String())
		require.Contains(t, errb.String(), tc.msg)
	}
}
