package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	sqlitedrv "modernc.org/sqlite"

	"github.com/modelgate/modelgate/internal/store"
)

// FileName is the database file inside a modelgate data directory.
const FileName = "modelgate.db"

// Options configures Open.
type Options struct {
	// Path of the database file; it and its parent folder are created
	// when missing.
	Path string
	// Synchronous is the PRAGMA synchronous level: "NORMAL" (default, safe
	// against process crashes) or "FULL" (also against power loss).
	Synchronous string
	// BusyTimeout is how long a writer waits for another process holding
	// the write lock before failing; default 10s.
	BusyTimeout time.Duration
	// Readers caps the read connections; default 4.
	Readers int
	// Now is the clock for created/updated times; default time.Now.
	Now func() time.Time
}

// Store is the SQLite implementation of store.Store.
type Store struct {
	path string
	w    *sql.DB // exactly one connection: every write is serialised through it
	r    *sql.DB // read-only pool; WAL lets these run beside the writer
	now  func() time.Time

	auditOne, auditMany *sql.Stmt // prepared at Open on the writer connection
	wc, rc              *stmtCache
}

var _ store.Store = (*Store)(nil)

// Open opens (creating when missing) the database at o.Path and migrates
// its schema to the current version.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Path == "" {
		return nil, errors.New("sqlite: Options.Path is required")
	}
	if o.Path == ":memory:" || strings.HasPrefix(o.Path, "file:") {
		return nil, fmt.Errorf("sqlite: Options.Path must be a file path, got %q", o.Path)
	}
	if o.Synchronous == "" {
		o.Synchronous = "NORMAL"
	}
	switch strings.ToUpper(o.Synchronous) {
	case "NORMAL", "FULL":
	default:
		return nil, fmt.Errorf("sqlite: Options.Synchronous must be NORMAL or FULL, got %q", o.Synchronous)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.Readers <= 0 {
		o.Readers = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if dir := filepath.Dir(o.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory %s: %w", dir, err)
		}
	}

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+strings.ToUpper(o.Synchronous)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: o.Path}).EscapedPath() + "?" + q.Encode()

	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	s := &Store{path: o.Path, w: w, now: o.Now, wc: newStmtCache(w)}
	if err := s.migrate(ctx); err != nil {
		_ = w.Close()
		return nil, err
	}
	if err := s.prepareAudit(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}

	rq := url.Values{}
	rq.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+(&url.URL{Path: o.Path}).EscapedPath()+"?"+rq.Encode())
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", o.Path, err)
	}
	r.SetMaxOpenConns(o.Readers)
	r.SetMaxIdleConns(o.Readers)
	s.r = r
	s.rc = newStmtCache(r)
	log.Debug("sqlite store open", "path", o.Path, "synchronous", o.Synchronous)
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Ping checks that both pools answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.path, err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.path, err)
	}
	return nil
}

// Close closes the database; in-flight calls finish first.
func (s *Store) Close() error {
	s.wc.close()
	if s.rc != nil {
		s.rc.close()
	}
	var serr error
	for _, st := range []*sql.Stmt{s.auditOne, s.auditMany} {
		if st != nil {
			serr = errors.Join(serr, st.Close())
		}
	}
	err := errors.Join(serr, s.r.Close(), s.w.Close())
	if err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	return nil
}

