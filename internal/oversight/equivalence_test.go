package oversight

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/charmbracelet/log"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/pipeline"
	"github.com/modelgate/modelgate/policies"
)

// jsonValue is the input as a caller without the engine would pass it:
// the JSON encoding of Input, without facts.
func jsonValue(t testing.TB, in Input) ast.Value {
	t.Helper()
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	v, err := ast.ValueFromReader(bytes.NewReader(raw))
	require.NoError(t, err)
	return v
}

// policyView is jsonValue with what the policy input leaves out: reports'
// artifacts and details.
func policyView(t testing.TB, in Input) ast.Value {
	t.Helper()
	for stage, r := range in.Reports {
		r.Artifacts, r.Details = nil, nil
		in.Reports[stage] = r
	}
	return jsonValue(t, in)
}

func inputs(seed uint64, n int) []Input {
	r := rand.New(rand.NewPCG(seed, 7))
	out := []Input{{}, {Reports: map[string]pipeline.Report{}}}
	for range n {
		out = append(out, genInput(r))
	}
	return out
}

// The lazily built policy input, once OPA has converted all of it, equals
// the JSON encoding of Input plus the facts.
func TestInputValueMatchesJSON(t *testing.T) {
	t.Parallel()
	extra := Input{
		Run:   RunInfo{ID: "r", Trigger: "api", CommitAuthor: "a", Labels: map[string]string{"team": "fraud"}},
		Model: "m", Environment: "production", Task: "binary",
		Candidate:  pipeline.Candidate{Version: "v2", Digest: "sha256:ab", ArtifactPath: "/x", Endpoint: "http://e"},
		Production: &pipeline.Production{Version: "v1", Digest: "sha256:cd", ArtifactPath: "/p", Endpoint: "http://p"},
		Reports: map[string]pipeline.Report{
			"scan": {Agent: "security", Stage: "scan", Verdict: pipeline.Fail, Metrics: map[string]float64{"files": 2, "x.y": 0.125, "neg": -1e-9},
				Findings: []pipeline.Finding{{ID: "1", Severity: pipeline.Critical, Code: "c", Message: "m", Subject: "s", Evidence: map[string]any{"k": []any{"v", 1.5}}}},
				Summary:  "bad", Artifacts: []pipeline.ArtifactRef{{Name: "report", Path: "/r.html"}}, Details: json.RawMessage(`{"a": 1}`)},
			"evaluate": {Verdict: pipeline.Pass},
		},
		Deploy:    DeployInfo{Strategy: "canary", MaxTrafficShare: 0.25, Shadow: true},
		Requester: auth.Principal{Subject: "s", Roles: []string{"ci"}, Groups: []string{"g"}},
	}
	for i, in := range append(inputs(1, 200), extra) {
		want := policyView(t, in).(ast.Object)
		want.Insert(ast.StringTerm("facts"), ast.NewTerm(factsValue(in)))
		got := inputValue(in)
		require.Equal(t, 0, want.Compare(got), "case %d:\njson: %v\ngo:   %v", i, want, got)
	}
}

// A policy that reads one member of the input gets it without the rest
// being converted, and the input answers OPA's lookups as a plain object
// would.
func TestInputValueReadsLazily(t *testing.T) {
	t.Parallel()
	in := inputs(2, 1)[2]
	in.Model = "fraud"
	pq, err := rego.New(rego.Query(`x := [input.model, input.reports.evaluate.verdict, count(input.facts.reports_present), object.get(input, ["candidate", "version"], "-")]`)).PrepareForEval(context.Background())
	require.NoError(t, err)
	if _, ok := in.Reports["evaluate"]; !ok {
		t.Skip("generated input has no evaluate report")
	}
	rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(inputValue(in)))
	require.NoError(t, err)
	want := []any{"fraud", string(in.Reports["evaluate"].Verdict), json.Number(strconv.Itoa(len(in.Reports))), "v2"}
	require.Equal(t, want, rs[0].Bindings["x"])
}

