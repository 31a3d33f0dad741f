package oversight

import (
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/modelgate/modelgate/agents"
)

// inputValue builds the policy input as an OPA value directly from the Go
// structs. It mirrors the JSON encoding of Input field for field (same
// names, same omitempty rules) but skips the encode/decode round trip,
// which was most of the cost of a decision.
//
// Building it is dominated by allocation (a realistic input has some 400
// terms), so object keys and the few enumerated values (severities,
// verdicts) are shared terms allocated once, each object is created with
// all its pairs at once, and the terms of strings and numbers come from one
// slab per input. OPA never modifies the terms of an input, and interns
// common terms itself the same way.
func inputValue(in Input) ast.Value {
	b := termBuilder{}
	kvs := make([][2]*ast.Term, 0, 10)
	kvs = append(kvs,
		[2]*ast.Term{keyRun, b.run(in.Run)},
		[2]*ast.Term{keyModel, b.str(in.Model)},
		[2]*ast.Term{keyEnvironment, b.str(in.Environment)},
		[2]*ast.Term{keyTask, b.str(in.Task)},
		[2]*ast.Term{keyCandidate, b.candidate(in.Candidate)},
		[2]*ast.Term{keyReports, b.reports(in.Reports)},
		[2]*ast.Term{keyDeploy, ast.NewTerm(ast.NewObject(
			[2]*ast.Term{keyStrategy, b.str(in.Deploy.Strategy)},
			[2]*ast.Term{keyMaxTrafficShare, b.num(in.Deploy.MaxTrafficShare)},
			[2]*ast.Term{keyShadow, ast.InternedTerm(in.Deploy.Shadow)},
		))},
		[2]*ast.Term{keyRequester, b.principal(in.Requester)},
	)
	if in.Production == nil {
		kvs = append(kvs, [2]*ast.Term{keyProduction, ast.NullTerm()})
	} else {
		p := in.Production
		pk := make([][2]*ast.Term, 0, 4)
		pk = append(pk, [2]*ast.Term{keyVersion, b.str(p.Version)})
		pk = b.optString(pk, keyArtifactPath, p.ArtifactPath)
		pk = b.optString(pk, keyDigest, p.Digest)
		pk = b.optString(pk, keyEndpoint, p.Endpoint)
		kvs = append(kvs, [2]*ast.Term{keyProduction, ast.NewTerm(ast.NewObject(pk...))})
	}
	return ast.NewObject(kvs...)
}

// Keys of the input document, allocated once.
var (
	keyRun             = ast.StringTerm("run")
	keyModel           = ast.StringTerm("model")
	keyEnvironment     = ast.StringTerm("environment")
	keyTask            = ast.StringTerm("task")
	keyCandidate       = ast.StringTerm("candidate")
	keyReports         = ast.StringTerm("reports")
	keyDeploy          = ast.StringTerm("deploy")
	keyStrategy        = ast.StringTerm("strategy")
	keyMaxTrafficShare = ast.StringTerm("max_traffic_share")
	keyShadow          = ast.StringTerm("shadow")
	keyRequester       = ast.StringTerm("requester")
	keyProduction      = ast.StringTerm("production")
	keyVersion         = ast.StringTerm("version")
	keyArtifactPath    = ast.StringTerm("artifact_path")
	keyDigest          = ast.StringTerm("digest")
	keyEndpoint        = ast.StringTerm("endpoint")
	keyID              = ast.StringTerm("id")
	keyTrigger         = ast.StringTerm("trigger")
	keyCommitAuthor    = ast.StringTerm("commit_author")
	keyLabels          = ast.StringTerm("labels")
	keySubject         = ast.StringTerm("subject")
	keyRoles           = ast.StringTerm("roles")
	keyGroups          = ast.StringTerm("groups")
	keyAgent           = ast.StringTerm("agent")
	keyStage           = ast.StringTerm("stage")
	keyVerdict         = ast.StringTerm("verdict")
	keyMetrics         = ast.StringTerm("metrics")
	keyFindings        = ast.StringTerm("findings")
	keySummary         = ast.StringTerm("summary")
	keySeverity        = ast.StringTerm("severity")
	keyCode            = ast.StringTerm("code")
	keyMessage         = ast.StringTerm("message")
	keyEvidence        = ast.StringTerm("evidence")
)

// Values that recur in every input: severities and verdicts.
var sharedValues = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, s := range []string{
		string(agents.Info), string(agents.Low), string(agents.Medium), string(agents.High), string(agents.Critical),
		string(agents.Pass), string(agents.Warn), string(agents.Fail),
	} {
		m[s] = ast.StringTerm(s)
	}
	return m
}()

// termBuilder hands out terms from slabs, so that an input of a few hundred
// terms costs a handful of allocations for the terms themselves.
type termBuilder struct {
	slab []ast.Term
}

func (b *termBuilder) term(v ast.Value) *ast.Term {
	if len(b.slab) == 0 {
		b.slab = make([]ast.Term, 128)
	}
	t := &b.slab[0]
	b.slab = b.slab[1:]
	t.Value = v
	return t
}

func (b *termBuilder) str(s string) *ast.Term { return b.term(ast.String(s)) }

func (b *termBuilder) num(f float64) *ast.Term { return b.term(ast.FloatNumberTerm(f).Value) }

