// Package workspace decides which server paths a submitted run may read:
// only those inside a folder the operator allowed with --workspace.
//
// A caller's token never chooses a path on the server. The one exception
// is an operator's explicit grant: a run's base_dir may name a folder
// inside a workspace root, and every path is judged after symbolic links
// are evaluated, so a link cannot lead out of the root.
package workspace

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Error says why a path was refused.
type Error struct {
	Path   string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("%q %s", e.Path, e.Reason) }

// ErrNoWorkspace is the reason when the server allows no server paths.
var ErrNoWorkspace = errors.New("server paths are refused: the server was started without --workspace; upload the files instead")

// Roots are the operator's workspace folders, symlink-evaluated once.
type Roots struct{ dirs []string }

// New evaluates each root; a root that does not exist is an error, so a
// mistyped flag is found at start-up, not at the first run.
func New(dirs []string) (Roots, error) {
	var r Roots
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return Roots{}, fmt.Errorf("workspace %s: %w", d, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return Roots{}, fmt.Errorf("workspace %s: %w", d, err)
		}
		r.dirs = append(r.dirs, real)
	}
	return r, nil
}

// Empty reports whether no workspace was allowed.
func (r Roots) Empty() bool { return len(r.dirs) == 0 }

// Resolve returns the real path of p (absolute, with its symbolic links
// evaluated) when it lies inside one of the roots, and an *Error naming p
// otherwise. p must exist.
func (r Roots) Resolve(p string) (string, error) {
	if r.Empty() {
		return "", &Error{Path: p, Reason: ErrNoWorkspace.Error()}
	}
	if strings.ContainsRune(p, 0) {
		return "", &Error{Path: p, Reason: "contains a NUL byte"}
	}
	if !filepath.IsAbs(p) {
		return "", &Error{Path: p, Reason: "is not absolute"}
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(p))
	if err != nil {
		return "", &Error{Path: p, Reason: "cannot be resolved: " + err.Error()}
	}
	for _, root := range r.dirs {
		if Within(root, real) {
			return real, nil
		}
	}
	return "", &Error{Path: p, Reason: "is outside every workspace the server allows"}
}

// Within reports whether path equals root or lies under it. Both must be
// clean absolute paths; "/srv/ws-evil" is not within "/srv/ws".
func Within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, "../"))
}
