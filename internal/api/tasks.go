package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/agents/training"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/taskq"
	"github.com/modelgate/modelgate/internal/taskq/work"
)

// The worker API: a worker reaches the task streams only through its
// server, with a token of the worker role, and never holds Redis
// credentials. The server reads the stream for it (XREADGROUP with the
// worker as the consumer), hands each task out with a claim token, lets
// it fetch only the blobs that task names, and stores the one result it
// reports before acknowledging the task (XACK).

// ClaimRequest is the body of POST /v1/tasks/claim.
type ClaimRequest struct {
	Stages []string `json:"stages"`
	// Worker names this worker process among those of its token (the
	// consumer in the group is "<token subject>/<worker>").
	Worker string `json:"worker"`
	// WaitSeconds is how long to wait for a task; 0 = answer at once, at most 20.
	WaitSeconds int `json:"wait_seconds,omitempty"`
}

// ClaimedTask is a task handed to a worker.
type ClaimedTask struct {
	ID         string          `json:"id"`    // for the task's other endpoints
	Claim      string          `json:"claim"` // show it in the Modelgate-Claim header
	RunID      string          `json:"run_id"`
	Stage      string          `json:"stage"`
	Attempt    int             `json:"attempt"`
	Deliveries int64           `json:"deliveries"`
	Body       json.RawMessage `json:"body"` // work.Body
	// HeartbeatSeconds is how often to POST /v1/tasks/{id}/heartbeat
	// while working: a task untouched for three of these goes to another
	// worker.
	HeartbeatSeconds float64 `json:"heartbeat_seconds"`
}

// ClaimReply is the answer of POST /v1/tasks/claim.
type ClaimReply struct {
	Tasks []ClaimedTask `json:"tasks"`
}

