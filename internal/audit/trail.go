package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/store"
)

// ErrClosed is returned by a Trail after Close.
var ErrClosed = errors.New("audit trail is closed")

// BatchAppender is implemented by stores that can append consecutive
// entries in one transaction (the SQLite driver does); the Trail uses it
// for group commit and falls back to one AuditAppend per entry.
type BatchAppender interface {
	AuditAppendBatch(ctx context.Context, es []store.AuditEntry) error
}

// Options configures Open.
type Options struct {
	Store store.Store
	// Logger is told when a signing key is created; default log.Default().
	Logger *log.Logger
	// KeyPath is the Ed25519 signing key, created when missing; its public
	// half is written to KeyPath+".pub". Ignored when PrivateKey is set.
	KeyPath    string
	PrivateKey ed25519.PrivateKey
	// CheckpointEvery signs the head after this many new entries (at the
	// first batch boundary past it); default 1000, negative disables.
	CheckpointEvery int
	// CheckpointInterval signs the head this often when it has moved;
	// default 1m, negative disables.
	CheckpointInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxBatch caps how many concurrent appends share one transaction;
	// default 4096.
	MaxBatch int
	// CheckpointLog, when set, is a file outside the store that every
	// checkpoint is also appended to (the server uses DATA-DIR/
	// CheckpointLogFileName). With it, Open brings the log up to the
	// store, refuses a store whose chain disagrees with the log, and signs
	// an unsigned head at once, so that entries written before a crash do
	// not stay unsigned until the next one.
	CheckpointLog string
	// Witnesses receive every checkpoint after it is stored and logged.
	// They are written from their own goroutine: a slow or failing witness
	// is logged and never holds up the trail.
	Witnesses []Witness
}

// Event is what a caller records; the Trail adds seq, time and hash.
type Event struct {
	Type  string // dotted, e.g. "run.created", "approval.decided"
	RunID string
	Actor string // who caused it: a token subject, "coordinator", an agent
	Data  any    // marshalled with encoding/json, then canonicalized
}

// Trail appends events to the hash chain and signs checkpoints. It is safe
// for concurrent use: appends that arrive while a batch is being written
// are queued and written together in the next transaction.
type Trail struct {
	st       store.Store
	batcher  BatchAppender
	key      ed25519.PrivateKey
	keyID    string
	now      func() time.Time
	every    int64
	interval time.Duration
	maxBatch int

	reqs      chan *appendReq
	cpReqs    chan chan error
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	// Owned by the loop goroutine.
	next   int64 // seq of the next entry
	head   Hash  // hash of entry next-1
	lastCP int64 // seq of the newest checkpoint
	chain  Chainer
	// batches and batched count transactions and the appends they carried,
	// logged at Close: the mean batch size says whether group commit works.
	batches, batched int64

	logPath  string
	unlogged []store.Checkpoint // stored but not yet in the log (its write failed)
	witness  chan store.Checkpoint
	wdone    chan struct{}
}

type appendReq struct {
	ev    Event
	data  json.RawMessage
	done  chan struct{}
	entry store.AuditEntry
	err   error
}

