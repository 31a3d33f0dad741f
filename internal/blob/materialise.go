package blob

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// CheckName says whether name may be a file of a run's inputs: a clean,
// relative, slash-separated path that stays inside its folder. The names
// come from the caller, so this is what keeps them from naming a server path.
func CheckName(name string) error {
	switch {
	case name == "" || name == ".":
		return errors.New("is empty")
	case len(name) > 1024:
		return errors.New("is longer than 1024 bytes")
	case strings.ContainsAny(name, "\x00\\"):
		return errors.New("contains a NUL byte or a backslash")
	case strings.HasPrefix(name, "/"):
		return errors.New("is absolute")
	case path.Clean(name) != name:
		return fmt.Errorf("is not clean (want %q)", path.Clean(name))
	case name == ".." || strings.HasPrefix(name, "../"):
		return errors.New("leaves its folder (..)")
	}
	return nil
}

// Covers reports whether the inputs hold p: a file named p, or files
// under the folder p.
func Covers(files map[string]string, p string) bool {
	p = path.Clean(filepath.ToSlash(p))
	if _, ok := files[p]; ok {
		return true
	}
	for name := range files {
		if strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

// MaterialiseParams lays inputs out as files.
type MaterialiseParams struct {
	Store *FS
	Files map[string]string // relative name -> digest
	Dir   string            // created; must not exist
}

// Materialise writes every input under Dir, read-only, hard-linked to its
// blob where the file system allows (so a 1 GiB artifact costs no copy)
// and copied otherwise. Every name is checked first, so nothing is
// written for a request that names a path outside Dir.
func Materialise(ctx context.Context, p MaterialiseParams) error {
	names := make([]string, 0, len(p.Files))
	for name, d := range p.Files {
		if err := CheckName(name); err != nil {
			return fmt.Errorf("files[%q]: %w", clip(name), err)
		}
		if _, err := ParseDigest(d); err != nil {
			return fmt.Errorf("files[%q]: %w", name, err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if strings.HasPrefix(names[i], names[i-1]+"/") {
			return fmt.Errorf("files[%q]: %q is a file, so it cannot also be a folder", names[i], names[i-1])
		}
	}
	if err := os.Mkdir(p.Dir, 0o755); err != nil {
		return fmt.Errorf("inputs folder: %w", err)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := p.Files[name]
		src, err := p.Store.Path(d)
		if err != nil {
			return err
		}
		if _, err := p.Store.Stat(ctx, d); err != nil {
			return fmt.Errorf("files[%q]: %w (upload it with PUT /v1/blobs/%s first)", name, err, d)
		}
		dst := filepath.Join(p.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("files[%q]: %w", name, err)
		}
		if err := os.Link(src, dst); err == nil {
			continue
		}
		if err := CopyFile(src, dst); err != nil {
			return fmt.Errorf("files[%q]: %w", name, err)
		}
	}
	return nil
}