// The hand-written encoder gives json.Marshal's bytes, so the digest is
// the SHA-256 of the input's JSON encoding, as documented.
func TestInputDigestMatchesMarshal(t *testing.T) {
	t.Parallel()
	nasty := []string{"", "plain", "<script>&amp;</script>", "quote\" back\\slash", "\x00\x01\x1f\x7f\b\f\n\r\t", "\u2028\u2029", "é漢字🙂", "bad\xffutf8\xc3", "\xed\xa0\x80"}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 1.5e300, -2.5e-300, 5e-324, math.MaxFloat64, 123456789.123, 0.30000000000000004}
	r := rand.New(rand.NewPCG(3, 9))
	cases := inputs(4, 150)
	for i := range 100 {
		in := genInput(r)
		s := nasty[i%len(nasty)]
		in.Model, in.Run.ID, in.Requester.Subject = s, nasty[(i+1)%len(nasty)], nasty[(i+2)%len(nasty)]
		in.Run.Labels = map[string]string{s: nasty[(i+3)%len(nasty)], "b": "c"}
		in.Requester.Groups = []string{s, "g"}
		in.Deploy.MaxTrafficShare = floats[i%len(floats)]
		if in.Reports == nil {
			in.Reports = map[string]pipeline.Report{}
		}
		in.Reports[s] = pipeline.Report{
			Agent: s, Stage: s, Verdict: pipeline.Verdict(s), Summary: s,
			Metrics:   map[string]float64{s: floats[(i+5)%len(floats)], "z": floats[(i+7)%len(floats)]},
			Findings:  []pipeline.Finding{{ID: s, Severity: pipeline.Severity(s), Code: s, Message: s, Subject: s, Evidence: map[string]any{"html": "<b>", "n": 1.5}}},
			Artifacts: []pipeline.ArtifactRef{{Name: s, Path: "/a<b>"}},
			Details:   json.RawMessage(`{ "spaced" : [1, 2, "<x>"] }`),
		}
		cases = append(cases, in)
	}
	for i, in := range cases {
		raw, err := json.Marshal(in)
		require.NoError(t, err)
		sum := sha256.Sum256(raw)
		got, err := InputDigest(in)
		require.NoError(t, err)
		require.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), got, "case %d: %s", i, raw)
	}
}

// What json.Marshal refuses, the digest refuses too (and Decide then
// denies instead of handing OPA a value it cannot convert).
func TestInputDigestRefusesWhatJSONCannotHold(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]Input{
		"NaN metric":        {Reports: map[string]pipeline.Report{"evaluate": {Metrics: map[string]float64{"candidate.f1": math.NaN()}}}},
		"infinite share":    {Deploy: DeployInfo{MaxTrafficShare: math.Inf(1)}},
		"NaN evidence":      {Reports: map[string]pipeline.Report{"scan": {Findings: []pipeline.Finding{{Evidence: map[string]any{"x": math.NaN()}}}}}},
		"malformed details": {Reports: map[string]pipeline.Report{"scan": {Details: json.RawMessage(`{"a":`)}}},
	} {
		_, jerr := json.Marshal(in)
		require.Error(t, jerr, name)
		_, err := InputDigest(in)
		require.Error(t, err, name)
	}
}

func promotionCompiler(t testing.TB, extra map[string]string) *ast.Compiler {
	t.Helper()
	mods := map[string]*ast.Module{}
	src, err := policies.FS.Open("promotion.rego")
	require.NoError(t, err)
	raw, err := io.ReadAll(src)
	require.NoError(t, err)
	files := map[string]string{"promotion.rego": string(raw)}
	for k, v := range extra {
		files[k] = v
	}
	for name, text := range files {
		m, err := ast.ParseModuleWithOpts(name, text, ast.ParserOptions{RegoVersion: ast.RegoV1})
		require.NoError(t, err)
		mods[name] = m
	}
	c := ast.NewCompiler()
	c.Compile(mods)
	require.False(t, c.Failed(), "%v", c.Errors)
	return c
}

