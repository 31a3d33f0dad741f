package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Pipeline is one modelgate.yaml: what model, what data, how to get the
// candidate, how to check it and how to roll it out.
type Pipeline struct {
	Model       string     `yaml:"model" json:"model"`
	Task        string     `yaml:"task" json:"task"` // binary | multiclass | regression | llm
	Label       string     `yaml:"label" json:"label"`
	Environment string     `yaml:"environment" json:"environment"` // default "production"
	Data        Data       `yaml:"data" json:"data"`
	Train       *Train     `yaml:"train" json:"train,omitempty"`
	Candidate   Candidate  `yaml:"candidate" json:"candidate"`
	Baseline    *Candidate `yaml:"baseline" json:"baseline,omitempty"` // production model to compare with when the registry has none
	Validation  Validation `yaml:"validation" json:"validation"`
	Tests       Tests      `yaml:"tests" json:"tests"`
	Evaluation  Evaluation `yaml:"evaluation" json:"evaluation"`
	Security    Security   `yaml:"security" json:"security"`
	Deploy      Deploy     `yaml:"deploy" json:"deploy"`
	Policy      Policy     `yaml:"policy" json:"policy"`
	Stages      Stages     `yaml:"stages" json:"stages"`
	Assist      *Assist    `yaml:"assist" json:"assist,omitempty"` // run --local only (assist.go)
	LLM         *LLM       `yaml:"llm" json:"llm,omitempty"`       // task: llm (llm.go)
}

// Data names the datasets of a run.
type Data struct {
	Reference string `yaml:"reference" json:"reference"`       // training data: the reference for drift
	Holdout   string `yaml:"holdout" json:"holdout"`           // labelled data the candidate never saw
	Current   string `yaml:"current" json:"current,omitempty"` // fresh serving data; drift uses it instead of the holdout when set
	Delimiter string `yaml:"delimiter" json:"delimiter,omitempty"`
}

// Train runs the user's training command. Its argv is templated with
// {{.ArtifactDir}}, {{.RunID}}, {{.Reference}} and {{.Holdout}}.
type Train struct {
	Command  []string          `yaml:"command" json:"command"`
	Timeout  Duration          `yaml:"timeout" json:"timeout"`
	Env      map[string]string `yaml:"env" json:"env,omitempty"`
	Artifact string            `yaml:"artifact" json:"artifact,omitempty"` // file the command writes, relative to ArtifactDir; default candidate.artifact's base name or model.json
	// Files are what the command needs besides the data (scripts, a
	// requirements file, a source folder), relative to the config: the
	// CLI uploads them with the run and the sandbox sees only them.
	Files []string `yaml:"files" json:"files,omitempty"`
	// Network lets the command reach the network from its sandbox; the
	// policy must also give the requester the train_network right.
	Network bool `yaml:"network" json:"network,omitempty"`
}

// Candidate says where the candidate model is: a file or a V2 endpoint.
type Candidate struct {
	Artifact string `yaml:"artifact" json:"artifact,omitempty"`
	Endpoint string `yaml:"endpoint" json:"endpoint,omitempty"`
	Name     string `yaml:"name" json:"name,omitempty"` // model name at the endpoint; default the pipeline's model
	Version  string `yaml:"version" json:"version,omitempty"`
	// Missing is the feature value an XGBoost artifact treats as absent
	// (besides NaN), for models trained with xgb.train on a
	// DMatrix(missing=...), which record nothing; it overrides a value the
	// sklearn wrapper recorded. Unset: the recorded value, else NaN only.
	Missing *float64 `yaml:"missing" json:"missing,omitempty"`
}

// Policy points at a Rego bundle for `run --local`; a server always uses
// its own bundle, so that a pipeline cannot choose the policy judging it.
type Policy struct {
	Bundle string `yaml:"bundle" json:"bundle,omitempty"`
}

// Stages tunes how the coordinator runs agents.
type Stages struct {
	Timeout Duration `yaml:"timeout" json:"timeout"`     // per agent attempt; default 10m
	Retries int      `yaml:"retries" json:"retries"`     // extra attempts for retriable errors; default 2
	Backoff Duration `yaml:"backoff" json:"backoff"`     // first retry delay, doubled each time; default 1s
	Skip    []string `yaml:"skip" json:"skip,omitempty"` // stages to leave out: test, scan, evaluate, deploy
}

