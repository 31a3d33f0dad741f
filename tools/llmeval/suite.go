package llmeval

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/modelgate/modelgate/tools/strictyaml"
)

// Suite is an eval suite: the cases, what every case asserts, and the
// judge of llm-rubric assertions. Key names follow promptfoo's (tests,
// vars, assert, defaultTest, type, value, threshold) so that a promptfoo
// user can read one at sight.
type Suite struct {
	Description string `yaml:"description" json:"description,omitempty"`
	Judge       Judge  `yaml:"judge" json:"judge"`
	// DefaultTest's vars, tags and assertions apply to every case (a case's
	// own vars win).
	DefaultTest Case   `yaml:"defaultTest" json:"defaultTest"`
	Tests       []Case `yaml:"tests" json:"tests"`
}

// Judge configures llm-rubric assertions.
type Judge struct {
	Endpoint string `yaml:"endpoint" json:"endpoint,omitempty"` // default: the prompt's endpoint
	Model    string `yaml:"model" json:"model,omitempty"`       // default: the prompt's model
	// Repeats is k, how often the judge is asked per assertion (default 3,
	// at least 2: one answer cannot show the judge's noise).
	Repeats int `yaml:"repeats" json:"repeats"`
	// Threshold is the score at or above which a judge's answer is a pass
	// (default 0.5).
	Threshold *float64 `yaml:"threshold" json:"threshold,omitempty"`
}

// Case is one test: variables for the template, tags for slicing the
// results, an optional reference answer and the assertions.
type Case struct {
	ID          string            `yaml:"id" json:"id"`
	Description string            `yaml:"description" json:"description,omitempty"`
	Vars        map[string]string `yaml:"vars" json:"vars,omitempty"`
	Tags        []string          `yaml:"tags" json:"tags,omitempty"`
	Reference   string            `yaml:"reference" json:"reference,omitempty"`
	Assert      []Assertion       `yaml:"assert" json:"assert,omitempty"`
	// Paraphrases are alternative vars meaning the same request, for the
	// testing agent's invariance checks (not run by the eval itself).
	Paraphrases []map[string]string `yaml:"paraphrases" json:"paraphrases,omitempty"`
}

// Assertion is one check of a case's output.
type Assertion struct {
	Type string `yaml:"type" json:"type"`
	// Value is the expected text (equals, contains, icontains, regex), the
	// rubric (llm-rubric), the reference (similar; default the case's
	// reference) or the JSON Schema (json-schema, is-json).
	Value     any      `yaml:"value" json:"value,omitempty"`
	Threshold *float64 `yaml:"threshold" json:"threshold,omitempty"`
	Metric    string   `yaml:"metric" json:"metric,omitempty"` // similar: token_f1 (default) | rouge_l

	re     *regexp.Regexp
	schema *jsonschema.Schema
}

// AssertionTypes are the assertion types a suite may use; equals,
// contains, icontains and regex may also be negated with a "not-" prefix.
var AssertionTypes = []string{"equals", "contains", "icontains", "regex", "is-json", "json-schema",
	"latency", "cost", "similar", "llm-rubric"}

var negatable = []string{"equals", "contains", "icontains", "regex"}

// DefaultRepeats and DefaultJudgeThreshold apply when a suite's judge
// section leaves them out.
const (
	DefaultRepeats        = 3
	DefaultJudgeThreshold = 0.5
	DefaultSimilarity     = 0.5
	maxRepeats            = 20
	maxCases              = 10000
)

// ParseSuite strictly decodes a suite; every problem names the file, the
// field (tests[2].assert[0].value) and the case's id.
func ParseSuite(file string, data []byte) (*Suite, error) {
	var s Suite
	pos, err := strictyaml.Decode(file, data, &s)
	if err != nil {
		return nil, err
	}
	var probs []strictyaml.Problem
	add := func(field, msg string) {
		p := pos[field]
		probs = append(probs, strictyaml.Problem{Field: field, Pos: p, Message: msg})
	}
	if s.Judge.Repeats == 0 {
		s.Judge.Repeats = DefaultRepeats
	}
	if s.Judge.Repeats < 2 || s.Judge.Repeats > maxRepeats {
		add("judge.repeats", fmt.Sprintf("must be between 2 and %d: one answer cannot show the judge's noise", maxRepeats))
	}
	if s.Judge.Threshold == nil {
		t := DefaultJudgeThreshold
		s.Judge.Threshold = &t
	} else if *s.Judge.Threshold < 0 || *s.Judge.Threshold > 1 {
		add("judge.threshold", "must be between 0 and 1")
	}
	if len(s.Tests) == 0 {
		add("tests", "the suite has no cases")
	}
	if len(s.Tests) > maxCases {
		add("tests", fmt.Sprintf("at most %d cases", maxCases))
	}
	if s.DefaultTest.ID != "" || s.DefaultTest.Reference != "" || len(s.DefaultTest.Paraphrases) > 0 {
		add("defaultTest", "may hold only vars, tags and assert")
	}
	for i := range s.DefaultTest.Assert {
		checkAssertion(&s.DefaultTest.Assert[i], fmt.Sprintf("defaultTest.assert[%d]", i), "defaultTest", add)
	}
	seen := map[string]int{}
	for i := range s.Tests {
		c := &s.Tests[i]
		field := fmt.Sprintf("tests[%d]", i)
		if c.ID == "" {
			c.ID = fmt.Sprintf("case-%d", i+1)
		}
		if j, dup := seen[c.ID]; dup {
			add(field+".id", fmt.Sprintf("case %q: the id is also tests[%d]'s; ids pair a candidate's results with production's", c.ID, j))
		}
		seen[c.ID] = i
		for k, t := range c.Tags {
			if strings.TrimSpace(t) == "" {
				add(fmt.Sprintf("%s.tags[%d]", field, k), fmt.Sprintf("case %q: empty tag", c.ID))
			}
		}
		if len(c.Assert)+len(s.DefaultTest.Assert) == 0 {
			add(field+".assert", fmt.Sprintf("case %q asserts nothing", c.ID))
		}
		for j := range c.Assert {
			checkAssertion(&c.Assert[j], fmt.Sprintf("%s.assert[%d]", field, j), fmt.Sprintf("case %q", c.ID), add)
			if base(c.Assert[j].Type) == "similar" && c.Assert[j].Value == nil && c.Reference == "" {
				add(fmt.Sprintf("%s.assert[%d].value", field, j), fmt.Sprintf("case %q: similar needs a value or the case's reference", c.ID))
			}
		}
	}
	if len(probs) > 0 {
		return nil, &strictyaml.Error{File: file, Problems: probs}
	}
	return &s, nil
}

