package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/store"
)

// CheckpointLogFileName is the append-only checkpoint log inside a
// modelgate data directory, beside the database. Checkpoints kept only in
// the database can be deleted by whoever edits the database; a copy
// outside it (and, better, a witness elsewhere) is what makes a rewrite of
// the chain detectable without the signing key.
const CheckpointLogFileName = "audit-checkpoints.log"

// maxCheckpointLine bounds one line of a checkpoint file: a checkpoint is
// about 250 bytes, so anything much longer is not one.
const maxCheckpointLine = 4096

// ParseCheckpoint reads one checkpoint as written to the checkpoint log,
// a witness or `modelgate audit checkpoint`: the JSON object
// {"seq","hash","time","key_id","signature"}, strictly (unknown or missing
// fields, a malformed hash or signature and trailing data are errors). It
// checks the shape only; the signature is checked by Verify.
func ParseCheckpoint(b []byte) (store.Checkpoint, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return store.Checkpoint{}, errors.New("empty checkpoint")
	}
	if len(b) > maxCheckpointLine {
		return store.Checkpoint{}, fmt.Errorf("checkpoint is %d bytes, more than %d: not a checkpoint", len(b), maxCheckpointLine)
	}
	var raw struct {
		Seq       *int64     `json:"seq"`
		Hash      *string    `json:"hash"`
		Time      *time.Time `json:"time"`
		KeyID     *string    `json:"key_id"`
		Signature *string    `json:"signature"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return store.Checkpoint{}, fmt.Errorf("checkpoint is not a JSON object of seq, hash, time, key_id, signature: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return store.Checkpoint{}, errors.New("checkpoint has data after its JSON object")
	}
	switch {
	case raw.Seq == nil:
		return store.Checkpoint{}, errors.New("checkpoint: seq is missing")
	case raw.Hash == nil:
		return store.Checkpoint{}, errors.New("checkpoint: hash is missing")
	case raw.Time == nil:
		return store.Checkpoint{}, errors.New("checkpoint: time is missing")
	case raw.KeyID == nil:
		return store.Checkpoint{}, errors.New("checkpoint: key_id is missing")
	case raw.Signature == nil:
		return store.Checkpoint{}, errors.New("checkpoint: signature is missing")
	}
	c := store.Checkpoint{Seq: *raw.Seq, Hash: *raw.Hash, Time: raw.Time.UTC(), KeyID: *raw.KeyID, Signature: *raw.Signature}
	if c.Seq < 1 {
		return store.Checkpoint{}, fmt.Errorf("checkpoint: seq %d is not a positive entry number", c.Seq)
	}
	// The hash is compared as text with the stored chain, so only the
	// lowercase form the trail writes is accepted.
	if h, err := ParseHash(c.Hash); err != nil || h.String() != c.Hash {
		return store.Checkpoint{}, fmt.Errorf("checkpoint: hash %q is not 64 lowercase hex digits", c.Hash)
	}
	if kid, err := hex.DecodeString(c.KeyID); err != nil || len(kid) != 8 {
		return store.Checkpoint{}, fmt.Errorf("checkpoint: key_id %q is not 16 hex digits", c.KeyID)
	}
	if sig, err := base64.StdEncoding.DecodeString(c.Signature); err != nil || len(sig) != ed25519.SignatureSize {
		return store.Checkpoint{}, fmt.Errorf("checkpoint: signature is not %d bytes of base64", ed25519.SignatureSize)
	}
	return c, nil
}

// MarshalCheckpoint is the one-line form ParseCheckpoint reads, with a
// trailing newline.
func MarshalCheckpoint(c store.Checkpoint) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint at seq %d: %w", c.Seq, err)
	}
	return append(b, '\n'), nil
}

// ReadCheckpointFile reads a checkpoint log (or a witness's file, or one
// saved checkpoint): one checkpoint per line, blank lines ignored. A file
// that does not exist is an error wrapping fs.ErrNotExist; a malformed
// line is an error naming its number.
func ReadCheckpointFile(path string) ([]store.Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints %s: %w", path, err)
	}
	defer f.Close()
	cps, err := ReadCheckpoints(f)
	if err != nil {
		return nil, fmt.Errorf("checkpoints %s: %w", path, err)
	}
	return cps, nil
}

// ReadCheckpoints is ReadCheckpointFile on a reader.
func ReadCheckpoints(r io.Reader) ([]store.Checkpoint, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxCheckpointLine+1)
	var out []store.Checkpoint
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		c, err := ParseCheckpoint(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line is longer than %d bytes: not a checkpoint file", maxCheckpointLine)
		}
		return nil, err
	}
	return out, nil
}

// AppendCheckpointFile appends c as one line to path (created 0644 when
// missing) and syncs it before returning, so that a checkpoint reported
// written survives a crash. O_APPEND keeps concurrent writers' lines whole.
func AppendCheckpointFile(path string, cps ...store.Checkpoint) error {
	var buf []byte
	for _, c := range cps {
		b, err := MarshalCheckpoint(c)
		if err != nil {
			return err
		}
		buf = append(buf, b...)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("append checkpoint to %s: %w", path, err)
	}
	if _, err := f.Write(buf); err != nil {
		_ = f.Close()
		return fmt.Errorf("append checkpoint to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("append checkpoint to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append checkpoint to %s: %w", path, err)
	}
	return nil
}

// Witness keeps a copy of every checkpoint somewhere the database's
// owner cannot reach: another disk, another host, a transparency log.
type Witness interface {
	Witness(ctx context.Context, c store.Checkpoint) error
	String() string
}

// FileWitness appends each checkpoint to a file (a mounted share, a
// write-once bucket), in the checkpoint log's format.
type FileWitness struct{ Path string }

func (w FileWitness) Witness(_ context.Context, c store.Checkpoint) error {
	return AppendCheckpointFile(w.Path, c)
}

func (w FileWitness) String() string { return w.Path }

// WebhookWitness POSTs each checkpoint as JSON (the checkpoint log's
// line) to URL; any 2xx answer is success.
type WebhookWitness struct {
	URL    string
	Client *http.Client // default: 10 s timeout
}

func (w WebhookWitness) Witness(ctx context.Context, c store.Checkpoint) error {
	body, err := MarshalCheckpoint(c)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("witness %s: %w", w.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	cl := w.Client
	if cl == nil {
		cl = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("witness %s: %w", w.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("witness %s answered %s", w.URL, resp.Status)
	}
	return nil
}

func (w WebhookWitness) String() string { return w.URL }

// ParseWitness reads a --audit-witness value: an http(s) URL is a
// webhook, anything else a file path.
func ParseWitness(s string) (Witness, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, errors.New("audit witness is empty")
	case strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"):
		return WebhookWitness{URL: s}, nil
	case strings.Contains(s, "://"):
		return nil, fmt.Errorf("audit witness %q: only http(s) URLs and file paths are supported", s)
	}
	return FileWitness{Path: s}, nil
}

// syncCheckpointLog brings the checkpoint log up to the store's
// checkpoints when a Trail opens: a crash between the database write and
// the log write leaves the log one checkpoint short, and a data dir from
// before the log existed has none. It refuses to go on when the log's
// newest checkpoint does not match the chain in the store: signing the
// store's head then would vouch for a rewritten or cut trail.
func syncCheckpointLog(ctx context.Context, st store.Store, path string, dbCPs []store.Checkpoint) error {
	logged, err := ReadCheckpointFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("audit: %w", err)
	}
	var after int64
	if len(logged) > 0 {
		newest := logged[0]
		for _, c := range logged {
			if c.Seq > newest.Seq {
				newest = c
			}
		}
		es, err := st.AuditList(ctx, store.AuditListParams{AfterSeq: newest.Seq - 1, Limit: 1})
		if err != nil {
			return fmt.Errorf("audit: check the checkpoint log against the store: %w", err)
		}
		if len(es) == 0 || es[0].Seq != newest.Seq || es[0].Hash != newest.Hash {
			return fmt.Errorf("audit: the checkpoint log %s signed seq %d with hash %.16s…, which the store's chain does not hold: "+
				"the trail was rewritten or cut (or an older database was restored); run `modelgate audit verify` before starting", path, newest.Seq, newest.Hash)
		}
		after = newest.Seq
	}
	var missing []store.Checkpoint
	for _, c := range dbCPs {
		if c.Seq > after {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := AppendCheckpointFile(path, missing...); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
