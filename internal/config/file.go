package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// File is a pipeline config read from disk: the bytes as written (what a
// run stores and a remote server re-checks), the folder its relative
// paths resolve against, and the parsed pipeline, parsed once.
type File struct {
	Data     []byte
	Dir      string // absolute
	Pipeline *Pipeline
}

// ReadFile reads and parses the pipeline config at path.
func ReadFile(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("read pipeline config: %w", err)
	}
	p, err := Parse(path, data)
	if err != nil {
		return File{}, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return File{}, fmt.Errorf("folder of %s: %w", path, err)
	}
	return File{Data: data, Dir: dir, Pipeline: p}, nil
}