// Tasks the pipeline knows.
var Tasks = []string{"binary", "multiclass", "regression", "llm"}

// Load reads, strictly decodes, defaults and validates a pipeline file.
// Relative paths stay relative; use Resolve with the file's folder.
func Load(path string) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load on bytes; file names the source in errors.
func Parse(file string, data []byte) (*Pipeline, error) {
	var p Pipeline
	pos, err := DecodeStrict(file, data, &p)
	var se *Error
	if err != nil && (!errors.As(err, &se) || !se.UnknownKeysOnly()) {
		return nil, err
	}
	if _, ok := pos["deploy"]; !ok {
		p.Deploy.Absent = true
	}
	p.SetDefaults()
	v := &validator{pos: pos}
	if se != nil {
		v.probs = se.Problems // unknown keys, listed with the rest
	}
	p.validate(v)
	if len(v.probs) > 0 {
		slices.SortStableFunc(v.probs, func(a, b Problem) int {
			return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
		})
		return nil, &Error{File: file, Problems: v.probs}
	}
	return &p, nil
}

// SetDefaults fills every unset field that has a default.
func (p *Pipeline) SetDefaults() {
	if p.Environment == "" {
		p.Environment = "production"
	}
	if p.Label == "" && p.Task != "llm" {
		p.Label = "target"
	}
	if p.Candidate.Name == "" {
		p.Candidate.Name = p.Model
	}
	if p.Train != nil && p.Train.Timeout.Duration == 0 {
		p.Train.Timeout.Duration = 30 * time.Minute
	}
	if p.Stages.Timeout.Duration == 0 {
		p.Stages.Timeout.Duration = 10 * time.Minute
	}
	if p.Stages.Retries == 0 {
		p.Stages.Retries = 2
	}
	if p.Stages.Backoff.Duration == 0 {
		p.Stages.Backoff.Duration = time.Second
	}
	p.Validation.setDefaults()
	p.Tests.setDefaults()
	p.Evaluation.setDefaults()
	p.Security.setDefaults()
	p.Deploy.setDefaults()
}

func (p *Pipeline) validate(v *validator) {
	if p.Model == "" {
		v.add("model", "is required")
	} else if !validName(p.Model) {
		v.add("model", "must be letters, digits, '-', '_' or '.' (it is used in URLs and file names)")
	}
	if !slices.Contains(Tasks, p.Task) {
		v.add("task", fmt.Sprintf("must be one of %v, got %q", Tasks, p.Task))
	}
	if p.Candidate.Artifact == "" && p.Candidate.Endpoint == "" && p.Train == nil {
		v.add("candidate", "give candidate.artifact, candidate.endpoint, or a train section that produces the artifact")
	}
	if p.Candidate.Artifact != "" && p.Candidate.Endpoint != "" {
		v.add("candidate", "give candidate.artifact or candidate.endpoint, not both")
	}
	if p.Train != nil {
		if len(p.Train.Command) == 0 {
			v.add("train.command", "is required when train is given (an argv list, run without a shell)")
		}
		if p.Train.Timeout.Duration < 0 {
			v.add("train.timeout", "must be positive")
		}
		if p.Train.Artifact != "" && !filepath.IsLocal(p.Train.Artifact) {
			v.add("train.artifact", "must be a relative path inside {{.ArtifactDir}} (no '..', not absolute)")
		}
	}
	if p.Data.Delimiter != "" && len([]rune(p.Data.Delimiter)) != 1 {
		v.add("data.delimiter", "must be a single character")
	}
	if p.Stages.Retries < 0 || p.Stages.Retries > 10 {
		v.add("stages.retries", "must be between 0 and 10")
	}
	for i, s := range p.Stages.Skip {
		if !slices.Contains([]string{"validate", "test", "scan", "evaluate", "deploy"}, s) {
			v.add(fmt.Sprintf("stages.skip[%d]", i), fmt.Sprintf("unknown stage %q (validate, test, scan, evaluate, deploy)", s))
		}
	}
	p.Validation.validate(v)
	p.Tests.validate(v)
	p.Evaluation.validate(v, p.Task)
	p.Security.validate(v)
	p.Deploy.validate(v)
	p.Assist.validate(v)
	p.validateLLM(v)
}

