package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
	tr, err := audit.Open(ctx, audit.Options{Store: st, KeyPath: filepath.Join(dir, audit.KeyFileName), CheckpointEvery: 10,
		CheckpointLog: filepath.Join(dir, audit.CheckpointLogFileName)})
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
	require.Contains(t, out, "checkpoint log: 3 of 3 match the chain")

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

// rehashFrom recomputes every stored hash from seq from on, as an attacker
// who read docs/audit.md (but has no key) would after editing an entry.
func rehashFrom(t *testing.T, db *sql.DB, from int64) {
	t.Helper()
	var prev string
	if from > 1 {
		require.NoError(t, db.QueryRow(`SELECT hash FROM audit WHERE seq = ?`, from-1).Scan(&prev))
	}
	head, err := audit.ParseHash(strings.Repeat("0", 64))
	require.NoError(t, err)
	if prev != "" {
		head, err = audit.ParseHash(prev)
		require.NoError(t, err)
	}
	var c audit.Chainer
	for e, err := range audit.StoreEntries(context.Background(), sqliteReader(t, db), from-1, 100) {
		require.NoError(t, err)
		head, err = c.Next(head, e)
		require.NoError(t, err)
		_, err = db.Exec(`UPDATE audit SET hash = ? WHERE seq = ?`, head.String(), e.Seq)
		require.NoError(t, err)
	}
}

// sqliteReader opens the attacked database through the real store, for
// reading entries the way verify does.
func sqliteReader(t *testing.T, db *sql.DB) *sqlite.Store {
	t.Helper()
	var path string
	require.NoError(t, db.QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path))
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestAuditVerifyCLICatchesForgery runs issue 21's attacks on a data dir
// laid out as the server keeps it, through the real command.
func TestAuditVerifyCLICatchesForgery(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string, db *sql.DB)
		args   []string
		want   string
	}{
		{"edit, re-hash, delete the database's checkpoints", func(t *testing.T, dir string, db *sql.DB) {
			_, err := db.Exec(`UPDATE audit SET data = '{"i":1000}' WHERE seq = 12`)
			require.NoError(t, err)
			rehashFrom(t, db, 12)
			_, err = db.Exec(`DELETE FROM audit_checkpoints`)
			require.NoError(t, err)
		}, nil, "checkpoint_log_mismatch"},
		{"cut the tail with its checkpoints", func(t *testing.T, dir string, db *sql.DB) {
			_, err := db.Exec(`DELETE FROM audit WHERE seq > 15`)
			require.NoError(t, err)
			_, err = db.Exec(`DELETE FROM audit_checkpoints WHERE seq > 15`)
			require.NoError(t, err)
		}, nil, "cut_tail"},
		{"rewrite database and log, caught by a saved checkpoint", func(t *testing.T, dir string, db *sql.DB) {
			_, err := db.Exec(`UPDATE audit SET data = '{"i":1000}' WHERE seq = 12`)
			require.NoError(t, err)
			rehashFrom(t, db, 12)
			_, err = db.Exec(`DELETE FROM audit_checkpoints`)
			require.NoError(t, err)
			require.NoError(t, os.Remove(filepath.Join(dir, audit.CheckpointLogFileName)))
		}, []string{"--interval", "0"}, "saved checkpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := auditDataDir(t, 25)
			saved := filepath.Join(t.TempDir(), "head.json")
			code, out, errOut := runAuditCLI("audit", "checkpoint", "--data-dir", dir, "-o", saved)
			require.Equal(t, 0, code, errOut)
			require.Empty(t, out)
			require.Contains(t, errOut, "signed head: seq 25")
			cps, err := audit.ReadCheckpointFile(saved)
			require.NoError(t, err)
			require.Len(t, cps, 1)

			args := append([]string{"audit", "verify", "--data-dir", dir, "--checkpoint", saved}, c.args...)
			code, out, errOut = runAuditCLI(args...)
			require.Equal(t, 0, code, out+errOut)
			require.Contains(t, out, "saved checkpoints: 1 of 1 are a prefix of the chain")

			db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
			require.NoError(t, err)
			c.tamper(t, dir, db)
			require.NoError(t, db.Close())
			code, out, _ = runAuditCLI(args...)
			require.Equal(t, 1, code, out)
			require.Contains(t, out, "audit trail TAMPERED")
			require.Contains(t, out, c.want)

			// No checkpoint of a tampered trail is handed out: either the
			// tampering shows, or (database and log both rewritten) there is
			// no signed head left to hand out.
			code, _, errOut = runAuditCLI("audit", "checkpoint", "--data-dir", dir)
			require.Equal(t, 1, code, errOut)
			require.Regexp(t, "TAMPERED|no signed checkpoint yet", errOut)
		})
	}
}

func TestAuditCheckpointCLIBadInput(t *testing.T) {
	dir := auditDataDir(t, 3)
	garbage := filepath.Join(t.TempDir(), "garbage.json")
	require.NoError(t, os.WriteFile(garbage, []byte("{\"seq\":1}\n"), 0o600))
	empty := filepath.Join(t.TempDir(), "empty.json")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"malformed saved checkpoint", []string{"audit", "verify", "--data-dir", dir, "--checkpoint", garbage}, "line 1: checkpoint: hash is missing"},
		{"empty saved checkpoint", []string{"audit", "verify", "--data-dir", dir, "--checkpoint", empty}, "holds no checkpoint"},
		{"missing saved checkpoint", []string{"audit", "verify", "--data-dir", dir, "--checkpoint", garbage + ".nope"}, "garbage.json.nope"},
		{"missing named log", []string{"audit", "verify", "--data-dir", dir, "--checkpoint-log", garbage + ".nope"}, "garbage.json.nope"},
		{"negative interval", []string{"audit", "verify", "--data-dir", dir, "--interval", "-1s"}, "--interval must be >= 0"},
		{"checkpoint without data", []string{"audit", "checkpoint", "--data-dir", t.TempDir()}, "modelgate.db is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runAuditCLI(c.args...)
			require.Equal(t, 2, code, errOut)
			require.Contains(t, errOut, c.want)
		})
	}
}

func TestSessionsEndAllCLI(t *testing.T) {
	dir := auditDataDir(t, 1)
	for _, want := range []string{"session epoch 1", "session epoch 2"} {
		code, out, errOut := runAuditCLI("sessions", "end-all", "--data-dir", dir)
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, want)
	}
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, sqlite.FileName)})
	require.NoError(t, err)
	defer st.Close()
	state, err := st.SessionState(context.Background(), "any")
	require.NoError(t, err)
	require.Equal(t, int64(2), state.Epoch, "what the reviewers' page checks on every request")

	code, _, errOut := runAuditCLI("sessions", "end-all", "--data-dir", t.TempDir())
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "modelgate.db is missing")
}