// enum returns the shared term of a recurring value, or a new one.
func (b *termBuilder) enum(s string) *ast.Term {
	if t, ok := sharedValues[s]; ok {
		return t
	}
	return b.str(s)
}

func (b *termBuilder) optString(kvs [][2]*ast.Term, k *ast.Term, v string) [][2]*ast.Term {
	if v != "" {
		kvs = append(kvs, [2]*ast.Term{k, b.str(v)})
	}
	return kvs
}

func (b *termBuilder) strings(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = b.str(s)
	}
	return ast.ArrayTerm(ts...)
}

func (b *termBuilder) run(r RunInfo) *ast.Term {
	kvs := make([][2]*ast.Term, 0, 4)
	kvs = append(kvs, [2]*ast.Term{keyID, b.str(r.ID)}, [2]*ast.Term{keyTrigger, b.str(r.Trigger)})
	kvs = b.optString(kvs, keyCommitAuthor, r.CommitAuthor)
	if len(r.Labels) > 0 {
		labels := make([][2]*ast.Term, 0, len(r.Labels))
		for k, v := range r.Labels {
			labels = append(labels, [2]*ast.Term{b.str(k), b.str(v)})
		}
		kvs = append(kvs, [2]*ast.Term{keyLabels, ast.NewTerm(ast.NewObject(labels...))})
	}
	return ast.NewTerm(ast.NewObject(kvs...))
}

func (b *termBuilder) candidate(c agents.Candidate) *ast.Term {
	kvs := make([][2]*ast.Term, 0, 4)
	kvs = b.optString(kvs, keyVersion, c.Version)
	kvs = b.optString(kvs, keyArtifactPath, c.ArtifactPath)
	kvs = b.optString(kvs, keyDigest, c.Digest)
	kvs = b.optString(kvs, keyEndpoint, c.Endpoint)
	return ast.NewTerm(ast.NewObject(kvs...))
}

func (b *termBuilder) principal(p Principal) *ast.Term {
	kvs := make([][2]*ast.Term, 0, 3)
	kvs = append(kvs, [2]*ast.Term{keySubject, b.str(p.Subject)})
	if len(p.Roles) > 0 {
		kvs = append(kvs, [2]*ast.Term{keyRoles, b.strings(p.Roles)})
	}
	if len(p.Groups) > 0 {
		kvs = append(kvs, [2]*ast.Term{keyGroups, b.strings(p.Groups)})
	}
	return ast.NewTerm(ast.NewObject(kvs...))
}

func (b *termBuilder) reports(rs map[string]agents.Report) *ast.Term {
	if rs == nil {
		return ast.NullTerm()
	}
	kvs := make([][2]*ast.Term, 0, len(rs))
	for stage, r := range rs {
		kvs = append(kvs, [2]*ast.Term{b.str(stage), b.report(r)})
	}
	return ast.NewTerm(ast.NewObject(kvs...))
}

func (b *termBuilder) report(r agents.Report) *ast.Term {
	kvs := make([][2]*ast.Term, 0, 6)
	kvs = append(kvs,
		[2]*ast.Term{keyAgent, b.str(r.Agent)},
		[2]*ast.Term{keyVerdict, b.enum(string(r.Verdict))},
		[2]*ast.Term{keySummary, b.str(r.Summary)},
	)
	kvs = b.optString(kvs, keyStage, r.Stage)
	if r.Metrics == nil {
		kvs = append(kvs, [2]*ast.Term{keyMetrics, ast.NullTerm()})
	} else {
		// Sorted so that the object is built in the order OPA keeps it.
		keys := make([]string, 0, len(r.Metrics))
		for k := range r.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := make([][2]*ast.Term, len(keys))
		for i, k := range keys {
			m[i] = [2]*ast.Term{b.str(k), b.num(r.Metrics[k])}
		}
		kvs = append(kvs, [2]*ast.Term{keyMetrics, ast.NewTerm(ast.NewObject(m...))})
	}
	if r.Findings == nil {
		kvs = append(kvs, [2]*ast.Term{keyFindings, ast.NullTerm()})
	} else {
		fs := make([]*ast.Term, len(r.Findings))
		for i, f := range r.Findings {
			fs[i] = b.finding(f)
		}
		kvs = append(kvs, [2]*ast.Term{keyFindings, ast.ArrayTerm(fs...)})
	}
	// Artifacts and details are not policy material; they stay out of the
	// input the policy sees but are covered by the input digest.
	return ast.NewTerm(ast.NewObject(kvs...))
}

func (b *termBuilder) finding(f agents.Finding) *ast.Term {
	kvs := make([][2]*ast.Term, 0, 6)
	kvs = append(kvs,
		[2]*ast.Term{keyID, b.str(f.ID)},
		[2]*ast.Term{keySeverity, b.enum(string(f.Severity))},
		[2]*ast.Term{keyCode, b.str(f.Code)},
		[2]*ast.Term{keyMessage, b.str(f.Message)},
	)
	kvs = b.optString(kvs, keySubject, f.Subject)
	if len(f.Evidence) > 0 {
		if v, err := ast.InterfaceToValue(f.Evidence); err == nil {
			kvs = append(kvs, [2]*ast.Term{keyEvidence, ast.NewTerm(v)})
		}
	}
	return ast.NewTerm(ast.NewObject(kvs...))
}
