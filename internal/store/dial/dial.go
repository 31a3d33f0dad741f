// Package dial opens the store a --store URL names: sqlite://PATH (the
// default, one process) or redis://HOST:PORT/DB (shared by several).
package dial

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// Params says which store to open.
type Params struct {
	// URL is sqlite://PATH, redis://[user:pass@]HOST:PORT/DB or
	// rediss://…; empty means SQLite in DataDir.
	URL string
	// DataDir holds the default SQLite file, and relative sqlite:// paths
	// are not resolved against it (they are the operator's own).
	DataDir string
	// Prefix starts every Redis key; default "modelgate:".
	Prefix string
}

// Opened is an open store and what an operator should know about it.
type Opened struct {
	Store  store.Store
	Driver string // sqlite | redis
	// Warnings name ways the store can lose writes it acknowledged, found
	// at open (a Redis without AOF, say); the server logs them.
	Warnings []string
}

// Open opens the store p names and checks it answers.
func Open(ctx context.Context, p Params) (Opened, error) {
	spec := p.URL
	if spec == "" {
		return openSQLite(ctx, filepath.Join(p.DataDir, sqlite.FileName))
	}
	u, err := url.Parse(spec)
	if err != nil {
		return Opened{}, fmt.Errorf("--store %q: %w", redact(spec), err)
	}
	switch u.Scheme {
	case "sqlite":
		path := strings.TrimPrefix(spec, "sqlite://")
		if path == "" {
			return Opened{}, fmt.Errorf("--store %q: want sqlite://PATH", spec)
		}
		return openSQLite(ctx, path)
	case "redis", "rediss":
		st, err := redis.Open(ctx, redis.Options{URL: spec, Prefix: p.Prefix})
		if err != nil {
			return Opened{}, fmt.Errorf("--store %s: %w", redact(spec), err)
		}
		return Opened{Store: st, Driver: "redis", Warnings: st.Durability(ctx)}, nil
	default:
		return Opened{}, fmt.Errorf("--store %q: unknown scheme %q; want sqlite://PATH or redis://HOST:PORT/DB", redact(spec), u.Scheme)
	}
}

func openSQLite(ctx context.Context, path string) (Opened, error) {
	st, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		return Opened{}, fmt.Errorf("open store %s: %w", path, err)
	}
	return Opened{Store: st, Driver: "sqlite"}, nil
}

// redact drops a password from a URL before it is printed.
func redact(spec string) string {
	u, err := url.Parse(spec)
	if err != nil || u.User == nil {
		if i := strings.Index(spec, "@"); i >= 0 {
			return "…" + spec[i:]
		}
		return spec
	}
	return u.Redacted()
}
