package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// auditDataDir makes a data dir laid out as `modelgate server` keeps it,
// with n audit entries and checkpoints every 10.
func auditDataDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, sqlite.FileName)})
	require.NoError(t, err)
	defer st.Close()
	tr, err := audit.Open(ctx, audit.Options{Store: st, KeyPath: filepath.Join(dir, audit.KeyFileName), CheckpointEvery: 10})
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, tr.Record(ctx, "run.created", "run-1", "ci", map[string]int{"i": i}))
	}
	require.NoError(t, tr.Close())
	return dir
}

// runAuditCLI runs the binary's entry point in-process. The CLI root keeps its
// global flags in package variables, so these tests do not run in parallel.
func runAuditCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := execute(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAuditVerifyCLI(t *testing.T) {
	dir := auditDataDir(t, 25)

	code, out, errOut := runAuditCLI("audit", "verify", "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "audit trail intact: 25 entries (seq 1..25)")
	require.Contains(t, out, "checkpoints: 3 of 3 verified")

	code, out, _ = runAuditCLI("audit", "verify", "--data-dir", dir, "--json")
	require.Equal(t, 0, code)
	var rep audit.VerifyReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.True(t, rep.Intact)
	require.Equal(t, int64(25), rep.Entries)

	export := filepath.Join(t.TempDir(), "audit.jsonl")
	code, _, errOut = runAuditCLI("audit", "export", "--data-dir", dir, "-o", export)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "exported 25 entries and 3 checkpoints")
	code, out, errOut = runAuditCLI("audit", "verify", "--file", export, "--public-key", filepath.Join(dir, "audit.key.pub"))
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "audit trail intact: 25 entries")

	code, out, _ = runAuditCLI("audit", "export", "--data-dir", dir, "--since", "20")
	require.Equal(t, 0, code)
	require.Equal(t, 7, bytes.Count([]byte(out), []byte("\n")), "header, entries 21..25, the checkpoint at 25")

	// Tamper with entry 12: exit 1 and the entry is named.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE audit SET data = '{"i":1000}' WHERE seq = 12`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	code, out, _ = runAuditCLI("audit", "verify", "--data-dir", dir)
	require.Equal(t, 1, code)
	require.Contains(t, out, "audit trail TAMPERED")
	require.Contains(t, out, "first bad entry: seq 12: hash_mismatch")
	code, out, _ = runAuditCLI("audit", "verify", "--data-dir", dir, "--json")
	require.Equal(t, 1, code)
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, int64(12), rep.FirstBad.Seq)
}

func TestAuditCLIBadInput(t *testing.T) {
	dir := auditDataDir(t, 3)
	empty := t.TempDir()
	garbage := filepath.Join(empty, "garbage.jsonl")
	require.NoError(t, os.WriteFile(garbage, []byte("hello\n"), 0o600))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no data", []string{"audit", "verify", "--data-dir", empty}, "modelgate.db is missing"},
		{"no key", []string{"audit", "verify", "--data-dir", empty, "--file", garbage}, "--file needs --public-key"},
		{"bad key", []string{"audit", "verify", "--data-dir", dir, "--public-key", garbage}, "garbage.jsonl"},
		{"not an export", []string{"audit", "verify", "--file", garbage, "--public-key", filepath.Join(dir, "audit.key.pub")}, "not a modelgate audit export"},
		{"missing export", []string{"audit", "verify", "--file", filepath.Join(empty, "nope"), "--public-key", filepath.Join(dir, "audit.key.pub")}, "nope"},
		{"since beyond", []string{"audit", "export", "--data-dir", dir, "--since", "9"}, "beyond the last entry"},
		{"negative since", []string{"audit", "export", "--data-dir", dir, "--since", "-1"}, "--since must be >= 0"},
		{"export no data", []string{"audit", "export", "--data-dir", empty}, "modelgate.db is missing"},
		{"stray argument", []string{"audit", "verify", "extra"}, "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runAuditCLI(c.args...)
			require.Equal(t, 2, code, errOut)
			require.Contains(t, errOut, c.want)
		})
	}
	_, err := os.Stat(filepath.Join(empty, "modelgate.db"))
	require.True(t, os.IsNotExist(err), "verify never creates a database")
}
