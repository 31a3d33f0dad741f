package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/redact"
)

// StreamEvent is one event of a run's stream: the coordinator's shape,
// plus, for steps of a rollout and other audited moments, the audit
// entry's type and data. Its SSE id is the audit entry's sequence number.
type StreamEvent struct {
	coordinator.Event
	Seq   int64           `json:"seq,omitempty"`
	Audit string          `json:"audit,omitempty"` // the audit entry's type: deploy.step, approval.requested...
	Data  json.RawMessage `json:"data,omitempty"`
}

// runEvents streams a run's changes as server-sent events: a "snapshot"
// of the run, then "state", "stage" and "progress" events, ending when
// the run is terminal or the client goes away.
//
// The events are read from the audit trail, not from the coordinator's
// in-memory fan-out: the trail is durable and ordered, so every event
// has an id (its sequence number) that survives a restart of the
// server. A client that lost the stream reconnects with Last-Event-ID
// and gets every event after it, then the snapshot, then what follows;
// nothing is lost and nothing is repeated.
func (s *Server) runEvents(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	run, err := s.loadRun(r, p, "read")
	if err != nil {
		return err
	}
	var cursor int64
	resume := false
	if h := strings.TrimSpace(r.Header.Get("Last-Event-ID")); h != "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "bad_request", fmt.Sprintf("Last-Event-ID %q: want the id of an event of this stream (a sequence number)", h))
		}
		cursor, resume = n, true
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		return errorf(http.StatusInternalServerError, "internal", "streaming unsupported")
	}
	// The coordinator's fan-out only wakes the loop early; what is sent
	// comes from the trail.
	wake, done := s.o.Coordinator.Subscribe(run.ID)
	defer done()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(200)
	send := func(typ string, id int64, v any) {
		b, _ := json.Marshal(v)
		if id > 0 {
			fmt.Fprintf(w, "id: %d\n", id)
		}
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
		fl.Flush()
	}
	// drain sends (or, before the first snapshot, skips) the run's audit
	// entries after cursor; it reports whether one ended the run.
	drain := func(emit bool) (bool, error) {
		for {
			es, err := s.o.Store.AuditList(r.Context(), store.AuditListParams{RunID: run.ID, AfterSeq: cursor, Limit: 500})
			if err != nil {
				return false, err
			}
			for _, e := range es {
				cursor = e.Seq
				if !emit {
					continue
				}
				typ, ev := streamEventOf(e)
				send(typ, e.Seq, ev)
				if typ == "state" && ev.State.Terminal() {
					return true, nil
				}
			}
			if len(es) < 500 {
				return false, nil
			}
		}
	}
	ended, err := drain(resume)
	if err != nil || ended {
		return nil // headers are out; the client sees the stream end
	}
	cur, err := s.o.Store.RunGet(r.Context(), run.ID)
	if err != nil {
		return nil
	}
	v, err := s.view(r, cur)
	if err != nil {
		return nil
	}
	send("snapshot", cursor, v)
	if cur.State.Terminal() {
		return nil
	}
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	// The coordinator publishes before it records, and another process
	// may drive the run: a short poll of the trail catches both.
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case e := <-wake:
			if ended, err := drain(true); err != nil || ended {
				return nil
			}
			if cursor == 0 {
				// No trail records this run (a coordinator built without
				// one, in tests and tools): its events go out as they
				// come, without ids to resume from.
				send(e.Type, 0, StreamEvent{Event: e})
				if e.Type == "state" && e.State.Terminal() {
					return nil
				}
			}
			continue
		case <-poll.C:
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
			continue
		}
		ended, err := drain(true)
		if err != nil || ended {
			return nil
		}
		// A store without a trail for this run (none is configured)
		// still ends the stream when the run ends.
		if cur, err := s.o.Store.RunGet(r.Context(), run.ID); err == nil && cur.State.Terminal() {
			if ended, err := drain(true); err == nil && !ended {
				send("state", 0, StreamEvent{Event: coordinator.Event{RunID: run.ID, Type: "state", State: cur.State, Message: cur.Error, Time: cur.UpdatedAt}})
			}
			return nil
		}
	}
}

// streamEventOf turns an audit entry of a run into an event of its
// stream: run.<state> is a state event, stage.* a stage event, anything
// else (rollout steps, approvals, promotion) a progress event.
func streamEventOf(e store.AuditEntry) (string, StreamEvent) {
	var d struct {
		Stage   string `json:"stage"`
		Verdict string `json:"verdict"`
		Error   string `json:"error"`
		Reason  string `json:"reason"`
	}
	_ = json.Unmarshal(e.Data, &d)
	ev := StreamEvent{Event: coordinator.Event{RunID: e.RunID, Time: e.Time}, Seq: e.Seq, Audit: e.Type}
	if st, ok := strings.CutPrefix(e.Type, "run."); ok && isRunState(st) {
		ev.Type, ev.State, ev.Message = "state", store.RunState(st), redact.String(d.Reason)
		return "state", ev
	}
	switch e.Type {
	case "stage.started":
		ev.Type, ev.Stage, ev.StageState = "stage", d.Stage, store.StageRunning
		return "stage", ev
	case "stage.finished":
		ev.Type, ev.Stage, ev.StageState, ev.Verdict = "stage", d.Stage, store.StageSucceeded, d.Verdict
		return "stage", ev
	case "stage.failed":
		ev.Type, ev.Stage, ev.StageState, ev.Message = "stage", d.Stage, store.StageFailed, redact.String(d.Error)
		return "stage", ev
	}
	ev.Type, ev.Data = "progress", e.Data
	return "progress", ev
}

func isRunState(s string) bool {
	for _, st := range store.AllRunStates {
		if string(st) == s {
			return true
		}
	}
	return false
}
