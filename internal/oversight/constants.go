package oversight

import (
	"context"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// constants holds the values of a bundle's constant rules: complete rules
// the prepared queries can reach that read neither the input nor anything
// that changes between evaluations. A policy's settings, the sets derived
// from them and its lookup tables are such rules; OPA would evaluate them
// again for every decision (its rule cache lives for one evaluation), and
// they were some tens of microseconds of a decision. The engine evaluates
// them once per bundle load and hands them to each evaluation through
// OPA's VirtualCache hook (constantCache), so the policy reads them as if
// it had just computed them.
//
// A rule is not constant when it, or a rule or function it uses, refers to
// input, calls a non-deterministic built-in (time, random numbers, HTTP)
// or print, or uses `with` (which re-evaluates rules under other values).
type constants struct {
	values map[string]*ast.Term // key(ref) -> value; nil value = undefined
	// byName indexes values by the last element of their reference, so
	// that a lookup (every reference to a rule makes one) costs a map
	// access and a comparison of a few terms instead of building a key.
	byName map[string][]constant
}

type constant struct {
	ref   ast.Ref
	value *ast.Term
}

// constantBudget bounds the evaluation of one constant rule at load time;
// a rule that takes longer is left to be evaluated per decision (where the
// engine's timeout applies, as before).
const constantBudget = 200 * time.Millisecond

func findConstants(ctx context.Context, c *ast.Compiler, st storage.Store, queries []string, budget time.Duration) *constants {
	cs := &constants{values: map[string]*ast.Term{}, byName: map[string][]constant{}}
	reach := map[*ast.Rule]bool{}
	var visit func(r *ast.Rule)
	visit = func(r *ast.Rule) {
		if reach[r] {
			return
		}
		reach[r] = true
		for dep := range c.Graph.Dependencies(r) {
			if dr, ok := dep.(*ast.Rule); ok {
				visit(dr)
			}
		}
	}
	for _, q := range queries {
		for _, r := range c.GetRulesExact(ast.MustParseRef(q)) {
			visit(r)
		}
	}

	tainted := map[*ast.Rule]bool{}
	done := map[*ast.Rule]bool{}
	var isTainted func(r *ast.Rule) bool
	isTainted = func(r *ast.Rule) bool {
		if done[r] {
			return tainted[r]
		}
		done[r] = true // Rego forbids recursion, so a cycle cannot reach here again
		t := readsVolatile(r)
		if !t {
			for dep := range c.Graph.Dependencies(r) {
				dr, ok := dep.(*ast.Rule)
				if !ok || isTainted(dr) {
					t = true
					break
				}
			}
		}
		tainted[r] = t
		return t
	}

	seen := map[string]bool{}
	for r := range reach {
		if len(r.Head.Args) > 0 || r.Head.RuleKind() != ast.SingleValue {
			continue
		}
		ref := r.Ref() // the package's path and the rule's
		if !ref.IsGround() {
			continue
		}
		k, ok := refKey(nil, ref)
		if !ok || seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		isConst := true
		for _, sib := range c.GetRulesExact(ref) {
			if isTainted(sib) {
				isConst = false
				break
			}
		}
		if !isConst {
			continue
		}
		v, ok := evalConstant(ctx, c, st, ref, budget)
		if ok {
			cs.values[string(k)] = v
			name := string(ref[len(ref)-1].Value.(ast.String))
			cs.byName[name] = append(cs.byName[name], constant{ref: ref, value: v})
		}
	}
	return cs
}

// readsVolatile reports whether a rule itself (not the rules it uses)
// refers to input, calls a non-deterministic built-in or print, or uses
// `with`.
func readsVolatile(r *ast.Rule) bool {
	volatile := false
	for x := r; x != nil && !volatile; x = x.Else {
		ast.WalkExprs(x, func(e *ast.Expr) bool {
			if len(e.With) > 0 {
				volatile = true
			}
			if e.IsCall() && volatileCall(e.Operator()) {
				volatile = true
			}
			return volatile
		})
		ast.WalkTerms(x, func(t *ast.Term) bool {
			switch v := t.Value.(type) {
			case ast.Ref:
				if v.HasPrefix(ast.InputRootRef) {
					volatile = true
				}
			case ast.Call:
				if len(v) > 0 {
					if op, ok := v[0].Value.(ast.Ref); ok && volatileCall(op) {
						volatile = true
					}
				}
			}
			return volatile
		})
	}
	return volatile
}

func volatileCall(op ast.Ref) bool {
	name := op.String()
	if name == "print" || name == "internal.print" {
		return true
	}
	if b, ok := ast.BuiltinMap[name]; ok {
		return b.Nondeterministic
	}
	return false
}

// evalConstant evaluates one rule with no input and returns its value as
// an OPA term (nil when the rule is undefined). ok is false when it fails
// or runs out of time; the rule is then evaluated per decision instead.
func evalConstant(ctx context.Context, c *ast.Compiler, st storage.Store, ref ast.Ref, budget time.Duration) (*ast.Term, bool) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	rs, err := rego.New(
		rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(ref)))),
		rego.Compiler(c),
		rego.Store(st),
		rego.StrictBuiltinErrors(false),
		// Keep OPA's own value (sets stay sets) instead of a Go one.
		rego.GenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }),
	).Eval(ctx)
	if err != nil {
		return nil, false
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, true
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	return t, ok
}

// refKey appends the key of a rule reference (data.a.b -> "a\x00b\x00")
// to buf; ok is false for a reference that is not data followed by
// strings, which is never a constant.
func refKey(buf []byte, ref ast.Ref) ([]byte, bool) {
	if len(ref) < 2 || ref[0].Value.Compare(ast.DefaultRootDocument.Value) != 0 {
		return buf, false
	}
	for _, t := range ref[1:] {
		s, ok := t.Value.(ast.String)
		if !ok {
			return buf, false
		}
		buf = append(buf, s...)
		buf = append(buf, 0)
	}
	return buf, true
}

// constantCache is the VirtualCache of one evaluation: OPA's own cache,
// with the bundle's constants answered from the top frame. Frames pushed by
// `with` start empty, as in OPA's, so a rule evaluated under other values
// is evaluated again.
type constantCache struct {
	consts *constants
	depth  int
	inner  topdown.VirtualCache
}

func (cs *constants) newCache() *constantCache {
	return &constantCache{consts: cs, inner: topdown.NewVirtualCache()}
}

func (c *constantCache) Push() { c.depth++; c.inner.Push() }

func (c *constantCache) Pop() { c.depth--; c.inner.Pop() }

func (c *constantCache) Get(ref ast.Ref) (*ast.Term, bool) {
	if c.depth == 0 && len(ref) > 1 {
		if name, ok := ref[len(ref)-1].Value.(ast.String); ok {
			for _, k := range c.consts.byName[string(name)] {
				if k.ref.Equal(ref) {
					return k.value, k.value == nil
				}
			}
		}
	}
	return c.inner.Get(ref)
}

func (c *constantCache) Put(ref ast.Ref, value *ast.Term) { c.inner.Put(ref, value) }

func (c *constantCache) Keys() []ast.Ref { return c.inner.Keys() }

var _ topdown.VirtualCache = (*constantCache)(nil)
