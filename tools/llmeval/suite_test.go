package llmeval

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSuiteErrorsNameFileCaseAndField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "tests:\n  - id: a\n    asert: []\n", []string{"suite.yaml", "tests[0].asert", "line 3", `unknown key "asert"`}},
		{"unknown type", "tests:\n  - id: refund\n    assert: [{type: contians, value: x}]\n", []string{"tests[0].assert[0].type", `case "refund"`, `"contians"`}},
		{"bad regex", "tests:\n  - id: r\n    assert: [{type: regex, value: '('}]\n", []string{"tests[0].assert[0].value", `case "r"`, "bad regex"}},
		{"no value", "tests:\n  - id: c\n    assert: [{type: contains}]\n", []string{"tests[0].assert[0].value", "needs a text value"}},
		{"latency threshold", "tests:\n  - id: l\n    assert: [{type: latency}]\n", []string{"tests[0].assert[0].threshold", "milliseconds"}},
		{"similar without reference", "tests:\n  - id: s\n    assert: [{type: similar}]\n", []string{"tests[0].assert[0].value", "reference"}},
		{"bad metric", "tests:\n  - id: s\n    reference: x\n    assert: [{type: similar, metric: bleu}]\n", []string{"tests[0].assert[0].metric"}},
		{"bad schema", "tests:\n  - id: j\n    assert: [{type: json-schema, value: {type: 12}}]\n", []string{"tests[0].assert[0].value", "JSON Schema"}},
		{"remote ref", "tests:\n  - id: j\n    assert: [{type: json-schema, value: {$ref: 'http://example.com/s.json'}}]\n", []string{"outside the suite"}},
		{"duplicate id", "tests:\n  - {id: a, assert: [{type: is-json}]}\n  - {id: a, assert: [{type: is-json}]}\n", []string{"tests[1].id", "also tests[0]"}},
		{"no assertions", "tests:\n  - id: a\n", []string{"tests[0].assert", "asserts nothing"}},
		{"repeats 1", "judge: {repeats: 1}\ntests:\n  - {id: a, assert: [{type: is-json}]}\n", []string{"judge.repeats", "noise"}},
		{"no cases", "description: x\n", []string{"tests", "no cases"}},
		{"not-is-json", "tests:\n  - {id: a, assert: [{type: not-is-json}]}\n", []string{"unknown assertion type"}},
		{"not yaml", "tests: [", []string{"not valid YAML"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSuite("suite.yaml", []byte(c.yaml))
			require.Error(t, err)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParsePromptErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ yaml, want string }{
		{"model: m\ntemplate: x\n", "endpoint"},
		{"endpoint: file:///etc/passwd\nmodel: m\ntemplate: x\n", "endpoint"},
		{"endpoint: http://h/v1\ntemplate: x\n", "model"},
		{"endpoint: http://h/v1\nmodel: m\n", "template"},
		{"endpoint: http://h/v1\nmodel: m\ntemplate: x\nparameters: {temperature: 3}\n", "parameters.temperature"},
		{"endpoint: http://h/v1\nmodel: m\ntemplate: x\nsytem: y\n", `unknown key "sytem"`},
	} {
		_, err := ParsePrompt("prompt.yaml", []byte(c.yaml))
		require.ErrorContains(t, err, c.want, c.yaml)
		require.ErrorContains(t, err, "prompt.yaml")
	}
}

func TestRenderFillsOnlyPlaceholders(t *testing.T) {
	t.Parallel()
	p := &Prompt{System: "You help {{ team }}.", Template: "Q: {{q}} {{ .q }} {{ printf \"x\" }}"}
	msgs, err := p.Render(map[string]string{"team": "billing", "q": "{{ team }}"})
	require.NoError(t, err)
	require.Equal(t, "You help billing.", msgs[0].Content)
	// A variable's value is not expanded again, and anything but {{ name }} stays as written.
	require.Equal(t, `Q: {{ team }} {{ .q }} {{ printf "x" }}`, msgs[1].Content)
	require.Equal(t, []string{"q", "team"}, p.Vars())
	_, err = p.Render(map[string]string{"q": "x"})
	require.ErrorContains(t, err, "{{ team }}")
}

