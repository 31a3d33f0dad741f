package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"sort"
	"time"

	"github.com/modelgate/modelgate/internal/store"
)

// Problem kinds a VerifyReport names.
const (
	ProblemHash         = "hash_mismatch"           // entry content does not match its stored hash
	ProblemMalformed    = "malformed_entry"         // stored hash or data cannot be read
	ProblemMissing      = "missing_entries"         // seq jumps forward: entries deleted
	ProblemOrder        = "out_of_order"            // seq goes backwards or repeats: entries moved or duplicated
	ProblemCheckpoint   = "checkpoint_mismatch"     // a validly signed checkpoint disagrees with the chain
	ProblemSignature    = "checkpoint_signature"    // a checkpoint's signature does not verify: forged or wrong key
	ProblemCutTail      = "cut_tail"                // a signed checkpoint is beyond the last entry: the tail was deleted
	ProblemNotCanonical = "not_canonical"           // entry fields cannot be canonicalized (e.g. invalid JSON data)
	ProblemLogMismatch  = "checkpoint_log_mismatch" // the store's checkpoints and the checkpoint log disagree
	ProblemLogMissing   = "checkpoint_log_missing"  // the store has checkpoints, the checkpoint log none
	ProblemUnsigned     = "unsigned_too_long"       // entries span more than the checkpoint interval allows with no checkpoint
)

// Problem is one thing wrong with a trail.
type Problem struct {
	Seq     int64  `json:"seq"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func (p Problem) String() string { return fmt.Sprintf("seq %d: %s: %s", p.Seq, p.Kind, p.Message) }

// VerifyParams says what to verify. Give either Store or Entries.
type VerifyParams struct {
	// Store is read page by page (and for checkpoints when Checkpoints is nil).
	Store store.Store
	// Entries streams entries in the order they are stored.
	Entries iter.Seq2[store.AuditEntry, error]
	// Checkpoints to check; read from Store when nil.
	Checkpoints []store.Checkpoint
	// PublicKey verifies checkpoint signatures. Required.
	PublicKey ed25519.PublicKey
	// AfterSeq and PrevHash anchor a partial trail (an export made with
	// --since): the first entry must be AfterSeq+1 and chain from PrevHash
	// (hex). Zero values mean a whole trail from seq 1.
	AfterSeq int64
	PrevHash string
	// CheckLog compares Checkpoints with LogCheckpoints, the checkpoints
	// read from the checkpoint log beside the database (or a witness's
	// copy): every logged checkpoint must be in the store and vice versa,
	// and each logged one must match the chain like a stored one.
	CheckLog       bool
	LogCheckpoints []store.Checkpoint
	// Saved are checkpoints a user kept earlier (`modelgate audit
	// checkpoint -o`): each must be validly signed and its head a prefix of
	// the chain now (the entry at its seq has its hash), which is RFC 6962's
	// consistency check for a hash chain.
	Saved []store.Checkpoint
	// CheckpointInterval is how often the server signs the head (1m by
	// default). When set, entries after the last checkpoint may span at
	// most one and a half intervals (measured on the entries' own times, so
	// a stopped server or the verifier's clock does not matter); more means
	// checkpoints were deleted. Zero does not check.
	CheckpointInterval time.Duration
	// MaxProblems caps the problems listed; default 100.
	MaxProblems int
	// PageSize is how many entries are read from Store per query; default 5000.
	PageSize int
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	Intact bool `json:"intact"`
	// Entries counts entries read; FirstSeq..LastSeq is their range.
	Entries  int64  `json:"entries"`
	FirstSeq int64  `json:"first_seq"`
	LastSeq  int64  `json:"last_seq"`
	HeadHash string `json:"head_hash,omitempty"`
	// Partial is set when the trail starts after seq 1 (an export made
	// with --since); the entries before it were not checked.
	Partial bool   `json:"partial,omitempty"`
	KeyID   string `json:"key_id"`
	// Checkpoints counts the checkpoints given; Verified those whose
	// signature and hash both check out.
	Checkpoints         int   `json:"checkpoints"`
	CheckpointsVerified int   `json:"checkpoints_verified"`
	LastSignedSeq       int64 `json:"last_signed_seq"`
	// Unsigned counts entries after the last verified checkpoint: their
	// chain is intact but no signature covers them yet, so deleting them
	// would go unnoticed.
	Unsigned int64 `json:"unsigned_entries"`
	// LogCheckpoints and SavedCheckpoints count the checkpoints from the
	// checkpoint log and saved files; their Verified counts those whose
	// signature checks out and whose hash is in the chain.
	LogCheckpoints           int `json:"log_checkpoints,omitempty"`
	LogCheckpointsVerified   int `json:"log_checkpoints_verified,omitempty"`
	SavedCheckpoints         int `json:"saved_checkpoints,omitempty"`
	SavedCheckpointsVerified int `json:"saved_checkpoints_verified,omitempty"`
	// FirstBad is the lowest-seq problem; Problems lists them by seq.
	FirstBad          *Problem  `json:"first_bad,omitempty"`
	Problems          []Problem `json:"problems"`
	ProblemsTruncated bool      `json:"problems_truncated,omitempty"`
}

