package oversight

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/stretchr/testify/require"
)

const constantsPolicy = `package modelgate.promotion

settings := object.union({"limit": 3}, data.modelgate.settings)

limit := settings.limit

table := {"a": limit, "b": 2}

missing := 1 if false

reads_input := input.x

uses_helper := helper(1)

helper(n) := n + input.y

clock := time.now_ns()

nested := clock + 1

shadowed := x if {
	x := limit with data.modelgate.settings as {"limit": 9}
}

item contains 1 if true

other := 5

decision := {"limit": limit, "table": table, "input": reads_input, "helper": uses_helper, "shadowed": shadowed, "nested": nested > 0, "missing": [m | m := missing]}
`

// Only rules that read neither input nor anything that changes between
// evaluations are taken as constants, and only those the query reaches.
func TestFindConstants(t *testing.T) {
	t.Parallel()
	c := ast.NewCompiler()
	c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModuleWithOpts(constantsPolicy, ast.ParserOptions{RegoVersion: ast.RegoV1})})
	require.False(t, c.Failed(), "%v", c.Errors)
	st := inmem.NewFromObject(map[string]any{"modelgate": map[string]any{"settings": map[string]any{"limit": 4}}})
	cs := findConstants(context.Background(), c, st, []string{PromotionQuery}, time.Second)
	var names []string
	for k := range cs.values {
		names = append(names, k)
	}
	sort.Strings(names)
	require.Equal(t, []string{
		"modelgate\x00promotion\x00limit\x00",
		"modelgate\x00promotion\x00missing\x00",
		"modelgate\x00promotion\x00settings\x00",
		"modelgate\x00promotion\x00table\x00",
	}, names, "reads_input, uses_helper, clock, nested and shadowed are not constant; item is a set; other is not reached")
	require.Nil(t, cs.values["modelgate\x00promotion\x00missing\x00"], "an undefined rule is cached as undefined")
	require.Equal(t, 0, ast.Number("4").Compare(cs.values["modelgate\x00promotion\x00limit\x00"].Value))

	// Evaluated through the cache, the answer is the one OPA gives without it,
	// including the rule evaluated under `with`, which must not see the
	// cached limit.
	pq, err := rego.New(rego.Query(PromotionQuery), rego.Compiler(c), rego.Store(st)).PrepareForEval(context.Background())
	require.NoError(t, err)
	in := rego.EvalInput(map[string]any{"x": "from input", "y": 10})
	plain, err := pq.Eval(context.Background(), in)
	require.NoError(t, err)
	cached, err := pq.Eval(context.Background(), in, rego.EvalVirtualCache(cs.newCache()))
	require.NoError(t, err)
	require.Equal(t, plain[0].Expressions[0].Value, cached[0].Expressions[0].Value)
	require.Equal(t, map[string]any{
		"limit": jsonNum("4"), "table": map[string]any{"a": jsonNum("4"), "b": jsonNum("2")}, "input": "from input",
		"helper": jsonNum("11"), "shadowed": jsonNum("9"), "nested": true, "missing": []any{},
	}, cached[0].Expressions[0].Value)
}

// A constant rule that does not finish within the budget is left to be
// evaluated per decision, where the engine's timeout applies.
func TestFindConstantsGivesUpOnSlowRules(t *testing.T) {
	t.Parallel()
	c := ast.NewCompiler()
	c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModuleWithOpts(`package modelgate.promotion
decision := count([1 | some i in numbers.range(1, 100000000)])
`, ast.ParserOptions{RegoVersion: ast.RegoV1})})
	require.False(t, c.Failed(), "%v", c.Errors)
	start := time.Now()
	cs := findConstants(context.Background(), c, inmem.New(), []string{PromotionQuery}, 50*time.Millisecond)
	require.Empty(t, cs.values)
	require.Less(t, time.Since(start), 10*time.Second, "the budget bounds the search") // generous: a sanity bound, not a benchmark
}

func jsonNum(s string) any { return json.Number(s) }
