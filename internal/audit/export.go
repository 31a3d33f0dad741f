package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/internal/store"
)

// ErrBadSince is wrapped by Export when ExportParams.Since does not name
// an entry of the trail.
var ErrBadSince = errors.New("bad since")

// ExportFormat names the export file format in its header line.
const ExportFormat = "modelgate-audit-export"

// ExportHeader is the first line of an export file.
type ExportHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Since: the export holds entries after this seq. PrevHash is the hash
	// of entry Since (empty when Since is 0), which anchors the chain.
	Since      int64     `json:"since"`
	PrevHash   string    `json:"prev_hash,omitempty"`
	HeadSeq    int64     `json:"head_seq"`
	ExportedAt time.Time `json:"exported_at"`
}

// exportLine is every line after the header: exactly one field is set.
type exportLine struct {
	Entry      *store.AuditEntry `json:"entry,omitempty"`
	Checkpoint *store.Checkpoint `json:"checkpoint,omitempty"`
}

// ExportParams says what to export.
type ExportParams struct {
	Store store.Store
	Since int64 // export entries with seq > Since
	Now   func() time.Time
}

// ExportSummary says what an export wrote.
type ExportSummary struct {
	Entries     int64 `json:"entries"`
	Checkpoints int   `json:"checkpoints"`
	HeadSeq     int64 `json:"head_seq"`
}

// Export writes the trail as JSON Lines: a header line, then one
// {"entry":{...}} line per entry in seq order, then one
// {"checkpoint":{...}} line per checkpoint. It is a consistent snapshot
// of the trail up to the head at the start of the export: entries
// appended while it runs are left out, and so are checkpoints beyond that
// head.
func Export(ctx context.Context, w io.Writer, p ExportParams) (ExportSummary, error) {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Since < 0 {
		return ExportSummary{}, fmt.Errorf("export audit trail: since must be >= 0, got %d: %w", p.Since, ErrBadSince)
	}
	var head int64
	last, err := p.Store.AuditLast(ctx)
	switch {
	case err == nil:
		head = last.Seq
	case !errors.Is(err, store.ErrNotFound):
		return ExportSummary{}, fmt.Errorf("export audit trail: %w", err)
	}
	if p.Since > head {
		return ExportSummary{}, fmt.Errorf("export audit trail: --since %d is beyond the last entry (seq %d): %w", p.Since, head, ErrBadSince)
	}
	hdr := ExportHeader{Format: ExportFormat, Version: 1, Since: p.Since, HeadSeq: head, ExportedAt: p.Now().UTC().Round(0)}
	if p.Since > 0 {
		es, err := p.Store.AuditList(ctx, store.AuditListParams{AfterSeq: p.Since - 1, Limit: 1})
		if err != nil {
			return ExportSummary{}, fmt.Errorf("export audit trail: %w", err)
		}
		if len(es) == 0 || es[0].Seq != p.Since {
			return ExportSummary{}, fmt.Errorf("export audit trail: no entry at seq %d to anchor the export: %w", p.Since, ErrBadSince)
		}
		hdr.PrevHash = es[0].Hash
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	b, err := json.Marshal(hdr)
	if err != nil {
		return ExportSummary{}, fmt.Errorf("export audit trail: %w", err)
	}
	bw.Write(append(b, '\n'))

	sum := ExportSummary{HeadSeq: head}
	var line []byte
	for e, err := range StoreEntries(ctx, p.Store, p.Since, 5000) {
		if err != nil {
			return sum, fmt.Errorf("export audit trail after seq %d: %w", p.Since+sum.Entries, err)
		}
		if e.Seq > head {
			break
		}
		line = appendEntryLine(line[:0], e)
		if _, err := bw.Write(line); err != nil {
			return sum, fmt.Errorf("export audit trail: write: %w", err)
		}
		sum.Entries++
	}
	cps, err := p.Store.AuditCheckpointList(ctx)
	if err != nil {
		return sum, fmt.Errorf("export audit trail: %w", err)
	}
	for _, c := range cps {
		if c.Seq <= p.Since || c.Seq > head {
			continue
		}
		b, err := json.Marshal(exportLine{Checkpoint: &c})
		if err != nil {
			return sum, fmt.Errorf("export audit trail: %w", err)
		}
		bw.Write(append(b, '\n'))
		sum.Checkpoints++
	}
	if err := bw.Flush(); err != nil {
		return sum, fmt.Errorf("export audit trail: write: %w", err)
	}
	return sum, nil
}

// appendEntryLine writes {"entry":{...}} by hand: the export of a million
// entries is dominated by encoding otherwise. The output is what
// encoding/json would produce for the same AuditEntry, modulo escaping.
func appendEntryLine(dst []byte, e store.AuditEntry) []byte {
	dst = append(dst, `{"entry":{"seq":`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, TimeFormat)
	dst = append(dst, `","type":`...)
	dst = appendString(dst, e.Type)
	if e.RunID != "" {
		dst = append(dst, `,"run_id":`...)
		dst = appendString(dst, e.RunID)
	}
	if e.Actor != "" {
		dst = append(dst, `,"actor":`...)
		dst = appendString(dst, e.Actor)
	}
	if d := bytes.TrimSpace(e.Data); len(d) > 0 {
		if json.Valid(d) {
			dst = append(dst, `,"data":`...)
			dst = append(dst, d...)
		} else {
			// Keep what is stored, even if broken, so that verify can name it.
			dst = append(dst, `,"data_invalid":`...)
			dst = appendString(dst, string(d))
		}
	}
	dst = append(dst, `,"hash":`...)
	dst = appendString(dst, e.Hash)
	return append(dst, "}}\n"...)
}

// maxLine bounds one export line; entries are small, so a longer line is
// a sign of a broken file rather than a big event.
const maxLine = 64 << 20

// ExportFile is an opened export: its header and checkpoints, with the
// entries streamed from disk on demand.
type ExportFile struct {
	Path        string
	Header      ExportHeader
	Checkpoints []store.Checkpoint
}

// OpenExport reads an export file's header and checkpoints.
func OpenExport(path string) (*ExportFile, error) {
	x := &ExportFile{Path: path, Checkpoints: []store.Checkpoint{}}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open audit export: %w", err)
	}
	defer f.Close()
	err = scanLines(f, func(n int, line []byte) error {
		if n == 1 {
			return x.readHeader(line)
		}
		if bytes.HasPrefix(line, []byte(`{"entry":`)) {
			return nil // pass 2 reads entries
		}
		l, err := decodeLine(line)
		if err != nil {
			return err
		}
		if l.Checkpoint != nil {
			x.Checkpoints = append(x.Checkpoints, *l.Checkpoint)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit export %s: %w", path, err)
	}
	if x.Header.Format == "" {
		return nil, fmt.Errorf("audit export %s: empty file", path)
	}
	return x, nil
}

func (x *ExportFile) readHeader(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x.Header); err != nil || x.Header.Format != ExportFormat {
		return fmt.Errorf("line 1: not a modelgate audit export (want a %q header)", ExportFormat)
	}
	if x.Header.Version != 1 {
		return fmt.Errorf("line 1: export format version %d is not supported (want 1)", x.Header.Version)
	}
	if x.Header.Since < 0 || (x.Header.Since > 0) != (x.Header.PrevHash != "") {
		return errors.New("line 1: since and prev_hash must be given together")
	}
	return nil
}

func decodeLine(line []byte) (exportLine, error) {
	var l exportLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, err
	}
	if dec.More() {
		return l, errors.New("more than one JSON value on the line")
	}
	if (l.Entry == nil) == (l.Checkpoint == nil) {
		return l, errors.New(`want exactly one of "entry" or "checkpoint"`)
	}
	return l, nil
}

