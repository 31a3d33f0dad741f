package oversight

import (
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/modelgate/modelgate/internal/pipeline"
)

// inputValue builds the policy input: the JSON shape of Input (same names,
// same omitempty rules; reports without their artifacts and details) plus
// input.facts.
//
// It is an OPA lazy object (ast.LazyObject): a member is converted to
// OPA's terms only when the policy reads it, and a member that holds a Go
// struct (a report's findings and metrics) goes through OPA's JSON
// conversion then. The default policy reads the facts and a few scalar
// fields, so a decision no longer pays for turning 50 findings and 30
// metrics into some 800 terms it never looks at; a policy that reads them
// pays for what it reads. Converting the whole input up front was ~65 µs
// of a decision whose budget is 100 µs.
//
// Every value here must be encodable as JSON, because OPA converts Go
// values through JSON and panics if that fails; Decide encodes the whole
// input (for its digest) before building this, and denies an input that
// cannot be encoded.
func inputValue(in Input) ast.Value {
	top := make(map[string]any, 10)
	top["run"] = runMap(in.Run)
	top["model"] = in.Model
	top["environment"] = in.Environment
	top["task"] = in.Task
	top["candidate"] = candidateMap(in.Candidate)
	if p := in.Production; p == nil {
		top["production"] = nil
	} else {
		m := make(map[string]any, 4)
		m["version"] = p.Version
		optString(m, "artifact_path", p.ArtifactPath)
		optString(m, "digest", p.Digest)
		optString(m, "endpoint", p.Endpoint)
		top["production"] = m
	}
	if in.Reports == nil {
		top["reports"] = nil
	} else {
		rs := make(map[string]any, len(in.Reports))
		for stage, r := range in.Reports {
			rs[stage] = reportMap(r)
		}
		top["reports"] = rs
	}
	top["deploy"] = map[string]any{
		"strategy":          in.Deploy.Strategy,
		"max_traffic_share": in.Deploy.MaxTrafficShare,
		"shadow":            in.Deploy.Shadow,
		"upstream":          in.Deploy.Upstream,
		"unverified":        in.Deploy.Unverified,
	}
	if in.Deploy.RegistryOnly {
		top["deploy"].(map[string]any)["registry_only"] = true
	}
	req := make(map[string]any, 3)
	req["subject"] = in.Requester.Subject
	if len(in.Requester.Roles) > 0 {
		req["roles"] = in.Requester.Roles
	}
	if len(in.Requester.Groups) > 0 {
		req["groups"] = in.Requester.Groups
	}
	top["requester"] = req
	top["facts"] = factsValue(in)
	return ast.LazyObject(top)
}

func optString(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func runMap(r RunInfo) map[string]any {
	m := make(map[string]any, 4)
	m["id"] = r.ID
	m["trigger"] = r.Trigger
	optString(m, "commit_author", r.CommitAuthor)
	if len(r.Labels) > 0 {
		m["labels"] = r.Labels
	}
	return m
}

func candidateMap(c pipeline.Candidate) map[string]any {
	m := make(map[string]any, 4)
	optString(m, "version", c.Version)
	optString(m, "artifact_path", c.ArtifactPath)
	optString(m, "digest", c.Digest)
	optString(m, "endpoint", c.Endpoint)
	return m
}

// reportMap is a report as the policy sees it. Artifacts and details are
// not policy material; they stay out of the input but are covered by the
// input digest. Metrics and findings are Go values that OPA converts (by
// way of JSON) only if the policy reads them.
func reportMap(r pipeline.Report) map[string]any {
	m := make(map[string]any, 6)
	m["agent"] = r.Agent
	m["verdict"] = string(r.Verdict)
	m["summary"] = r.Summary
	optString(m, "stage", r.Stage)
	if r.Metrics == nil {
		m["metrics"] = nil
	} else {
		m["metrics"] = r.Metrics
	}
	if r.Findings == nil {
		m["findings"] = nil
	} else {
		m["findings"] = r.Findings
	}
	return m
}

// Terms of names and values the facts share, allocated once.
var (
	keyStage   = ast.StringTerm("stage")
	keySubject = ast.StringTerm("subject")
	keyCode    = ast.StringTerm("code")
	keyMessage = ast.StringTerm("message")
)