func base(t string) string { return strings.TrimPrefix(t, "not-") }

func checkAssertion(a *Assertion, field, who string, add func(field, msg string)) {
	t := base(a.Type)
	if !slices.Contains(AssertionTypes, t) || (t != a.Type && !slices.Contains(negatable, t)) {
		add(field+".type", fmt.Sprintf("%s: unknown assertion type %q (known: %s; not- before %s)", who, a.Type,
			strings.Join(AssertionTypes, ", "), strings.Join(negatable, ", ")))
		return
	}
	str, isStr := a.Value.(string)
	needText := func() {
		if !isStr || (str == "" && t != "equals") {
			add(field+".value", fmt.Sprintf("%s: %s needs a text value", who, a.Type))
		}
	}
	needThreshold := func(what string) {
		if a.Threshold == nil || *a.Threshold < 0 {
			add(field+".threshold", fmt.Sprintf("%s: %s needs a threshold >= 0 (%s)", who, a.Type, what))
		}
	}
	switch t {
	case "equals", "contains", "icontains", "llm-rubric":
		needText()
	case "regex":
		needText()
		if isStr {
			re, err := regexp.Compile(str)
			if err != nil {
				add(field+".value", fmt.Sprintf("%s: bad regex: %v", who, err))
			}
			a.re = re
		}
	case "latency":
		needThreshold("milliseconds")
	case "cost":
		needThreshold("US dollars per case")
	case "similar":
		if a.Value != nil && !isStr {
			add(field+".value", fmt.Sprintf("%s: similar's value is the reference text", who))
		}
		if a.Threshold == nil {
			v := DefaultSimilarity
			a.Threshold = &v
		} else if *a.Threshold < 0 || *a.Threshold > 1 {
			add(field+".threshold", fmt.Sprintf("%s: similarity threshold must be between 0 and 1", who))
		}
		if a.Metric == "" {
			a.Metric = "token_f1"
		} else if a.Metric != "token_f1" && a.Metric != "rouge_l" {
			add(field+".metric", fmt.Sprintf("%s: metric must be token_f1 or rouge_l", who))
		}
	case "json-schema", "is-json":
		if a.Value == nil {
			if t == "json-schema" {
				add(field+".value", fmt.Sprintf("%s: json-schema needs the schema as its value", who))
			}
			break
		}
		sch, err := compileSchema(a.Value)
		if err != nil {
			add(field+".value", fmt.Sprintf("%s: not a usable JSON Schema: %v", who, err))
		}
		a.schema = sch
	}
	if a.Metric != "" && t != "similar" {
		add(field+".metric", fmt.Sprintf("%s: metric applies to similar only", who))
	}
}

// compileSchema compiles a schema written in YAML. It loads nothing from
// outside the suite: a $ref to a URL is an error, not a fetch.
func compileSchema(v any) (*jsonschema.Schema, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	if err := c.AddResource("suite:///schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("suite:///schema.json")
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schemas load nothing from outside the suite (%s)", url)
}

// Merged returns the case with the suite's defaultTest applied: default
// vars under the case's, default tags and assertions before the case's.
func (s *Suite) Merged(c Case) Case {
	out := c
	out.Vars = map[string]string{}
	for k, v := range s.DefaultTest.Vars {
		out.Vars[k] = v
	}
	for k, v := range c.Vars {
		out.Vars[k] = v
	}
	out.Tags = append(slices.Clone(s.DefaultTest.Tags), c.Tags...)
	out.Assert = append(slices.Clone(s.DefaultTest.Assert), c.Assert...)
	return out
}
