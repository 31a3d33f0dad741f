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
func inputValue(in Input) ast.Value {
	obj := ast.NewObject(
		kv("run", runValue(in.Run)),
		kv("model", ast.StringTerm(in.Model)),
		kv("environment", ast.StringTerm(in.Environment)),
		kv("task", ast.StringTerm(in.Task)),
		kv("candidate", candidateValue(in.Candidate)),
		kv("reports", reportsValue(in.Reports)),
		kv("deploy", ast.ObjectTerm(
			kv("strategy", ast.StringTerm(in.Deploy.Strategy)),
			kv("max_traffic_share", ast.FloatNumberTerm(in.Deploy.MaxTrafficShare)),
			kv("shadow", ast.BooleanTerm(in.Deploy.Shadow)),
		)),
		kv("requester", principalValue(in.Requester)),
	)
	if in.Production == nil {
		obj.Insert(ast.StringTerm("production"), ast.NullTerm())
	} else {
		p := in.Production
		o := ast.NewObject(kv("version", ast.StringTerm(p.Version)))
		optString(o, "artifact_path", p.ArtifactPath)
		optString(o, "digest", p.Digest)
		optString(o, "endpoint", p.Endpoint)
		obj.Insert(ast.StringTerm("production"), ast.NewTerm(o))
	}
	return obj
}

func kv(k string, v *ast.Term) [2]*ast.Term { return [2]*ast.Term{ast.StringTerm(k), v} }

func optString(o ast.Object, k, v string) {
	if v != "" {
		o.Insert(ast.StringTerm(k), ast.StringTerm(v))
	}
}

func stringsTerm(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(ts...)
}

func runValue(r RunInfo) *ast.Term {
	o := ast.NewObject(kv("id", ast.StringTerm(r.ID)), kv("trigger", ast.StringTerm(r.Trigger)))
	optString(o, "commit_author", r.CommitAuthor)
	if len(r.Labels) > 0 {
		labels := ast.NewObject()
		for k, v := range r.Labels {
			labels.Insert(ast.StringTerm(k), ast.StringTerm(v))
		}
		o.Insert(ast.StringTerm("labels"), ast.NewTerm(labels))
	}
	return ast.NewTerm(o)
}

func candidateValue(c agents.Candidate) *ast.Term {
	o := ast.NewObject()
	optString(o, "version", c.Version)
	optString(o, "artifact_path", c.ArtifactPath)
	optString(o, "digest", c.Digest)
	optString(o, "endpoint", c.Endpoint)
	return ast.NewTerm(o)
}

func principalValue(p Principal) *ast.Term {
	o := ast.NewObject(kv("subject", ast.StringTerm(p.Subject)))
	if len(p.Roles) > 0 {
		o.Insert(ast.StringTerm("roles"), stringsTerm(p.Roles))
	}
	if len(p.Groups) > 0 {
		o.Insert(ast.StringTerm("groups"), stringsTerm(p.Groups))
	}
	return ast.NewTerm(o)
}

func reportsValue(rs map[string]agents.Report) *ast.Term {
	if rs == nil {
		return ast.NullTerm()
	}
	o := ast.NewObject()
	for stage, r := range rs {
		o.Insert(ast.StringTerm(stage), reportValue(r))
	}
	return ast.NewTerm(o)
}

func reportValue(r agents.Report) *ast.Term {
	o := ast.NewObject(
		kv("agent", ast.StringTerm(r.Agent)),
		kv("verdict", ast.StringTerm(string(r.Verdict))),
		kv("summary", ast.StringTerm(r.Summary)),
	)
	optString(o, "stage", r.Stage)
	if r.Metrics == nil {
		o.Insert(ast.StringTerm("metrics"), ast.NullTerm())
	} else {
		keys := make([]string, 0, len(r.Metrics))
		for k := range r.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := ast.NewObject()
		for _, k := range keys {
			m.Insert(ast.StringTerm(k), ast.FloatNumberTerm(r.Metrics[k]))
		}
		o.Insert(ast.StringTerm("metrics"), ast.NewTerm(m))
	}
	if r.Findings == nil {
		o.Insert(ast.StringTerm("findings"), ast.NullTerm())
	} else {
		fs := make([]*ast.Term, len(r.Findings))
		for i, f := range r.Findings {
			fs[i] = findingValue(f)
		}
		o.Insert(ast.StringTerm("findings"), ast.ArrayTerm(fs...))
	}
	// Artifacts and details are not policy material; they stay out of the
	// input the policy sees but are covered by the input digest.
	return ast.NewTerm(o)
}

func findingValue(f agents.Finding) *ast.Term {
	o := ast.NewObject(
		kv("id", ast.StringTerm(f.ID)),
		kv("severity", ast.StringTerm(string(f.Severity))),
		kv("code", ast.StringTerm(f.Code)),
		kv("message", ast.StringTerm(f.Message)),
	)
	optString(o, "subject", f.Subject)
	if len(f.Evidence) > 0 {
		if v, err := ast.InterfaceToValue(f.Evidence); err == nil {
			o.Insert(ast.StringTerm("evidence"), ast.NewTerm(v))
		}
	}
	return ast.NewTerm(o)
}
