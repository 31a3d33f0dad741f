package oversight

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/tools/redact"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Audit event types the oversight layer writes.
const (
	EventDecision         = "decision"
	EventPolicyReload     = "policy.reload"
	EventPolicyReloadFail = "policy.reload_failed"
)

// Reason codes of denials the engine itself produces when the policy gives
// no usable answer. Policies' own codes come from the bundle.
const (
	CodeUndefined  = "policy.undefined"
	CodeTimeout    = "policy.timeout"
	CodeWrongShape = "policy.wrong_shape"
	CodeEvalError  = "policy.error"
)

// EngineOptions configures NewEngine.
type EngineOptions struct {
	Dir      string         // policy folder; "" = the embedded default bundle
	Timeout  time.Duration  // per evaluation; default 2s
	Recorder audit.Recorder // audit trail; nil records nothing
	Logger   *log.Logger    // default log.Default()
	// FS overrides Dir with an arbitrary file system (tests, embedding).
	FS fs.FS
}

// Engine evaluates the promotion and authorization policies of one bundle.
// The compiled bundle and its prepared queries are swapped atomically on
// reload, so evaluations in flight finish on the bundle they started with.
type Engine struct {
	opts    EngineOptions
	fsys    fs.FS
	source  string
	current atomic.Pointer[loaded]
	// reloadMu serialises reloads; evaluations never take it.
	reloadMu   sync.Mutex
	lastFailed string // revision that last failed to load, so Watch does not retry it every tick
}

type loaded struct {
	bundle    *Bundle
	consts    *constants
	promotion rego.PreparedEvalQuery
	authz     rego.PreparedEvalQuery
	tests     TestReport
}

// NewEngine loads the bundle, runs its tests and prepares the queries. It
// fails when the bundle does not compile, a test fails, or a required rule
// (data.modelgate.promotion.decision, data.modelgate.authz.allow) is missing.
func NewEngine(ctx context.Context, opts EngineOptions) (*Engine, error) {
	if opts.Timeout <= 0 {
		// It bounds a runaway policy, not a busy machine: an evaluation
		// takes microseconds, but 100 ms was seen to pass on a loaded
		// 2-core host, denying legitimate requests at random.
		opts.Timeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = log.Default()
	}
	e := &Engine{opts: opts}
	if opts.FS != nil {
		e.fsys, e.source = opts.FS, "fs"
		if opts.Dir != "" {
			e.source = opts.Dir
		}
	} else {
		fsys, source, err := BundleFS(opts.Dir)
		if err != nil {
			return nil, err
		}
		e.fsys, e.source = fsys, source
	}
	l, err := e.load(ctx)
	if err != nil {
		return nil, err
	}
	e.current.Store(l)
	e.opts.Logger.Info("policy bundle loaded", "source", e.source, "revision", l.bundle.Revision, "tests", l.tests.Passed)
	return e, nil
}

func (e *Engine) load(ctx context.Context) (*loaded, error) {
	b, err := LoadBundle(e.fsys, e.source)
	if err != nil {
		return nil, err
	}
	for _, q := range []string{PromotionQuery, AuthzQuery} {
		if !b.hasRule(q) {
			return nil, fmt.Errorf("policy bundle %s: no rule defines %s", e.source, q)
		}
	}
	rep, err := b.RunTests(ctx, TestParams{})
	if err != nil {
		return nil, err
	}
	if !rep.OK() {
		return nil, fmt.Errorf("policy bundle %s: %d of %d tests failed: %s", e.source, rep.Failed, len(rep.Tests), rep.FailureSummary())
	}
	l := &loaded{bundle: b, tests: rep}
	st := b.store()
	l.consts = findConstants(ctx, b.Compiler, st, []string{PromotionQuery, AuthzQuery}, min(e.opts.Timeout, constantBudget))
	prep := func(q string) (rego.PreparedEvalQuery, error) {
		pq, err := rego.New(
			rego.Query(q),
			rego.Compiler(b.Compiler),
			rego.Store(st),
			rego.StrictBuiltinErrors(false),
		).PrepareForEval(ctx)
		if err != nil {
			return pq, fmt.Errorf("prepare %s from %s: %w", q, e.source, err)
		}
		return pq, nil
	}
	if l.promotion, err = prep(PromotionQuery); err != nil {
		return nil, err
	}
	if l.authz, err = prep(AuthzQuery); err != nil {
		return nil, err
	}
	return l, nil
}

// Revision is the hash of the files of the bundle in use.
func (e *Engine) Revision() string { return e.current.Load().bundle.Revision }

// Source is the folder the bundle comes from, or "embedded".
func (e *Engine) Source() string { return e.source }

