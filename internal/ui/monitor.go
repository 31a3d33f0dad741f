package ui

import (
	"errors"
	"net/http"
	"slices"
	"sort"

	"github.com/modelgate/modelgate/internal/chatops/monitor"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/store"
)

// monitorView is one monitored model on the monitor page.
type monitorView struct {
	Settings triggers.Monitor
	State    monitor.State
	Recent   []monitor.Check // newest first, at most 10
}

// Latest is the newest check, if any.
func (v monitorView) Latest() *monitor.Check {
	if len(v.Recent) == 0 {
		return nil
	}
	return &v.Recent[0]
}

// monitorPage lists every model with monitor settings that the session
// may read: its production version, streak and latest checks.
func (s *server) monitorPage(w http.ResponseWriter, r *http.Request, sess session) {
	if ok, err := s.can(r.Context(), sess, "read", "", ""); err != nil || !ok {
		s.fail(w, r, &sess, http.StatusForbidden, "You may not read the production monitor.")
		return
	}
	all, err := triggers.LoadAll(r.Context(), s.o.Store)
	if all == nil && err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	var views []monitorView
	for name, set := range all {
		if set.Monitor == nil {
			continue
		}
		cfg := set.Monitor.Defaults()
		if ok, err := s.can(r.Context(), sess, "read", name, cfg.Environment); err != nil || !ok {
			continue
		}
		st, err := monitor.Status(r.Context(), s.o.Store, name, cfg.Environment)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.internal(w, r, &sess, err)
			return
		}
		if errors.Is(err, store.ErrNotFound) {
			st = monitor.State{Model: name, Environment: cfg.Environment}
		}
		recent := slices.Clone(st.History)
		slices.Reverse(recent)
		if len(recent) > 10 {
			recent = recent[:10]
		}
		views = append(views, monitorView{Settings: cfg, State: st, Recent: recent})
	}
	sort.Slice(views, func(i, j int) bool { return views[i].State.Model < views[j].State.Model })
	s.render(w, http.StatusOK, "monitor", page{Title: "Production monitor", Session: &sess, Monitor: views})
}