// Skips reports whether a stage is switched off.
// A config without a deploy section skips deploy: it is promoted in the
// registry only.
func (p *Pipeline) Skips(stage string) bool {
	return slices.Contains(p.Stages.Skip, stage) || (stage == "deploy" && p.Deploy.Absent)
}

// FileRef is one file a config refers to, by the field that names it.
type FileRef struct {
	Field string // e.g. "data.holdout"
	Path  string // as written in the config
}

// Files lists every file the config refers to, in a fixed order. It is
// the one list that checking, uploading and the server's path rules use,
// so a new path field cannot be checked in one place and missed in another.
// A trained candidate's artifact is not listed: training writes it.
func (p *Pipeline) Files() []FileRef {
	var out []FileRef
	add := func(field, path string) {
		if path != "" {
			out = append(out, FileRef{field, path})
		}
	}
	add("data.reference", p.Data.Reference)
	add("data.holdout", p.Data.Holdout)
	add("data.current", p.Data.Current)
	if p.Train == nil {
		add("candidate.artifact", p.Candidate.Artifact)
	} else {
		for i, f := range p.Train.Files {
			add(fmt.Sprintf("train.files[%d]", i), f)
		}
	}
	if p.Baseline != nil {
		add("baseline.artifact", p.Baseline.Artifact)
	}
	add("validation.schema", p.Validation.Schema)
	add("security.public_key", p.Security.PublicKey)
	add("security.signature", p.Security.Signature)
	if p.Deploy.Target.Local != nil {
		add("deploy.target.local.model", p.Deploy.Target.Local.Model)
	}
	add("policy.bundle", p.Policy.Bundle)
	p.llmFiles(add)
	return out
}

// CheckFiles reports every referenced local file that does not exist,
// resolving relative paths against base. It is separate from Parse
// because a server validates a submitted config before the files are
// guaranteed to be readable from where the client runs.
func (p *Pipeline) CheckFiles(base string) error {
	var errs []error
	for _, f := range p.Files() {
		if f.Field == "security.signature" {
			continue // optional: its absence is the security agent's finding, not a config error
		}
		if _, err := os.Stat(Resolve(base, f.Path)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Field, err))
		}
	}
	return errors.Join(errs...)
}

// CheckRelative refuses every path that could leave the folder it is
// resolved in: absolute paths, ".." components and NUL bytes. A server
// applies it to configs a caller submits, so that no field can name a
// file the caller chose on the server's disk.
func (p *Pipeline) CheckRelative() error {
	var errs []error
	for _, f := range p.Files() {
		if f.Field == "policy.bundle" {
			continue // ignored by a server, which always uses its own bundle
		}
		if err := relativeOnly(f.Path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q %w", f.Field, f.Path, err))
		}
	}
	return errors.Join(errs...)
}

func relativeOnly(p string) error {
	switch {
	case strings.ContainsRune(p, 0):
		return errors.New("contains a NUL byte")
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`):
		return errors.New("is absolute: a server reads only files inside the run's inputs")
	}
	for _, part := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return errors.New("leaves its folder (..): a server reads only files inside the run's inputs")
		}
	}
	return nil
}

// Resolve joins a relative path to base; absolute and empty paths pass through.
func Resolve(base, p string) string {
	if p == "" || filepath.IsAbs(p) || base == "" {
		return p
	}
	return filepath.Join(base, p)
}

func validName(s string) bool {
	if len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// validator collects problems, placing each at its field's line when the
// field was present in the file.
type validator struct {
	pos   map[string]Position
	probs []Problem
}

func (v *validator) add(field, msg string) {
	p := v.pos[field]
	if p.Line == 0 {
		// fall back to the nearest enclosing field that was in the file
		for f := field; f != ""; {
			i := lastSep(f)
			if i < 0 {
				break
			}
			f = f[:i]
			if q, ok := v.pos[f]; ok {
				p = q
				break
			}
		}
	}
	v.probs = append(v.probs, Problem{Field: field, Pos: p, Message: msg})
}

func lastSep(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' || s[i] == '[' {
			return i
		}
	}
	return -1
}