// Tests returns the outcome of the loaded bundle's own tests.
func (e *Engine) Tests() TestReport { return e.current.Load().tests }

// Reload re-reads the bundle and swaps it in only when it compiles and its
// tests pass; otherwise the bundle in use stays and the error is returned.
// Both outcomes are audited.
func (e *Engine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	return e.reloadLocked(ctx, "api")
}

func (e *Engine) reloadLocked(ctx context.Context, cause string) error {
	prev := e.current.Load().bundle.Revision
	l, err := e.load(ctx)
	if err != nil {
		attempted, _ := BundleRevision(e.fsys)
		e.lastFailed = attempted
		e.opts.Logger.Error("policy reload refused; keeping the bundle in use", "source", e.source, "revision", prev, "err", err)
		e.record(ctx, EventPolicyReloadFail, "", map[string]any{
			"source": e.source, "revision_in_use": prev, "revision_attempted": attempted, "cause": cause, "error": err.Error(),
		})
		return fmt.Errorf("reload policy bundle: %w", err)
	}
	e.current.Store(l)
	e.lastFailed = ""
	e.opts.Logger.Info("policy bundle reloaded", "source", e.source, "revision", l.bundle.Revision, "previous", prev)
	e.record(ctx, EventPolicyReload, "", map[string]any{
		"source": e.source, "revision": l.bundle.Revision, "previous": prev, "cause": cause, "tests_passed": l.tests.Passed,
	})
	return nil
}

// Watch polls the bundle's files every interval and reloads when their
// hash changes and has stayed the same for one more interval, until ctx ends. A bundle that failed to load is not retried
// until its files change again.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	// A change is reloaded once two ticks in a row see the same files, so
	// an editor's half-written save is never compiled.
	var seen string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rev, err := BundleRevision(e.fsys)
		if err != nil {
			e.opts.Logger.Warn("policy watch: cannot read bundle", "source", e.source, "err", err)
			continue
		}
		if rev != seen {
			seen = rev
			continue
		}
		e.reloadMu.Lock()
		if rev != e.current.Load().bundle.Revision && rev != e.lastFailed {
			_ = e.reloadLocked(ctx, "watch")
		}
		e.reloadMu.Unlock()
	}
}

// Decide evaluates the promotion policy. When the policy gives no usable
// answer (undefined, too slow, wrong shape, an evaluation error) the
// decision is a denial with a policy.* reason code and the error is nil:
// that is an outcome, not a failure to decide. An error is returned only
// when the caller's context ended, together with a denial.
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	l := e.current.Load()
	d := Decision{ID: uuid.NewString(), PolicyRevision: l.bundle.Revision, EvaluatedAt: time.Now().UTC(), Deny: []Reason{}, Reasons: []string{}, Approvers: Approvers{Groups: []string{}}}
	// The digest comes first: it also proves the input encodable as JSON,
	// which inputValue relies on.
	digest, err := InputDigest(in)
	if err != nil {
		return e.fail(ctx, in, d, CodeWrongShape, fmt.Sprintf("input cannot be encoded: %v", err)), nil
	}
	d.InputDigest = digest
	val := inputValue(in)
	ectx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	rs, err := l.promotion.Eval(ectx, rego.EvalParsedInput(val), rego.EvalVirtualCache(l.consts.newCache()), rego.EvalMetrics(noMetrics))
	if err != nil {
		if ctx.Err() != nil {
			return e.fail(ctx, in, d, CodeTimeout, "the caller gave up before the policy answered"), fmt.Errorf("decide: %w", ctx.Err())
		}
		if isCancel(err) || ectx.Err() != nil {
			return e.fail(ctx, in, d, CodeTimeout, fmt.Sprintf("the promotion policy did not answer within %s", e.opts.Timeout)), nil
		}
		return e.fail(ctx, in, d, CodeEvalError, fmt.Sprintf("the promotion policy failed: %v", err)), nil
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return e.fail(ctx, in, d, CodeUndefined, PromotionQuery+" is undefined for this input"), nil
	}
	if err := parseDecision(rs[0].Expressions[0].Value, &d); err != nil {
		return e.fail(ctx, in, d, CodeWrongShape, fmt.Sprintf("%s has the wrong shape: %v", PromotionQuery, err)), nil
	}
	e.recordDecision(ctx, in, d)
	return d, nil
}

// noMetrics spares each evaluation the metrics registry OPA would otherwise
// allocate for it; nothing reads it.
var noMetrics = metrics.NoOp()

