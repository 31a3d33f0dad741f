package config

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// Preflight checks what a run would otherwise learn only in its first
// stage, after retries: that every file the config names exists and is
// readable, and that the label column is in the labelled data. Problems
// name the field at fault (data.holdout, label) and come all at once,
// as a *Error, so that a CLI exits 2 before anything runs. base resolves
// relative paths; file names the config in the error.
func (p *Pipeline) Preflight(file, base string) error {
	var probs []Problem
	missing := map[string]bool{}
	for _, f := range p.Files() {
		if f.Field == "security.signature" {
			continue // optional: its absence is the security agent's finding
		}
		path := Resolve(base, f.Path)
		fh, err := os.Open(path)
		if err != nil {
			missing[f.Field] = true
			msg := fmt.Sprintf("%s: %v", f.Path, err)
			if errors.Is(err, fs.ErrNotExist) {
				msg = fmt.Sprintf("%s does not exist", path)
			}
			probs = append(probs, Problem{Field: f.Field, Message: msg})
			continue
		}
		fh.Close()
	}
	if p.Label != "" && p.Task != "llm" {
		// Only the holdout must be labelled: a reference may be unlabelled
		// serving data that drift is measured against.
		for _, f := range []FileRef{{"data.holdout", p.Data.Holdout}} {
			if f.Path == "" || missing[f.Field] {
				continue
			}
			cols, err := csvHeader(Resolve(base, f.Path), p.Data.Delimiter)
			if err != nil || cols == nil {
				continue // unreadable or Parquet: the validate stage says what is wrong with it
			}
			if !slices.Contains(cols, p.Label) {
				probs = append(probs, Problem{Field: "label", Message: fmt.Sprintf("column %q is not in %s (%s); its columns: %s",
					p.Label, f.Field, f.Path, shortList(cols, 12))})
			}
		}
	}
	if len(probs) > 0 {
		return &Error{File: file, Problems: probs}
	}
	return nil
}

// csvHeader reads the first record of a CSV file; nil for Parquet.
func csvHeader(path, delimiter string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(4)
	if bytes.Equal(head, []byte("PAR1")) {
		return nil, nil
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	// A header line is short; a file without newlines is not worth reading whole here.
	r := csv.NewReader(io.LimitReader(br, 1<<20))
	if d := []rune(delimiter); len(d) == 1 {
		r.Comma = d[0]
	}
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil {
		return nil, err
	}
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	return rec, nil
}

func shortList(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(", … (%d in all)", len(s))
}