// StoreEntries streams a store's trail from seq afterSeq+1 in pages.
func StoreEntries(ctx context.Context, st store.Store, afterSeq int64, pageSize int) iter.Seq2[store.AuditEntry, error] {
	if pageSize <= 0 {
		pageSize = 5000
	}
	return func(yield func(store.AuditEntry, error) bool) {
		after := afterSeq
		for {
			page, err := st.AuditList(ctx, store.AuditListParams{AfterSeq: after, Limit: pageSize})
			if err != nil {
				yield(store.AuditEntry{}, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
			after = page[len(page)-1].Seq
		}
	}
}

type verifier struct {
	rep *VerifyReport
	max int
	cps map[int64][]store.Checkpoint // validly signed, by seq
	ext map[int64][]extCheckpoint    // validly signed, from the log or saved files
}

// extCheckpoint is a checkpoint from outside the store.
type extCheckpoint struct {
	c     store.Checkpoint
	saved bool // from a saved file; else from the checkpoint log
}

func (x extCheckpoint) source() string {
	if x.saved {
		return "saved checkpoint"
	}
	return "checkpoint log"
}

// signed reports whether c's signature verifies under pub.
func signed(pub ed25519.PublicKey, buf []byte, c store.Checkpoint) ([]byte, bool) {
	buf = AppendCheckpointCanonical(buf[:0], c)
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	return buf, err == nil && ed25519.Verify(pub, buf, sig)
}

func badSignature(c store.Checkpoint, keyID, where string) Problem {
	msg := where + "signature does not verify: the checkpoint was forged or altered"
	if c.KeyID != keyID {
		msg = fmt.Sprintf("%ssignature does not verify: signed with key id %q, verifying with key id %q", where, c.KeyID, keyID)
	}
	return Problem{Seq: c.Seq, Kind: ProblemSignature, Message: msg}
}

// external checks the signatures of the logged and saved checkpoints and
// compares the log with the store's validly signed checkpoints.
func (v *verifier) external(p VerifyParams, buf []byte) {
	type key struct {
		seq  int64
		hash string
	}
	inStore := map[key]bool{}
	for seq, cs := range v.cps {
		for _, c := range cs {
			inStore[key{seq, c.Hash}] = true
		}
	}
	inLog := map[key]bool{}
	var ok bool
	for _, c := range p.LogCheckpoints {
		if buf, ok = signed(p.PublicKey, buf, c); !ok {
			v.add(badSignature(c, v.rep.KeyID, "checkpoint log: "))
			continue
		}
		k := key{c.Seq, c.Hash}
		if inLog[k] {
			continue // a retried log write may repeat a line
		}
		inLog[k] = true
		v.ext[c.Seq] = append(v.ext[c.Seq], extCheckpoint{c: c})
		if p.CheckLog && !inStore[k] {
			v.add(Problem{Seq: c.Seq, Kind: ProblemLogMismatch, Message: fmt.Sprintf(
				"the checkpoint log has a signed checkpoint at seq %d (hash %.16s…) that the database does not: the database's checkpoints were deleted or replaced", c.Seq, c.Hash)})
		}
	}
	if p.CheckLog {
		switch {
		case len(p.LogCheckpoints) == 0 && len(inStore) > 0:
			v.add(Problem{Seq: 1, Kind: ProblemLogMissing, Message: fmt.Sprintf(
				"the database has %d signed checkpoints but the checkpoint log has none: the log was deleted or emptied "+
					"(a data dir last served by a modelgate without the log gets one when the server next starts)", len(inStore))})
		default:
			var stray []int64
			for k := range inStore {
				if !inLog[k] {
					stray = append(stray, k.seq)
				}
			}
			if len(stray) > 0 {
				sort.Slice(stray, func(i, j int) bool { return stray[i] < stray[j] })
				v.add(Problem{Seq: stray[0], Kind: ProblemLogMismatch, Message: fmt.Sprintf(
					"the database has %d signed checkpoints the checkpoint log lacks (the first at seq %d): the log was truncated or edited", len(stray), stray[0])})
			}
		}
	}
	for _, c := range p.Saved {
		if buf, ok = signed(p.PublicKey, buf, c); !ok {
			v.add(badSignature(c, v.rep.KeyID, "saved checkpoint: "))
			continue
		}
		v.ext[c.Seq] = append(v.ext[c.Seq], extCheckpoint{c: c, saved: true})
	}
}

func (v *verifier) add(p Problem) {
	if len(v.rep.Problems) >= v.max {
		v.rep.ProblemsTruncated = true
		return
	}
	v.rep.Problems = append(v.rep.Problems, p)
}

// Verify recomputes the chain, checks that seq runs gap-free, checks every
// checkpoint's signature and hash, and reports what is not covered. It
// streams: memory does not grow with the trail. An error means the trail
// could not be read; tampering is reported in the VerifyReport.
func Verify(ctx context.Context, p VerifyParams) (VerifyReport, error) {
	if len(p.PublicKey) != ed25519.PublicKeySize {
		return VerifyReport{}, fmt.Errorf("verify audit trail: public key has %d bytes, want %d", len(p.PublicKey), ed25519.PublicKeySize)
	}
	entries := p.Entries
	if entries == nil {
		if p.Store == nil {
			return VerifyReport{}, errors.New("verify audit trail: give a Store or Entries")
		}
		entries = StoreEntries(ctx, p.Store, p.AfterSeq, p.PageSize)
	}
	cps := p.Checkpoints
	if cps == nil && p.Store != nil {
		var err error
		if cps, err = p.Store.AuditCheckpointList(ctx); err != nil {
			return VerifyReport{}, fmt.Errorf("verify audit trail: %w", err)
		}
	}
	var head Hash
	if p.PrevHash != "" {
		var err error
		if head, err = ParseHash(p.PrevHash); err != nil {
			return VerifyReport{}, fmt.Errorf("verify audit trail: anchor: %w", err)
		}
	}
	rep := VerifyReport{KeyID: KeyID(p.PublicKey), Checkpoints: len(cps), Problems: []Problem{}, Partial: p.AfterSeq > 0,
		LogCheckpoints: len(p.LogCheckpoints), SavedCheckpoints: len(p.Saved)}
	v := &verifier{rep: &rep, max: p.MaxProblems, cps: map[int64][]store.Checkpoint{}, ext: map[int64][]extCheckpoint{}}
	if v.max <= 0 {
		v.max = 100
	}
	var (
		cpBuf []byte
		ok    bool
	)
	for _, c := range cps {
		if cpBuf, ok = signed(p.PublicKey, cpBuf, c); !ok {
			v.add(badSignature(c, rep.KeyID, ""))
			continue
		}
		v.cps[c.Seq] = append(v.cps[c.Seq], c)
	}
	v.external(p, cpBuf)

	var (
		chain   Chainer
		expect  = p.AfterSeq + 1
		lastCP  = p.AfterSeq // seq of the last validly signed checkpoint passed
		skipMis bool         // the entry right after a gap cannot link; its hash is not separately wrong
		// The entries after the last checkpoint that matched: the first
		// one's seq and time, and the newest entry's time.
		unsignedSeq        int64
		unsignedAt, lastAt time.Time
	)
	// Reading (SQLite rows or JSON lines) and hashing cost about the same;
	// a reader goroutine lets them use two cores.
	for e, err := range prefetch(ctx, entries) {
		if err != nil {
			return rep, fmt.Errorf("verify audit trail after seq %d: %w", rep.LastSeq, err)
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Entries++
		if rep.Entries == 1 {
			rep.FirstSeq = e.Seq
		}
		switch {
		case e.Seq > expect:
			v.add(Problem{Seq: expect, Kind: ProblemMissing,
				Message: fmt.Sprintf("expected seq %d, found seq %d: entries %d..%d are missing", expect, e.Seq, expect, e.Seq-1)})
			skipMis = true
		case e.Seq < expect:
			v.add(Problem{Seq: e.Seq, Kind: ProblemOrder,
				Message: fmt.Sprintf("seq %d appears after seq %d: entries were moved or duplicated", e.Seq, expect-1)})
			skipMis = true
		}
		stored, herr := ParseHash(e.Hash)
		computed, cerr := chain.Next(head, e)
		switch {
		case cerr != nil:
			v.add(Problem{Seq: e.Seq, Kind: ProblemNotCanonical, Message: cerr.Error()})
			computed = stored
		case herr != nil:
			v.add(Problem{Seq: e.Seq, Kind: ProblemMalformed, Message: herr.Error()})
			stored = computed
		case computed != stored && !skipMis:
			v.add(Problem{Seq: e.Seq, Kind: ProblemHash,
				Message: "entry does not match its hash: its content was changed after it was written"})
		}
		skipMis = false
		// Resynchronise on the stored hash so that one bad entry is reported
		// once instead of poisoning every later one; a rewrite of the stored
		// hashes is still caught by the next checkpoint.
		head = stored
		for _, c := range v.cps[e.Seq] {
			ch, err := ParseHash(c.Hash)
			if err != nil || ch != head {
				v.add(Problem{Seq: e.Seq, Kind: ProblemCheckpoint, Message: fmt.Sprintf(
					"signed checkpoint at seq %d has hash %.16s…, the chain has %.16s…: entries %d..%d were rewritten",
					c.Seq, c.Hash, head.String(), lastCP+1, c.Seq)})
				continue
			}
			rep.CheckpointsVerified++
			rep.LastSignedSeq = c.Seq
		}
		covered := rep.LastSignedSeq == e.Seq
		for _, x := range v.ext[e.Seq] {
			ch, err := ParseHash(x.c.Hash)
			if err != nil || ch != head {
				v.add(Problem{Seq: e.Seq, Kind: ProblemCheckpoint, Message: fmt.Sprintf(
					"%s at seq %d has hash %.16s…, the chain has %.16s…: entries up to seq %d were rewritten after it was signed",
					x.source(), x.c.Seq, x.c.Hash, head.String(), x.c.Seq)})
				continue
			}
			covered = true
			if x.saved {
				rep.SavedCheckpointsVerified++
			} else {
				rep.LogCheckpointsVerified++
			}
		}
		if covered {
			rep.LastSignedSeq = max(rep.LastSignedSeq, e.Seq)
			unsignedSeq = 0
		} else if unsignedSeq == 0 {
			unsignedSeq, unsignedAt = e.Seq, e.Time
		}
		lastAt = e.Time
		if len(v.cps[e.Seq]) > 0 || len(v.ext[e.Seq]) > 0 {
			lastCP = e.Seq
		}
		if e.Seq >= expect {
			expect = e.Seq + 1
		}
		rep.LastSeq = e.Seq
	}
	if rep.Entries > 0 {
		rep.HeadHash = head.String()
	}

	var cut []int64
	for seq := range v.cps {
		if seq > rep.LastSeq {
			cut = append(cut, seq)
		}
	}
	if len(cut) > 0 {
		sort.Slice(cut, func(i, j int) bool { return cut[i] < cut[j] })
		last := cut[len(cut)-1]
		v.add(Problem{Seq: rep.LastSeq + 1, Kind: ProblemCutTail, Message: fmt.Sprintf(
			"a signed checkpoint covers seq %d but the trail ends at seq %d: entries %d..%d were deleted",
			last, rep.LastSeq, rep.LastSeq+1, last)})
	}
	// The same for checkpoints kept outside the store: cutting the tail
	// together with the database's checkpoints does not cut these.
	var extCut []extCheckpoint
	for seq, xs := range v.ext {
		if seq > rep.LastSeq {
			extCut = append(extCut, xs...)
		}
	}
	if len(extCut) > 0 {
		sort.Slice(extCut, func(i, j int) bool { return extCut[i].c.Seq < extCut[j].c.Seq })
		last := extCut[len(extCut)-1]
		v.add(Problem{Seq: rep.LastSeq + 1, Kind: ProblemCutTail, Message: fmt.Sprintf(
			"the %s covers seq %d but the trail ends at seq %d: entries %d..%d were deleted",
			last.source(), last.c.Seq, rep.LastSeq, rep.LastSeq+1, last.c.Seq)})
	}
	// The server signs the head at the first tick after it moves, so the
	// entries after the last checkpoint span at most one interval; a longer
	// unsigned stretch means checkpoints were removed (a rewritten chain
	// loses every checkpoint from the first edit on). Half an interval more
	// leaves room for a slow write.
	if allowed := p.CheckpointInterval + p.CheckpointInterval/2; p.CheckpointInterval > 0 && unsignedSeq > 0 && lastAt.Sub(unsignedAt) > allowed {
		what := fmt.Sprintf("entries %d..%d span %s with no signed checkpoint", unsignedSeq, rep.LastSeq, lastAt.Sub(unsignedAt).Round(time.Millisecond))
		if unsignedSeq == max(p.AfterSeq, 0)+1 {
			what = fmt.Sprintf("the trail spans %s (seq %d..%d) and has no signed checkpoint", lastAt.Sub(unsignedAt).Round(time.Millisecond), unsignedSeq, rep.LastSeq)
		}
		v.add(Problem{Seq: unsignedSeq, Kind: ProblemUnsigned, Message: fmt.Sprintf(
			"%s; the server signs at least every %s: checkpoints were deleted", what, p.CheckpointInterval)})
	}
	if rep.LastSeq > rep.LastSignedSeq {
		rep.Unsigned = rep.LastSeq - max(rep.LastSignedSeq, p.AfterSeq)
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].Seq < rep.Problems[j].Seq })
	if len(rep.Problems) > 0 {
		rep.FirstBad = &rep.Problems[0]
	}
	rep.Intact = len(rep.Problems) == 0 && !rep.ProblemsTruncated
	return rep, nil
}

// prefetch runs src in its own goroutine, handing entries over in chunks so
// that the channel costs little per entry. Stopping early cancels src.
func prefetch(ctx context.Context, src iter.Seq2[store.AuditEntry, error]) iter.Seq2[store.AuditEntry, error] {
	const chunk = 1024
	type batch struct {
		es  []store.AuditEntry
		err error
	}
	return func(yield func(store.AuditEntry, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		ch := make(chan batch, 4)
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer close(ch)
			send := func(b batch) bool {
				select {
				case ch <- b:
					return true
				case <-ctx.Done():
					return false
				}
			}
			buf := make([]store.AuditEntry, 0, chunk)
			for e, err := range src {
				if err != nil {
					if len(buf) > 0 && !send(batch{es: buf}) {
						return
					}
					send(batch{err: err})
					return
				}
				buf = append(buf, e)
				if len(buf) == chunk {
					if !send(batch{es: buf}) {
						return
					}
					buf = make([]store.AuditEntry, 0, chunk)
				}
			}
			if len(buf) > 0 {
				send(batch{es: buf})
			}
		}()
		defer func() {
			cancel()
			for range ch {
			}
			<-done
		}()
		for b := range ch {
			if b.err != nil {
				yield(store.AuditEntry{}, b.err)
				return
			}
			for _, e := range b.es {
				if !yield(e, nil) {
					return
				}
			}
		}
	}
}