// migrations are applied in order; migration i brings user_version to i+1.
// Never edit one that has shipped: append a new one.
var migrations = []string{
	`
CREATE TABLE runs (
	id              TEXT PRIMARY KEY,
	model           TEXT NOT NULL,
	environment     TEXT NOT NULL,
	state           TEXT NOT NULL,
	trigger         TEXT NOT NULL,
	requester       TEXT NOT NULL,
	commit_author   TEXT NOT NULL,
	config          BLOB,
	base_dir        TEXT NOT NULL,
	candidate       TEXT NOT NULL,
	decision        TEXT,
	error           TEXT NOT NULL,
	labels          TEXT,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	version         INTEGER NOT NULL,
	idempotency_key TEXT UNIQUE,
	request_digest  TEXT NOT NULL
);
CREATE INDEX runs_created ON runs (created_at DESC);
CREATE INDEX runs_model_created ON runs (model, created_at DESC);
CREATE INDEX runs_state ON runs (state);

CREATE TABLE stages (
	run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	state       TEXT NOT NULL,
	attempt     INTEGER NOT NULL,
	verdict     TEXT NOT NULL,
	report      TEXT,
	error       TEXT NOT NULL,
	started_at  INTEGER,
	finished_at INTEGER,
	PRIMARY KEY (run_id, name)
);

CREATE TABLE logs (
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq    INTEGER NOT NULL,
	stage  TEXT NOT NULL,
	time   INTEGER NOT NULL,
	text   TEXT NOT NULL,
	PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE approvals (
	id         TEXT PRIMARY KEY,
	run_id     TEXT NOT NULL,
	state      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	version    INTEGER NOT NULL,
	body       TEXT NOT NULL
);
CREATE INDEX approvals_created ON approvals (created_at DESC);
CREATE INDEX approvals_run ON approvals (run_id);

CREATE TABLE audit (
	seq    INTEGER PRIMARY KEY,
	time   INTEGER NOT NULL,
	type   TEXT NOT NULL,
	run_id TEXT NOT NULL,
	actor  TEXT NOT NULL,
	data   BLOB,
	hash   TEXT NOT NULL
);
CREATE INDEX audit_run ON audit (run_id, seq) WHERE run_id <> '';
CREATE INDEX audit_type ON audit (type, seq);

CREATE TABLE audit_checkpoints (
	seq       INTEGER PRIMARY KEY,
	hash      TEXT NOT NULL,
	time      INTEGER NOT NULL,
	key_id    TEXT NOT NULL,
	signature TEXT NOT NULL
);

CREATE TABLE model_versions (
	model         TEXT NOT NULL,
	version       TEXT NOT NULL,
	digest        TEXT NOT NULL,
	artifact_path TEXT NOT NULL,
	endpoint      TEXT NOT NULL,
	run_id        TEXT NOT NULL,
	metrics       TEXT,
	created_at    INTEGER NOT NULL,
	PRIMARY KEY (model, version)
);

CREATE TABLE production (
	model       TEXT NOT NULL,
	environment TEXT NOT NULL,
	version     TEXT NOT NULL,
	previous    TEXT NOT NULL,
	run_id      TEXT NOT NULL,
	reason      TEXT NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (model, environment)
) WITHOUT ROWID;

CREATE TABLE routes (
	model TEXT PRIMARY KEY,
	tbl   TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE rollouts (
	run_id     TEXT PRIMARY KEY,
	model      TEXT NOT NULL,
	data       TEXT,
	version    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;
`,
	`
CREATE TABLE sessions_ended (
	id    TEXT PRIMARY KEY,
	until INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE session_epoch (
	one   INTEGER PRIMARY KEY CHECK (one = 1),
	epoch INTEGER NOT NULL
);
`,
	`
CREATE TABLE claims (
	key   TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	until INTEGER NOT NULL -- unix nanoseconds; 0 = never expires
) WITHOUT ROWID;

CREATE TABLE model_settings (
	model TEXT PRIMARY KEY,
	doc   TEXT NOT NULL
) WITHOUT ROWID;
`,
	`
CREATE TABLE gateway_windows (
	model   TEXT NOT NULL,
	gateway TEXT NOT NULL,
	doc     TEXT NOT NULL,
	PRIMARY KEY (model, gateway)
) WITHOUT ROWID;
`,
	// leases.go: ownership with fencing tokens; a row outlives its lease so
	// that the key's next token is always larger.
	`
CREATE TABLE leases (
	key   TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	token INTEGER NOT NULL,
	until INTEGER NOT NULL -- unix nanoseconds; 0 = released
) WITHOUT ROWID;

ALTER TABLE runs ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
`,
	registryMigration, // registry_notes.go
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	var v int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("migrate %s: read schema version: %w", s.path, err)
	}
	if v > len(migrations) {
		return fmt.Errorf("migrate %s: schema version %d is newer than this binary supports (%d); upgrade modelgate", s.path, v, len(migrations))
	}
	if v == len(migrations) {
		return nil
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate %s to schema version %d: %w", s.path, i+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return fmt.Errorf("migrate %s: set schema version: %w", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s: commit: %w", s.path, err)
	}
	log.Debug("sqlite schema migrated", "path", s.path, "from", v, "to", len(migrations))
	return nil
}

// SchemaVersion reports the database's PRAGMA user_version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.r.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version of %s: %w", s.path, err)
	}
	return v, nil
}

// tx runs f in one write transaction (BEGIN IMMEDIATE), committing when f
// returns nil.
func (s *Store) tx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if s.wc != nil {
		s.wc.preparePending(ctx)
	}
	return nil
}

// sqlite result codes the driver branches on.
const (
	codeConstraint   = 19
	codeConstraintFK = 787
)

func isConstraint(err error) bool {
	var e *sqlitedrv.Error
	return errors.As(err, &e) && e.Code()&0xff == codeConstraint
}

func isForeignKey(err error) bool {
	var e *sqlitedrv.Error
	return errors.As(err, &e) && (e.Code() == codeConstraintFK || strings.Contains(e.Error(), "FOREIGN KEY"))
}

// Times are stored as Unix nanoseconds (UTC); the zero time as NULL so that
// it survives the round trip (its UnixNano is out of range).
func tsOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func ts(t time.Time) int64 { return t.UnixNano() }

func fromTS(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func nullIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func nullIfEmptyStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func limitOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