func isCancel(err error) bool {
	var te *topdown.Error
	if errors.As(err, &te) && te.Code == topdown.CancelErr {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// fail turns a policy that gave no usable answer into a denial.
func (e *Engine) fail(ctx context.Context, in Input, d Decision, code, msg string) Decision {
	d.Allow = false
	d.RequireApproval = false
	d.Approvers = Approvers{Groups: []string{}}
	d.Risk = "critical"
	d.Deny = []Reason{{Code: code, Message: msg}}
	d.Reasons = []string{"denied: " + msg}
	e.opts.Logger.Warn("policy gave no usable decision; denying", "run", in.Run.ID, "code", code, "msg", msg, "revision", d.PolicyRevision)
	e.recordDecision(context.WithoutCancel(ctx), in, d)
	return d
}

func (e *Engine) recordDecision(ctx context.Context, in Input, d Decision) {
	e.record(ctx, EventDecision, in.Run.ID, map[string]any{
		"requester":       in.Requester.Subject,
		"decision_id":     d.ID,
		"input_digest":    d.InputDigest,
		"policy_revision": d.PolicyRevision,
		"model":           in.Model,
		"environment":     in.Environment,
		"candidate":       in.Candidate.Digest,
		"result":          Mask(d),
	})
}

func (e *Engine) record(ctx context.Context, typ, runID string, data map[string]any) {
	if e.opts.Recorder == nil {
		return
	}
	actor := "policy-engine"
	if err := e.opts.Recorder.Record(ctx, typ, runID, actor, data); err != nil {
		e.opts.Logger.Error("audit record failed", "type", typ, "run", runID, "err", err)
	}
}

// parseDecision checks the policy's answer field by field; a policy that
// returns anything else is treated as broken, not trusted in part.
func parseDecision(v any, d *Decision) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("want an object, got %s", typeName(v))
	}
	allow, ok := obj["allow"].(bool)
	if !ok {
		return fmt.Errorf("allow: want a boolean, got %s", typeName(obj["allow"]))
	}
	req, ok := obj["require_approval"].(bool)
	if !ok {
		return fmt.Errorf("require_approval: want a boolean, got %s", typeName(obj["require_approval"]))
	}
	risk, ok := obj["risk"].(string)
	if !ok || !validRisk(risk) {
		return fmt.Errorf("risk: want one of low, medium, high, critical, got %v", obj["risk"])
	}
	denyList, ok := obj["deny"].([]any)
	if !ok {
		return fmt.Errorf("deny: want an array, got %s", typeName(obj["deny"]))
	}
	deny := make([]Reason, 0, len(denyList))
	for i, x := range denyList {
		r, ok := x.(map[string]any)
		if !ok {
			return fmt.Errorf("deny[%d]: want an object, got %s", i, typeName(x))
		}
		code, ok1 := r["code"].(string)
		msg, ok2 := r["message"].(string)
		if !ok1 || !ok2 || code == "" {
			return fmt.Errorf("deny[%d]: want {\"code\": string, \"message\": string}", i)
		}
		deny = append(deny, Reason{Code: code, Message: msg})
	}
	reasonList, ok := obj["reasons"].([]any)
	if !ok {
		return fmt.Errorf("reasons: want an array, got %s", typeName(obj["reasons"]))
	}
	reasons := make([]string, 0, len(reasonList))
	for i, x := range reasonList {
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("reasons[%d]: want a string, got %s", i, typeName(x))
		}
		reasons = append(reasons, s)
	}
	ap, ok := obj["approvers"].(map[string]any)
	if !ok {
		return fmt.Errorf("approvers: want an object, got %s", typeName(obj["approvers"]))
	}
	groupList, ok := ap["groups"].([]any)
	if !ok {
		return fmt.Errorf("approvers.groups: want an array, got %s", typeName(ap["groups"]))
	}
	groups := make([]string, 0, len(groupList))
	for i, x := range groupList {
		s, ok := x.(string)
		if !ok || s == "" {
			return fmt.Errorf("approvers.groups[%d]: want a non-empty string", i)
		}
		groups = append(groups, s)
	}
	minN, err := wholeNumber(ap["min"])
	if err != nil {
		return fmt.Errorf("approvers.min: %w", err)
	}
	// Contradictions are a broken policy: allowing while listing denials,
	// or asking for approval without saying how many people.
	if allow && len(deny) > 0 {
		return fmt.Errorf("allow is true but deny lists %d reason(s)", len(deny))
	}
	if !allow && len(deny) == 0 {
		return errors.New("allow is false but deny gives no reason")
	}
	if req && minN < 1 {
		return fmt.Errorf("require_approval is true but approvers.min is %d", minN)
	}
	d.Allow, d.RequireApproval, d.Risk, d.Deny, d.Reasons = allow, req, risk, deny, reasons
	d.Approvers = Approvers{Groups: groups, Min: minN}
	return nil
}

