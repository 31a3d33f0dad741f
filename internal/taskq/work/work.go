// Package work is what a remote stage task carries to a worker (the run's
// inputs, candidate and production by digest) and what the worker sends
// back.
//
// The body names files only by digest: a worker fetches each one from its
// server and checks its SHA-256 before laying it out, and the server hands
// out only the digests the body names. Paths in it are relative names a
// worker chooses where to put; none of them is a path on the server.
package work

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/pipeline"
)

// Body is the payload of a taskq.Task for a remote stage.
type Body struct {
	Model       string `json:"model"`
	Environment string `json:"environment"`
	Config      string `json:"config"` // modelgate.yaml as the run was submitted
	// Inputs maps each file under the run's base folder that the config
	// names to its digest.
	Inputs     map[string]string          `json:"inputs,omitempty"`
	Candidate  Artifact                   `json:"candidate"`
	Production *Production                `json:"production,omitempty"`
	Reports    map[string]pipeline.Report `json:"reports,omitempty"` // earlier stages of the run
}

// Artifact is a candidate or production model: a file (Name → digest in
// Files under the key Name) or a folder (Files keyed Name/relative path),
// or an endpoint with no files.
type Artifact struct {
	Version  string            `json:"version,omitempty"`
	Digest   string            `json:"digest,omitempty"` // the run's digest of the whole artifact
	Endpoint string            `json:"endpoint,omitempty"`
	Name     string            `json:"name,omitempty"` // base name of the file or folder
	Dir      bool              `json:"dir,omitempty"`
	Files    map[string]string `json:"files,omitempty"` // relative name (under Name) → digest
}

// Production is what served the environment when the task was made.
type Production struct {
	Artifact
}

// Digests lists every blob the body names, sorted and unique: the only
// blobs a worker holding the task may fetch.
func (b Body) Digests() []string {
	set := map[string]bool{}
	for _, d := range b.Inputs {
		set[d] = true
	}
	for _, d := range b.Candidate.Files {
		set[d] = true
	}
	if b.Production != nil {
		for _, d := range b.Production.Files {
			set[d] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// Names reports whether the body names digest.
func (b Body) Names(digest string) bool { return slices.Contains(b.Digests(), digest) }

// Check says what is wrong with a body a worker received: every name is a
// clean relative name and every digest is well formed, so laying the
// files out cannot write outside the worker's folder.
func (b Body) Check() error {
	if b.Config == "" {
		return errors.New("task body: config is empty")
	}
	if err := checkFiles("inputs", b.Inputs); err != nil {
		return err
	}
	if err := b.Candidate.check("candidate"); err != nil {
		return err
	}
	if b.Production != nil {
		if err := b.Production.check("production"); err != nil {
			return err
		}
	}
	return nil
}

func (a Artifact) check(field string) error {
	if len(a.Files) == 0 {
		return nil
	}
	if err := blob.CheckName(a.Name); err != nil {
		return fmt.Errorf("task body: %s.name %q: %w", field, a.Name, err)
	}
	for name := range a.Files {
		if name != a.Name && !strings.HasPrefix(name, a.Name+"/") {
			return fmt.Errorf("task body: %s.files[%q] is not under %q", field, name, a.Name)
		}
	}
	return checkFiles(field+".files", a.Files)
}

func checkFiles(field string, files map[string]string) error {
	for name, d := range files {
		if err := blob.CheckName(name); err != nil {
			return fmt.Errorf("task body: %s[%q]: %w", field, name, err)
		}
		if _, err := blob.ParseDigest(d); err != nil {
			return fmt.Errorf("task body: %s[%q]: %w", field, name, err)
		}
	}
	return nil
}

// Result is what a worker reports for a task, stored first-write-wins
// under the task's key (run/stage/attempt).
type Result struct {
	Report    *pipeline.Report `json:"report,omitempty"`
	Error     string           `json:"error,omitempty"` // the agent could not run
	Retriable bool             `json:"retriable,omitempty"`
	Worker    string           `json:"worker"` // who reported (token subject and instance), set by the server
	// DeadLetter is set by the server, not a worker, when the task was
	// given up on: the stage fails with Error.
	DeadLetter bool `json:"dead_letter,omitempty"`
}

// Check says what is wrong with a reported result.
func (r Result) Check() error {
	switch {
	case r.Report == nil && r.Error == "":
		return errors.New("result: give a report or an error")
	case r.Report != nil && r.Error != "":
		return errors.New("result: give a report or an error, not both")
	case r.Report != nil:
		switch r.Report.Verdict {
		case pipeline.Pass, pipeline.Warn, pipeline.Fail:
		default:
			return fmt.Errorf("result: report.verdict %q is not pass, warn or fail", r.Report.Verdict)
		}
	}
	return nil
}
