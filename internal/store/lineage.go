package store

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Lineage is where a registered version came from, recorded once when it
// is registered and never changed: a version's bytes are content-addressed
// (ModelVersion.Digest), and so is everything that produced them.
type Lineage struct {
	// Data maps a dataset's role in the run (reference, holdout, current)
	// to the sha256 digest of the file the run read.
	Data map[string]string `json:"data,omitempty"`
	// ConfigDigest is the sha256 of the pipeline YAML as submitted.
	ConfigDigest string `json:"config_digest,omitempty"`
	// Commit and CommitAuthor come from the run's labels (commit, sha,
	// git_sha) and metadata (a GitHub push).
	Commit       string `json:"commit,omitempty"`
	CommitAuthor string `json:"commit_author,omitempty"`
	Requester    string `json:"requester,omitempty"`
	Trigger      string `json:"trigger,omitempty"`
	// Command is the training command as run (argv, after templating);
	// empty for a candidate that was handed in rather than trained.
	Command []string `json:"command,omitempty"`
	// Env is the training command's environment as configured, each value
	// masked the way run logs are.
	Env map[string]string `json:"env,omitempty"`
	// Toolchain: the sandbox, the modelgate build, an image label when
	// the run carried one.
	Toolchain map[string]string `json:"toolchain,omitempty"`
	// Decision is the policy decision that let the version in, as stored
	// on the run; PolicyRevision the bundle that made it.
	Decision       json.RawMessage    `json:"decision,omitempty"`
	PolicyRevision string             `json:"policy_revision,omitempty"`
	Approvals      []LineageApproval  `json:"approvals,omitempty"`
	Evidence       map[string]float64 `json:"evidence,omitempty"` // every stage's metrics, stage-prefixed
	Imported       *LineageImport     `json:"imported,omitempty"` // set when a signed bundle brought it (lineage_import.go)
}

// LineageApproval is one approval request of the producing run, as decided.
type LineageApproval struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	Risk      string    `json:"risk,omitempty"`
	Votes     []Vote    `json:"votes,omitempty"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
}

// Registry is what the model registry keeps besides the immutable
// versions: annotations that may change (description, tags) and aliases
// (champion, challenger, any name) that point at a version.
type Registry interface {
	// ModelVersionAnnotate changes a registered version's description
	// and tags; ErrNotFound for a version never registered.
	ModelVersionAnnotate(ctx context.Context, p ModelVersionAnnotateParams) (VersionNotes, error)
	// ModelVersionNotes returns them (zero notes when none were set);
	// ErrNotFound for a version never registered.
	ModelVersionNotes(ctx context.Context, model, version string) (VersionNotes, error)
	// AliasSet points an alias at a registered version (ErrNotFound
	// otherwise), keeping the one it replaces as Previous. ErrConflict
	// when p.Expect is set and the alias points elsewhere ("" = unset).
	AliasSet(ctx context.Context, p AliasSetParams) (Alias, error)
	AliasGet(ctx context.Context, model, name string) (Alias, error)
	AliasList(ctx context.Context, model string) ([]Alias, error) // sorted by name
}

// VersionNotes are a version's description and tags.
type VersionNotes struct {
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	UpdatedAt   time.Time         `json:"updated_at,omitzero"`
}

// ModelVersionAnnotateParams sets Description when non-nil, sets the
// SetTags and removes the DeleteTags.
type ModelVersionAnnotateParams struct {
	Model, Version string
	Description    *string
	SetTags        map[string]string
	DeleteTags     []string
}

// Alias is a named pointer at a version of a model.
type Alias struct {
	Model     string    `json:"model"`
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	Previous  string    `json:"previous,omitempty"`
	Actor     string    `json:"actor,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AliasSetParams moves an alias.
type AliasSetParams struct {
	Model, Name, Version string
	Expect               *string // compare-and-swap on the current version ("" = unset)
	Actor, Reason        string
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidName checks an alias name or tag key: letters, digits, '.', '_',
// '-', starting with a letter or digit, at most 63 characters.
func ValidName(kind, s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%s %q: want letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63 characters", kind, s)
	}
	return nil
}

// Validate checks annotation params before a driver stores them.
func (p ModelVersionAnnotateParams) Validate() error {
	if p.Model == "" || p.Version == "" {
		return fmt.Errorf("annotate %q of %q: model and version are required", p.Version, p.Model)
	}
	if p.Description != nil && len(*p.Description) > 4096 {
		return fmt.Errorf("annotate %s@%s: description is %d bytes, at most 4096", p.Model, p.Version, len(*p.Description))
	}
	for k, v := range p.SetTags {
		if err := ValidName("tag", k); err != nil {
			return fmt.Errorf("annotate %s@%s: %w", p.Model, p.Version, err)
		}
		if len(v) > 256 {
			return fmt.Errorf("annotate %s@%s: tag %s: value is %d bytes, at most 256", p.Model, p.Version, k, len(v))
		}
	}
	for _, k := range p.DeleteTags {
		if err := ValidName("tag", k); err != nil {
			return fmt.Errorf("annotate %s@%s: %w", p.Model, p.Version, err)
		}
	}
	return nil
}

// Validate checks alias params before a driver stores them.
func (p AliasSetParams) Validate() error {
	if p.Model == "" || p.Version == "" {
		return fmt.Errorf("set alias %q of %q: model and version are required", p.Name, p.Model)
	}
	if err := ValidName("alias", p.Name); err != nil {
		return fmt.Errorf("set alias of %s: %w", p.Model, err)
	}
	return nil
}
