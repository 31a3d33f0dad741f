package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// What every driver does to a record before it writes it lives here, so
// that the drivers differ only in how they store, never in what they store
// (the conformance suite in storetest checks the outcome).

// PrepareRun fills in what RunCreate fills in: an id (UUIDv7, so ids sort
// by creation), the queued state, the creation time (now when unset) in UTC
// without monotonic reading, UpdatedAt = CreatedAt and version 1. It fails
// when the decision is not valid JSON.
func PrepareRun(r Run, now time.Time) (Run, error) {
	if r.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return Run{}, fmt.Errorf("create run: new id: %w", err)
		}
		r.ID = id.String()
	}
	if r.State == "" {
		r.State = RunQueued
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.CreatedAt = r.CreatedAt.UTC().Round(0)
	r.UpdatedAt, r.Version = r.CreatedAt, 1
	if r.Decision != nil && !json.Valid(r.Decision) {
		return Run{}, fmt.Errorf("create run %s: decision is not valid JSON", r.ID)
	}
	return r, nil
}

// PrepareApproval fills in what ApprovalCreate fills in: an id, the pending
// state, the creation time, times in UTC, version 1, and empty (not null)
// groups and votes.
func PrepareApproval(a Approval, now time.Time) (Approval, error) {
	if a.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return Approval{}, fmt.Errorf("create approval: new id: %w", err)
		}
		a.ID = id.String()
	}
	if a.State == "" {
		a.State = ApprovalPending
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	a.CreatedAt = a.CreatedAt.UTC().Round(0)
	a.ExpiresAt, a.DecidedAt = UTCOrZero(a.ExpiresAt), UTCOrZero(a.DecidedAt)
	a.Version = 1
	if a.Groups == nil {
		a.Groups = []string{}
	}
	if a.Votes == nil {
		a.Votes = []Vote{}
	}
	return a, nil
}

// Apply returns the stored approval a with the decision p written into it
// and its version bumped, or an ErrConflict when a is no longer at
// p.ExpectVersion.
func (p ApprovalDecideParams) Apply(a Approval) (Approval, error) {
	if a.Version != p.ExpectVersion {
		return Approval{}, fmt.Errorf("version is %d, expected %d: %w", a.Version, p.ExpectVersion, ErrConflict)
	}
	if p.State != "" {
		a.State = p.State
	}
	if p.Votes != nil {
		a.Votes = p.Votes
	}
	for i := range a.Votes {
		a.Votes[i].At = UTCOrZero(a.Votes[i].At)
	}
	if p.Reason != "" {
		a.Reason = p.Reason
	}
	if !p.DecidedAt.IsZero() {
		a.DecidedAt = p.DecidedAt.UTC().Round(0)
	}
	a.Version++
	return a, nil
}

// UTCOrZero is t in UTC without its monotonic reading, or the zero time.
func UTCOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

// IdempotencyScope is the key a driver stores an idempotency key under: the
// key as the caller gave it, scoped by the run's requester. Two principals
// who happen to pick the same key (a CI job number, a commit SHA) must
// never get each other's run, and the length prefix keeps "a:b"+"c" from
// meeting "a"+"b:c".
func IdempotencyScope(requester, key string) string {
	if key == "" {
		return ""
	}
	return strconv.Itoa(len(requester)) + ":" + requester + ":" + key
}