func wholeNumber(v any) (int, error) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		x, err := n.Float64()
		if err != nil {
			return 0, fmt.Errorf("want a whole number, got %s", n)
		}
		f = x
	case float64:
		f = n
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	default:
		return 0, fmt.Errorf("want a whole number, got %s", typeName(v))
	}
	if f < 0 || f > 1000 || f != float64(int(f)) {
		return 0, fmt.Errorf("want a whole number from 0 to 1000, got %v", f)
	}
	return int(f), nil
}

func validRisk(r string) bool {
	switch r {
	case "low", "medium", "high", "critical":
		return true
	}
	return false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number, float64, int, int64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Actions a principal may be authorized for.
var Actions = []string{"trigger", "approve", "reject", "promote", "rollback", "abort", "reload", "read"}

// AuthzInput asks whether a principal may do an action on a model in an
// environment.
type AuthzInput struct {
	Principal   auth.Principal `json:"principal"`
	Action      string         `json:"action"`
	Model       string         `json:"model"`
	Environment string         `json:"environment"`
}

// Authorize evaluates data.modelgate.authz.allow. Undefined, a timeout or
// a non-boolean answer refuse; the error says why for the latter two.
func (e *Engine) Authorize(ctx context.Context, in AuthzInput) (bool, error) {
	l := e.current.Load()
	ectx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	inMap := map[string]any{
		"principal": map[string]any{
			"subject": in.Principal.Subject,
			"roles":   stringsToAny(in.Principal.Roles),
			"groups":  stringsToAny(in.Principal.Groups),
		},
		"action":      in.Action,
		"model":       in.Model,
		"environment": in.Environment,
	}
	rs, err := l.authz.Eval(ectx, rego.EvalInput(inMap), rego.EvalVirtualCache(l.consts.newCache()))
	if err != nil {
		return false, fmt.Errorf("authorize %s %s: %w", in.Principal.Subject, in.Action, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return false, nil
	}
	allow, ok := rs[0].Expressions[0].Value.(bool)
	if !ok {
		return false, fmt.Errorf("authorize: %s has the wrong shape: want a boolean, got %s", AuthzQuery, typeName(rs[0].Expressions[0].Value))
	}
	return allow, nil
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// Eval evaluates an arbitrary query against the loaded bundle with the
// given input (for `modelgate policy eval`); it is not prepared ahead.
func EvalQuery(ctx context.Context, b *Bundle, query string, input any, timeout time.Duration) (any, bool, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ectx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := ast.ParseBody(query); err != nil {
		return nil, false, fmt.Errorf("query %q: %w", query, err)
	}
	r := rego.New(rego.Query(query), rego.Compiler(b.Compiler), rego.Store(b.store()), rego.Input(input))
	rs, err := r.Eval(ectx)
	if err != nil {
		if isCancel(err) {
			return nil, false, fmt.Errorf("query %s did not finish within %s", query, timeout)
		}
		return nil, false, fmt.Errorf("evaluate %s: %w", query, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, false, nil
	}
	return rs[0].Expressions[0].Value, true, nil
}

// Mask replaces the values of secret-looking fields and secret-looking
// strings in v (after a JSON round trip) with "***", so that an audit
// record never carries a credential a policy echoed into a reason.
func Mask(v any) any {
	if d, ok := v.(Decision); ok {
		// Every decision is audited; its fixed shape makes the round trip
		// avoidable (see maskDecision).
		if m, ok := maskDecision(d); ok {
			return m
		}
	}
	return maskJSON(v)
}

// maskJSON is Mask for any value: a JSON round trip, then masking.
func maskJSON(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return "***unencodable***"
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return "***unencodable***"
	}
	return maskValue(doc)
}

var secretKeys = []string{"secret", "token", "password", "passwd", "api_key", "apikey", "authorization", "credential", "private_key", "cookie"}

func maskValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if isSecretKey(k) {
				x[k] = "***"
				continue
			}
			x[k] = maskValue(val)
		}
		return x
	case []any:
		for i := range x {
			x[i] = maskValue(x[i])
		}
		return x
	case string:
		return redact.String(x)
	}
	return v
}

// jsonInt is n as Mask's decoding (UseNumber) gives it.
func jsonInt(n int) json.Number { return json.Number(strconv.Itoa(n)) }

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// ParseDecision checks a promotion policy's raw answer (as OPA returns it)
// and converts it; the error says which field has the wrong shape.
func ParseDecision(v any) (Decision, error) {
	var d Decision
	if err := parseDecision(v, &d); err != nil {
		return Decision{}, err
	}
	return d, nil
}