// errStop ends a scan early when the consumer of Entries stops.
var errStop = errors.New("stop")

// Entries streams the export's entries in file order.
func (x *ExportFile) Entries() iter.Seq2[store.AuditEntry, error] {
	return func(yield func(store.AuditEntry, error) bool) {
		f, err := os.Open(x.Path)
		if err != nil {
			yield(store.AuditEntry{}, fmt.Errorf("open audit export: %w", err))
			return
		}
		defer f.Close()
		err = scanLines(f, func(n int, line []byte) error {
			if n == 1 {
				return nil
			}
			e, ok, err := entryFromLine(line)
			if err != nil || !ok {
				return err
			}
			if !yield(e, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(store.AuditEntry{}, fmt.Errorf("audit export %s: %w", x.Path, err))
		}
	}
}

// entryFromLine decodes an entry line; ok is false for checkpoint lines.
func entryFromLine(line []byte) (store.AuditEntry, bool, error) {
	if !bytes.HasPrefix(line, []byte(`{"entry":`)) {
		l, err := decodeLine(line)
		if err != nil || l.Entry == nil {
			return store.AuditEntry{}, false, err
		}
		return *l.Entry, true, nil
	}
	// The common shape, decoded without DisallowUnknownFields so that the
	// data_invalid escape hatch of appendEntryLine is understood.
	var l struct {
		Entry *struct {
			store.AuditEntry
			DataInvalid *string `json:"data_invalid"`
		} `json:"entry"`
		Checkpoint *store.Checkpoint `json:"checkpoint"`
	}
	if err := json.Unmarshal(line, &l); err != nil {
		return store.AuditEntry{}, false, err
	}
	if l.Entry == nil || l.Checkpoint != nil {
		return store.AuditEntry{}, false, errors.New(`want exactly one of "entry" or "checkpoint"`)
	}
	e := l.Entry.AuditEntry
	if l.Entry.DataInvalid != nil {
		e.Data = json.RawMessage(*l.Entry.DataInvalid)
	}
	return e, true, nil
}

// Verify checks the export with pub.
func (x *ExportFile) Verify(ctx context.Context, pub ed25519.PublicKey) (VerifyReport, error) {
	return x.VerifyWith(ctx, VerifyParams{PublicKey: pub})
}

// VerifyWith checks the export with p's key, checkpoint log, saved
// checkpoints and interval; the entries, checkpoints and anchor come from
// the export.
func (x *ExportFile) VerifyWith(ctx context.Context, p VerifyParams) (VerifyReport, error) {
	p.Store, p.Entries, p.Checkpoints = nil, x.Entries(), x.Checkpoints
	if p.Checkpoints == nil {
		p.Checkpoints = []store.Checkpoint{}
	}
	p.AfterSeq, p.PrevHash = x.Header.Since, x.Header.PrevHash
	return Verify(ctx, p)
}

// scanLines calls f with each non-empty line (numbered from 1).
func scanLines(r io.Reader, f func(n int, line []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var long []byte
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(long) > maxLine {
					return fmt.Errorf("line %d: longer than %d bytes", n, maxLine)
				}
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			if ferr := f(n, t); ferr != nil {
				return fmt.Errorf("line %d: %w", n, ferr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}
