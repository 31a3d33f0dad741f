package app

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/lease"
	"github.com/modelgate/modelgate/internal/store"
)

// sharedStore reports whether the store may be shared by several servers
// (Redis); SQLite is one server's.
func sharedStore(storeURL string) bool {
	return strings.HasPrefix(storeURL, "redis://") || strings.HasPrefix(storeURL, "rediss://")
}

// ownership names this server for its run leases. On a shared store each
// replica gets a name of its own and looks for runs orphaned by a dead
// replica; on SQLite the coordinator's stable default lets a restarted
// server take its runs back at once.
func ownership(o Options) coordinator.OwnershipOptions {
	if !sharedStore(o.StoreURL) {
		return coordinator.OwnershipOptions{}
	}
	host, _ := os.Hostname()
	return coordinator.OwnershipOptions{
		Owner:       fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8]),
		TTL:         15 * time.Second,
		ResumeEvery: 5 * time.Second,
	}
}

// buildLeader makes the scheduler leader: the one replica that runs cron
// ticks, the production monitor and other work that must not run twice.
func buildLeader(s *Server, st store.Store) error {
	l, err := lease.NewLeader(lease.LeaderOptions{Store: st, Owner: s.Coordinator.Owner(), Logger: s.log})
	if err != nil {
		return err
	}
	s.Leader = l
	return nil
}

// startLeader campaigns for as long as the server runs.
func (s *Server) startLeader(ctx context.Context) {
	if s.Leader != nil {
		go s.Leader.Run(ctx)
	}
}

// IsLeader reports whether this server is the scheduler leader now.
func (s *Server) IsLeader() bool { return s.Leader != nil && s.Leader.IsLeader() }

// routeAnnouncer is a store that announces route changes (Redis).
type routeAnnouncer interface {
	RouteChanges(ctx context.Context) <-chan string
}

// SyncRoutes keeps a gateway's tables in step with the store: at once on
// every announced change, and every reconcile interval whatever happens
// (an announcement can be missed during a reconnect). On a store that
// announces nothing (SQLite: one process) only the timer runs, and only
// when reconcile is positive.
func SyncRoutes(ctx context.Context, st store.Store, load func(context.Context) error, reconcile time.Duration, lg interface {
	Warn(msg any, kv ...any)
}) {
	var changes <-chan string
	if a, ok := st.(routeAnnouncer); ok {
		changes = a.RouteChanges(ctx)
	}
	if changes == nil && reconcile <= 0 {
		return
	}
	var tick <-chan time.Time
	if reconcile > 0 {
		t := time.NewTicker(reconcile)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
		case <-tick:
		}
		if err := load(ctx); err != nil && ctx.Err() == nil {
			lg.Warn("reload routes", "err", err)
		}
	}
}

// startRouteSync keeps this server's own gateway in step with route
// changes other replicas' deployments make.
func (s *Server) startRouteSync(ctx context.Context) {
	if !sharedStore(s.o.StoreURL) {
		return // one process: its gateway installs every change itself
	}
	go SyncRoutes(ctx, s.Store, s.Gateway.Load, 2*time.Second, s.log)
}