// TaskReport is the body of POST /v1/tasks/{id}/report. RunID, Stage and
// Attempt are optional: when given they must be the claimed task's.
type TaskReport struct {
	RunID   string `json:"run_id,omitempty"`
	Stage   string `json:"stage,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	work.Result
}

// TaskReportReply is the answer of POST /v1/tasks/{id}/report.
type TaskReportReply struct {
	Key    string `json:"key"` // run/stage/attempt
	Stored bool   `json:"stored"`
}

// ClaimHeader carries a task's claim token.
const ClaimHeader = "Modelgate-Claim"

var workerName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (s *Server) taskQueue() (*taskq.Queue, error) {
	if s.o.Tasks == nil {
		return nil, errorf(http.StatusNotImplemented, "not_implemented", "this server publishes no stage tasks (start it with --remote-stages on a Redis store)")
	}
	return s.o.Tasks, nil
}

func (s *Server) taskClaim(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q, err := s.taskQueue()
	if err != nil {
		return err
	}
	if err := s.authorize(r.Context(), p, "work", "", ""); err != nil {
		return err
	}
	var req ClaimRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if !workerName.MatchString(req.Worker) {
		return badRequest("worker: is required, 1-64 of A-Z a-z 0-9 . _ -")
	}
	if len(req.Stages) == 0 {
		return badRequest("stages: name at least one of " + fmt.Sprint(s.o.TaskStages))
	}
	for _, st := range req.Stages {
		if !slices.Contains(s.o.TaskStages, st) {
			return badRequest(fmt.Sprintf("stages: %q is not a remote stage of this server (it publishes %v)", st, s.o.TaskStages))
		}
	}
	if req.WaitSeconds < 0 || req.WaitSeconds > 20 {
		return badRequest("wait_seconds: must be between 0 and 20")
	}
	consumer := p.Subject + "/" + req.Worker
	// A blocked read sees new tasks only; a dead worker's become claimable
	// after ClaimIdle, so no wait may outlast half of it.
	block := min(time.Duration(req.WaitSeconds)*time.Second, q.ClaimIdle()/2)
	got, err := q.Receive(r.Context(), taskq.ReceiveParams{Stages: slices.Compact(slices.Sorted(slices.Values(req.Stages))),
		Consumer: consumer, Count: 1, Block: block})
	if err != nil {
		if r.Context().Err() != nil {
			return nil // the worker went away while waiting
		}
		return err
	}
	reply := ClaimReply{Tasks: []ClaimedTask{}}
	for _, t := range got {
		c, err := q.ClaimIssue(r.Context(), t, p.Subject, consumer)
		if err != nil {
			return err
		}
		reply.Tasks = append(reply.Tasks, ClaimedTask{ID: c.ID, Claim: c.Token, RunID: t.RunID, Stage: t.Stage,
			Attempt: t.Attempt, Deliveries: t.Deliveries, Body: t.Body, HeartbeatSeconds: (q.ClaimIdle() / 3).Seconds()})
		s.o.Logger.Info("task claimed", "task", c.ID, "key", t.Key(), "worker", consumer, "deliveries", t.Deliveries)
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// claimed checks the caller's claim on the task of the path: the task id
// well formed, the token the current claim's and issued to this subject.
// Every failure answers the same, so a caller learns nothing of tasks
// that are not its own.
func (s *Server) claimed(r *http.Request, p auth.Principal, action string) (*taskq.Queue, taskq.Claim, error) {
	q, err := s.taskQueue()
	if err != nil {
		return nil, taskq.Claim{}, err
	}
	if err := s.authorize(r.Context(), p, action, "", ""); err != nil {
		return nil, taskq.Claim{}, err
	}
	id := r.PathValue("id")
	if _, _, err := taskq.ParseTaskID(id); err != nil {
		return nil, taskq.Claim{}, badRequest(err.Error())
	}
	c, err := q.ClaimCheck(r.Context(), id, r.Header.Get(ClaimHeader), p.Subject)
	if errors.Is(err, taskq.ErrNoClaim) {
		return nil, taskq.Claim{}, errorf(http.StatusConflict, "no_claim",
			fmt.Sprintf("task %s: no current claim with this %s header for %s (never handed to this worker, or handed to another since)", id, ClaimHeader, p.Subject))
	}
	return q, c, err
}

func (s *Server) taskBlob(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	bs, err := s.blobs()
	if err != nil {
		return err
	}
	_, c, err := s.claimed(r, p, "blob_read")
	if err != nil {
		return err
	}
	d, err := blobDigest(r)
	if err != nil {
		return err
	}
	var body work.Body
	if err := json.Unmarshal(c.Task.Body, &body); err != nil {
		return fmt.Errorf("task %s body: %w", c.ID, err)
	}
	if !body.Names(d) {
		return notFound("task " + c.ID + " names no blob " + d)
	}
	rc, info, err := bs.Open(r.Context(), d)
	if errors.Is(err, blob.ErrNotFound) {
		return notFound("no blob " + d)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
	return nil
}

// taskHeartbeat keeps a claimed task the caller's while it works on it.
func (s *Server) taskHeartbeat(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q, c, err := s.claimed(r, p, "work")
	if err != nil {
		return err
	}
	switch err := q.Touch(r.Context(), c.Task, c.Consumer); {
	case errors.Is(err, taskq.ErrNotPending):
		return errorf(http.StatusConflict, "not_pending", "task "+c.ID+" is no longer pending (withdrawn: its stage timed out or its run ended)")
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// taskBlobPut takes a train task's artifact: only the worker holding the
// claim of a train task may upload, only bytes that hash to the digest
// named, and its report may then name that digest and no other blob.
func (s *Server) taskBlobPut(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	bs, err := s.blobs()
	if err != nil {
		return err
	}
	q, c, err := s.claimed(r, p, "work")
	if err != nil {
		return err
	}
	if c.Task.Stage != coordinator.StageTrain {
		return forbidden(fmt.Sprintf("task %s is a %s task: only a train task hands an artifact back", c.ID, c.Task.Stage))
	}
	d, err := blobDigest(r)
	if err != nil {
		return err
	}
	info, created, err := bs.Put(r.Context(), blob.PutParams{Digest: d, Body: r.Body, Max: s.o.MaxBlobBytes})
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, blob.ErrDigestMismatch):
		return errorf(http.StatusBadRequest, "digest_mismatch", err.Error())
	case errors.Is(err, blob.ErrTooLarge), errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("artifact is larger than this server accepts (%d bytes, --max-blob-bytes)", s.o.MaxBlobBytes))
	case err != nil:
		return err
	}
	if err := q.UploadAdd(r.Context(), c.ID, info.Digest); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, BlobReply{Info: info, Created: created})
	return nil
}

// checkTrained holds a train report to what its worker uploaded: the
// artifact it names is a blob uploaded under this claim; the path is the
// worker's and is dropped (the coordinator takes the blob).
func (s *Server) checkTrained(r *http.Request, q *taskq.Queue, c taskq.Claim, res *work.Result) error {
	if c.Task.Stage != coordinator.StageTrain || res.Report == nil {
		return nil
	}
	var d training.Details
	if err := json.Unmarshal(res.Report.Details, &d); err != nil || d.Digest == "" {
		return badRequest("report.details: a train report names its artifact's digest (details.digest)")
	}
	ok, err := q.UploadHas(r.Context(), c.ID, d.Digest)
	if err != nil {
		return err
	}
	if !ok {
		return badRequest(fmt.Sprintf("report.details.digest %s was not uploaded for task %s (PUT /v1/tasks/%s/blobs/%s first)", d.Digest, c.ID, c.ID, d.Digest))
	}
	d.ArtifactPath = ""
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	res.Report.Details = raw
	return nil
}

func (s *Server) taskReport(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q, c, err := s.claimed(r, p, "work")
	if err != nil {
		return err
	}
	var req TaskReport
	if err := decode(r, &req); err != nil {
		return err
	}
	t := c.Task
	if (req.RunID != "" && req.RunID != t.RunID) || (req.Stage != "" && req.Stage != t.Stage) || (req.Attempt != 0 && req.Attempt != t.Attempt) {
		return errorf(http.StatusConflict, "wrong_task", fmt.Sprintf("task %s is %s; the report names run %q stage %q attempt %d", c.ID, t.Key(), req.RunID, req.Stage, req.Attempt))
	}
	res := req.Result
	res.DeadLetter = false // only the server gives a task up
	res.Worker = c.Consumer
	if err := res.Check(); err != nil {
		return badRequest(err.Error())
	}
	if res.Report != nil {
		res.Report.Stage = t.Stage
	}
	if err := s.checkTrained(r, q, c, &res); err != nil {
		return err
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	stored := true
	switch err := q.ResultPut(r.Context(), t.Key(), raw); {
	case errors.Is(err, taskq.ErrReported):
		stored = false
	case err != nil:
		return err
	}
	// Acknowledged only once the result is stored: a crash before this
	// line leaves the task pending, and its redelivery finds the result.
	if err := q.Ack(r.Context(), t); err != nil {
		return err
	}
	_ = q.ClaimDrop(r.Context(), c.ID)
	if s.o.Recorder != nil {
		verdict := ""
		if res.Report != nil {
			verdict = string(res.Report.Verdict)
		}
		if err := s.o.Recorder.Record(r.Context(), "task.reported", t.RunID, p.Subject, map[string]any{
			"stage": t.Stage, "attempt": t.Attempt, "worker": c.Consumer, "stored": stored, "verdict": verdict, "error": res.Error}); err != nil {
			s.o.Logger.Error("audit record failed", "type", "task.reported", "err", err)
		}
	}
	if !stored {
		return errorf(http.StatusConflict, "already_reported", fmt.Sprintf("%s already has a result; the first one stands", t.Key()))
	}
	writeJSON(w, http.StatusOK, TaskReportReply{Key: t.Key(), Stored: true})
	return nil
}