func TestSimilarity(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, r      string
		f1, rouge float64
	}{
		{"The cat sat.", "the cat sat", 1, 1},
		// [cat sat on red mat] vs [cat sat on mat]: 4 shared: F1 = 2·(4/5)·1/(4/5+1) = 8/9; LCS 4, same.
		{"a cat sat on a red mat", "the cat sat on the mat", 8.0 / 9, 8.0 / 9},
		// [mat on sat cat] vs [cat sat on mat]: 4 shared tokens, F1 1; LCS 1 (any one token): ROUGE-L 1/4.
		{"mat on sat cat", "cat sat on mat", 1, 0.25},
		// [paris paris] vs [paris]: multiset overlap 1: P 1/2, R 1: F1 2/3; LCS 1, same.
		{"Paris, Paris!", "Paris", 2.0 / 3, 2.0 / 3},
		{"", "", 1, 1},
		{"", "x", 0, 0},
		{"dog", "cat", 0, 0},
	} {
		require.InDelta(t, c.f1, TokenF1(c.a, c.r), 1e-12, "%q %q", c.a, c.r)
		require.InDelta(t, c.rouge, RougeL(c.a, c.r), 1e-12, "%q %q", c.a, c.r)
	}
	require.Equal(t, "cat sat", Normalise("  The CAT, sat!  "))
}

func TestParseJudge(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		text string
		want float64
		ok   bool
	}{
		{`{"score": 0.7}`, 0.7, true},
		{"Sure:\n```json\n{\"score\": 1, \"reason\": \"ok\"}\n```", 1, true},
		{`{"score": 1.5}`, 0, false},
		{`{"score": "high"}`, 0, false},
		{`{"reason": "no score"}`, 0, false},
		{`score 0.9`, 0, false},
		{`{"score": 0.5`, 0, false},
	} {
		got, err := ParseJudge(c.text)
		if c.ok {
			require.NoError(t, err, c.text)
			require.Equal(t, c.want, got)
		} else {
			require.Error(t, err, c.text)
		}
	}
}

func FuzzParseSuite(f *testing.F) {
	f.Add([]byte(oracleSuite))
	f.Add([]byte("tests:\n  - {id: a, assert: [{type: json-schema, value: {type: object}}]}\n"))
	f.Add([]byte("defaultTest: {assert: [{type: regex, value: 'a+'}]}\ntests: [{vars: {q: 1}}]\n"))
	f.Add([]byte("tests: [&a {id: x, assert: [*a]}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSuite("fuzz.yaml", b)
		if err != nil {
			return
		}
		if len(s.Tests) == 0 || s.Judge.Repeats < 2 {
			t.Fatalf("accepted a suite without cases or repeats: %+v", s)
		}
		for _, c := range s.Tests {
			_ = s.Merged(c)
		}
	})
}

func FuzzParsePrompt(f *testing.F) {
	f.Add([]byte(oraclePrompt))
	f.Add([]byte("endpoint: http://h/v1\nmodel: m\ntemplate: '{{ a }}{{b}}'\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePrompt("fuzz.yaml", b)
		if err != nil {
			return
		}
		vars := map[string]string{}
		for _, v := range p.Vars() {
			vars[v] = "x"
		}
		if _, err := p.Render(vars); err != nil {
			t.Fatalf("render with every var: %v", err)
		}
	})
}

func FuzzParseJudge(f *testing.F) {
	f.Add(`{"score": 0.5}`)
	f.Add("```{\"score\":1}```")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseJudge(s)
		if err == nil && (v < 0 || v > 1) {
			t.Fatalf("score %v out of [0, 1]", v)
		}
	})
}