// The facts the engine computes in Go equal the facts promotion.rego
// computes from the evidence when they are absent.
func TestFactsMatchRego(t *testing.T) {
	t.Parallel()
	c := promotionCompiler(t, nil)
	pq, err := rego.New(rego.Query("data.modelgate.promotion.computed_facts"), rego.Compiler(c),
		rego.GenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }),
	).PrepareForEval(context.Background())
	require.NoError(t, err)
	for i, in := range inputs(5, 400) {
		rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(jsonValue(t, in)))
		require.NoError(t, err)
		require.Len(t, rs, 1)
		rego := rs[0].Expressions[0].Value.(*ast.Term).Value
		goFacts := factsValue(in)
		require.Equal(t, 0, rego.Compare(goFacts), "case %d:\nrego: %v\ngo:   %v", i, rego, goFacts)
	}
}

// settingsVariants are the settings a team might ship: the defaults, and
// each kind of override the policy handles differently.
var settingsVariants = map[string]string{
	"defaults":           ``,
	"own metric":         `{"modelgate": {"settings": {"guarded_metrics": {"auc_at_1pct": "higher", "custom_kpi": "lower"}}}}`,
	"unknown direction":  `{"modelgate": {"settings": {"guarded_metrics": {"roc_auc": "sideways"}}}}`,
	"negative tolerance": `{"modelgate": {"settings": {"regression_tolerance": -0.01}}}`,
	"strict":             `{"modelgate": {"settings": {"regression_tolerance": 0, "drift_share_max": 0.1, "large_traffic_share": 0.2, "required_reports": ["validate", "test", "scan", "evaluate"], "production_environments": ["staging"], "critical_min_approvers": 3}}}`,
	"malformed":          `{"modelgate": {"settings": "oops"}}`,
}

// The engine's decisions (Go facts, constants, lazy input) equal those of
// the plainly written policy promotion.rego replaced
// (testdata/promotion_reference.rego), and those of promotion.rego on the
// plain JSON input (facts computed in Rego), for every kind of settings.
func TestDecisionsMatchReference(t *testing.T) {
	t.Parallel()
	refSrc, err := os.ReadFile("testdata/promotion_reference.rego")
	require.NoError(t, err)
	promSrc, err := io.ReadAll(must(policies.FS.Open("promotion.rego")))
	require.NoError(t, err)
	authzSrc, err := io.ReadAll(must(policies.FS.Open("authz.rego")))
	require.NoError(t, err)
	for vi, name := range slices.Sorted(maps.Keys(settingsVariants)) {
		data := settingsVariants[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fsys := fstest.MapFS{
				"promotion.rego": {Data: promSrc},
				"authz.rego":     {Data: authzSrc},
			}
			var store map[string]any
			if data != "" {
				fsys["data.json"] = &fstest.MapFile{Data: []byte(data)}
				require.NoError(t, json.Unmarshal([]byte(data), &store))
			}
			e, err := NewEngine(context.Background(), EngineOptions{FS: fsys, Logger: log.New(io.Discard), Timeout: 10 * time.Second})
			require.NoError(t, err)
			prep := func(module string) rego.PreparedEvalQuery {
				pq, err := rego.New(rego.Query("data.modelgate.promotion.decision"),
					rego.Module("p.rego", module),
					rego.Store(inmem.NewFromObject(orEmpty(store))),
				).PrepareForEval(context.Background())
				require.NoError(t, err)
				return pq
			}
			reference, err := rego.New(rego.Query("data.modelgate.reference.decision"),
				rego.Module("r.rego", string(refSrc)),
				rego.Store(inmem.NewFromObject(orEmpty(store))),
			).PrepareForEval(context.Background())
			require.NoError(t, err)
			plain := prep(string(promSrc))
			for i, in := range inputs(uint64(10+vi), 300) {
				d, err := e.Decide(context.Background(), in)
				require.NoError(t, err)
				for which, pq := range map[string]rego.PreparedEvalQuery{"reference": reference, "promotion.rego on JSON": plain} {
					rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(jsonValue(t, in)))
					require.NoError(t, err)
					require.Len(t, rs, 1, "case %d: %s undefined", i, which)
					want, err := ParseDecision(rs[0].Expressions[0].Value)
					require.NoError(t, err, "case %d", i)
					got := d
					got.ID, got.PolicyRevision, got.InputDigest, got.EvaluatedAt = "", "", "", want.EvaluatedAt
					require.Equal(t, want, got, "case %d against %s: input %+v", i, which, in)
				}
			}
		})
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