// Open loads or creates the signing key, resumes the chain from the
// store's last entry and starts the writer.
func Open(ctx context.Context, o Options) (*Trail, error) {
	if o.Store == nil {
		return nil, errors.New("audit: Options.Store is required")
	}
	key := o.PrivateKey
	if key == nil {
		if o.KeyPath == "" {
			return nil, errors.New("audit: Options.KeyPath or Options.PrivateKey is required")
		}
		var err error
		lg := o.Logger
		if lg == nil {
			lg = log.Default()
		}
		if key, err = loadOrCreateKey(o.KeyPath, lg); err != nil {
			return nil, err
		}
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("audit: private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = 1000
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 4096
	}
	t := &Trail{
		st: o.Store, key: key, keyID: KeyID(key.Public().(ed25519.PublicKey)), now: o.Now,
		every: int64(o.CheckpointEvery), interval: o.CheckpointInterval, maxBatch: o.MaxBatch,
		reqs: make(chan *appendReq), cpReqs: make(chan chan error),
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	t.batcher, _ = o.Store.(BatchAppender)
	if err := t.resume(ctx); err != nil {
		return nil, err
	}
	cps, err := o.Store.AuditCheckpointList(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if len(cps) > 0 {
		t.lastCP = cps[len(cps)-1].Seq
	}
	t.logPath = o.CheckpointLog
	if len(o.Witnesses) > 0 {
		t.witness, t.wdone = make(chan store.Checkpoint, 256), make(chan struct{})
		go t.witnessLoop(o.Witnesses)
	}
	if t.logPath != "" {
		if err := syncCheckpointLog(ctx, o.Store, t.logPath, cps); err != nil {
			t.stopWitnesses()
			return nil, err
		}
		if err := t.checkpoint(); err != nil {
			t.stopWitnesses()
			return nil, err
		}
	}
	go t.loop()
	log.Debug("audit trail open", "next_seq", t.next, "key_id", t.keyID)
	return t, nil
}

// KeyID names the signing key in checkpoints.
func (t *Trail) KeyID() string { return t.keyID }

// PublicKey is the key that verifies this trail's checkpoints.
func (t *Trail) PublicKey() ed25519.PublicKey { return t.key.Public().(ed25519.PublicKey) }

// resume reloads the chain head from the store.
func (t *Trail) resume(ctx context.Context) error {
	last, err := t.st.AuditLast(ctx)
	if errors.Is(err, store.ErrNotFound) {
		t.next, t.head = 1, Hash{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: read chain head: %w", err)
	}
	h, err := ParseHash(last.Hash)
	if err != nil {
		return fmt.Errorf("audit: chain head at seq %d: %w (run `modelgate audit verify`)", last.Seq, err)
	}
	t.next, t.head = last.Seq+1, h
	return nil
}

// Record appends an event; it is the one-method interface other packages
// take (interface{ Record(ctx, typ, runID, actor string, data any) error }).
func (t *Trail) Record(ctx context.Context, typ, runID, actor string, data any) error {
	_, err := t.Append(ctx, Event{Type: typ, RunID: runID, Actor: actor, Data: data})
	return err
}

// Append writes one event and returns it as stored, after its transaction
// committed. Once the event is accepted, Append waits for the outcome even
// if ctx is cancelled, so that a caller never has to guess whether an
// event made it into the trail.
func (t *Trail) Append(ctx context.Context, ev Event) (store.AuditEntry, error) {
	if ev.Type == "" {
		return store.AuditEntry{}, errors.New("audit: event type is empty")
	}
	for name, s := range map[string]string{"type": ev.Type, "run id": ev.RunID, "actor": ev.Actor} {
		if !utf8.ValidString(s) {
			return store.AuditEntry{}, fmt.Errorf("audit: event %s is not valid UTF-8", name)
		}
	}
	req := &appendReq{ev: ev, done: make(chan struct{})}
	if ev.Data != nil {
		raw, err := json.Marshal(ev.Data)
		if err != nil {
			return store.AuditEntry{}, fmt.Errorf("audit: encode %s event data: %w", ev.Type, err)
		}
		if string(raw) != "null" {
			if req.data, err = Canonicalize(raw); err != nil {
				return store.AuditEntry{}, fmt.Errorf("audit: canonicalize %s event data: %w", ev.Type, err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return store.AuditEntry{}, err
	}
	select {
	case t.reqs <- req:
	case <-t.quit:
		return store.AuditEntry{}, ErrClosed
	case <-ctx.Done():
		return store.AuditEntry{}, ctx.Err()
	}
	<-req.done
	return req.entry, req.err
}

// Checkpoint signs the current head now (a no-op when nothing was
// appended since the last checkpoint).
func (t *Trail) Checkpoint(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case t.cpReqs <- reply:
	case <-t.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events, writes a final checkpoint and waits for
// the writer. It does not close the store.
func (t *Trail) Close() error {
	t.closeOnce.Do(func() {
		close(t.quit)
		<-t.done
		t.stopWitnesses()
	})
	return t.closeErr
}

// witnessTimeout bounds one push to one witness.
const witnessTimeout = 10 * time.Second

// witnessLoop pushes checkpoints to the witnesses in order. A failed push
// is logged, not retried: the next checkpoint covers everything before
// it, so a witness that missed one still pins the chain at the next.
func (t *Trail) witnessLoop(ws []Witness) {
	defer close(t.wdone)
	for c := range t.witness {
		for _, w := range ws {
			ctx, cancel := context.WithTimeout(context.Background(), witnessTimeout)
			if err := w.Witness(ctx, c); err != nil {
				log.Error("audit witness failed", "witness", w.String(), "seq", c.Seq, "err", err)
			}
			cancel()
		}
	}
}

func (t *Trail) stopWitnesses() {
	if t.witness != nil {
		close(t.witness)
		<-t.wdone
		t.witness = nil
	}
}

func (t *Trail) loop() {
	defer close(t.done)
	var tick <-chan time.Time
	if t.interval > 0 {
		tk := time.NewTicker(t.interval)
		defer tk.Stop()
		tick = tk.C
	}
	batch := make([]*appendReq, 0, 64)
	for {
		select {
		case r := <-t.reqs:
			batch = append(batch[:0], r)
			// Let the appenders woken by the last commit reach their send,
			// so that they join this batch instead of the next one: one
			// transaction per batch is what makes group commit pay.
			runtime.Gosched()
		drain:
			for len(batch) < t.maxBatch {
				select {
				case r := <-t.reqs:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			t.commit(batch)
			t.batches++
			t.batched += int64(len(batch))
			clear(batch)
			if t.every > 0 && t.next-1-t.lastCP >= t.every {
				if err := t.checkpoint(); err != nil {
					log.Error("audit checkpoint failed", "seq", t.next-1, "err", err)
				}
			}
		case <-tick:
			if err := t.checkpoint(); err != nil {
				log.Error("audit checkpoint failed", "seq", t.next-1, "err", err)
			}
		case reply := <-t.cpReqs:
			reply <- t.checkpoint()
		case <-t.quit:
			t.closeErr = t.checkpoint()
			if t.batches > 0 {
				log.Debug("audit trail closed", "appends", t.batched, "transactions", t.batches,
					"mean_batch", float64(t.batched)/float64(t.batches))
			}
			return
		}
	}
}

// writeTimeout bounds one batch write; the store's own busy timeout is
// shorter, so this only trips on a wedged backend.
const writeTimeout = time.Minute

// maxRetries bounds how often a batch is re-sequenced after another
// process appended first.
const maxRetries = 100

// commit sequences, hashes and writes a batch, re-reading the head and
// retrying when another writer took the next seq first.
func (t *Trail) commit(batch []*appendReq) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	entries := make([]store.AuditEntry, len(batch))
	for attempt := 0; ; attempt++ {
		heads, err := t.sequence(batch, entries)
		if err != nil {
			finish(batch, entries, err)
			return
		}
		n, err := t.write(ctx, entries)
		if n > 0 {
			// The first n are durable whatever happens to the rest.
			finish(batch[:n], entries[:n], nil)
			t.next, t.head = entries[n-1].Seq+1, heads[n-1]
			batch, entries = batch[n:], entries[n:]
		}
		if err == nil {
			return
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= maxRetries {
			finish(batch, entries, fmt.Errorf("audit: append %s event: %w", batch[0].ev.Type, err))
			return
		}
		log.Debug("audit append raced another writer; re-reading the head", "attempt", attempt+1)
		if err := t.resume(ctx); err != nil {
			finish(batch, entries, err)
			return
		}
	}
}

// sequence fills entries from batch starting at t.next and returns each
// entry's chain head.
func (t *Trail) sequence(batch []*appendReq, entries []store.AuditEntry) ([]Hash, error) {
	heads := make([]Hash, len(batch))
	h := t.head
	for i, r := range batch {
		e := store.AuditEntry{
			Seq: t.next + int64(i), Time: t.now().UTC().Round(0),
			Type: r.ev.Type, RunID: r.ev.RunID, Actor: r.ev.Actor, Data: r.data,
		}
		var err error
		if h, err = t.chain.Next(h, e); err != nil {
			return nil, fmt.Errorf("audit: hash %s event: %w", e.Type, err)
		}
		e.Hash = h.String()
		entries[i], heads[i] = e, h
	}
	return heads, nil
}

// write stores entries and reports how many of them are durable.
func (t *Trail) write(ctx context.Context, entries []store.AuditEntry) (int, error) {
	if t.batcher != nil {
		if err := t.batcher.AuditAppendBatch(ctx, entries); err != nil {
			return 0, err
		}
		return len(entries), nil
	}
	for i, e := range entries {
		if err := t.st.AuditAppend(ctx, e); err != nil {
			return i, err
		}
	}
	return len(entries), nil
}

func finish(batch []*appendReq, entries []store.AuditEntry, err error) {
	for i, r := range batch {
		if err == nil {
			r.entry = entries[i]
		}
		r.err = err
		close(r.done)
	}
}

// checkpoint signs the head this Trail knows. When another process
// appended since, that head is older than the store's, which is fine: it
// is still a true statement about the chain at its seq.
func (t *Trail) checkpoint() error {
	seq := t.next - 1
	if seq <= 0 || seq <= t.lastCP {
		return nil
	}
	c := store.Checkpoint{Seq: seq, Hash: t.head.String(), Time: t.now().UTC().Round(0), KeyID: t.keyID}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(t.key, AppendCheckpointCanonical(nil, c)))
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	err := t.st.AuditCheckpointPut(ctx, c)
	if errors.Is(err, store.ErrConflict) {
		// Another process signed this very head first.
		err = nil
	}
	if err != nil {
		return fmt.Errorf("audit: checkpoint at seq %d: %w", seq, err)
	}
	t.lastCP = seq
	log.Debug("audit checkpoint", "seq", seq, "key_id", t.keyID)
	if t.witness != nil {
		select {
		case t.witness <- c:
		default:
			log.Error("audit witness queue is full; skipping a checkpoint (the next one covers it)", "seq", seq)
		}
	}
	return t.logCheckpoint(c)
}

// logCheckpoint appends c, and any earlier checkpoint whose log write
// failed, to the checkpoint log. The store is written first: a log line
// always names a checkpoint the store had, and a failed log write is
// retried with the next checkpoint (Open also catches up after a crash).
func (t *Trail) logCheckpoint(c store.Checkpoint) error {
	if t.logPath == "" {
		return nil
	}
	t.unlogged = append(t.unlogged, c)
	if err := AppendCheckpointFile(t.logPath, t.unlogged...); err != nil {
		return fmt.Errorf("audit: checkpoint at seq %d is in the store but not in the checkpoint log yet: %w", c.Seq, err)
	}
	t.unlogged = t.unlogged[:0]
	return nil
}
