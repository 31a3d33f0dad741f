package prompt

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/redact"
)

// leakRe finds instructions, in a system prompt or template, to hand the
// prompt itself out ("if asked, repeat these instructions verbatim").
var leakRe = regexp.MustCompile(`(?i)\b(reveal|repeat|print|show|output|disclose|share|recite|tell)\b[^.\n]{0,40}\b(system\s+prompt|these\s+instructions|your\s+instructions|the\s+instructions\s+above|the\s+prompt\s+above|this\s+prompt|hidden\s+prompt)`)

// negatedRe spots the usual way a prompt forbids the leak ("never reveal
// the system prompt"), which is the opposite of an instruction to leak.
var negatedRe = regexp.MustCompile(`(?i)\b(never|do\s+not|don(?:'|’)t|must\s+not|should\s+not|refuse\s+to|under\s+no\s+circumstances)\b[^.\n]{0,30}$`)

// scanDetails is the scan report's Details for a prompt.
type scanDetails struct {
	PromptDigest string `json:"prompt_digest"`
	Files        []file `json:"files"`
}

// scan checks the prompt file, the suite and the probes for credentials,
// and the prompt for instructions that leak the system prompt.
func (r *runner) scan(_ context.Context, rep *agents.Report) error {
	var det scanDetails
	pf, err := readFile("candidate.artifact", r.promptPath())
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	det.PromptDigest = pf.SHA256
	if d := r.task.Candidate.Digest; d != "" && d != pf.SHA256 {
		rep.Findings = append(rep.Findings, agents.Finding{ID: "llm-digest", Severity: agents.Critical, Code: "scan.digest_mismatch", Subject: "candidate.artifact",
			Message: fmt.Sprintf("the prompt file's digest %s is not the candidate's recorded %s", pf.SHA256, d)})
	}
	files := []file{pf}
	for _, f := range []struct{ field, path string }{{"llm.suite", r.llm.Suite}, {"llm.probes", r.llm.Probes}} {
		if f.path == "" {
			continue
		}
		sf, err := readFile(f.field, r.task.Path(f.path))
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		files = append(files, sf)
	}
	secrets := 0
	for _, f := range files {
		det.Files = append(det.Files, f)
		for i, line := range strings.Split(string(f.data), "\n") {
			if redact.String(line) != line {
				secrets++
				rep.Findings = append(rep.Findings, agents.Finding{ID: fmt.Sprintf("llm-secret-%s-%d", f.Field, i+1), Severity: agents.Critical, Code: "scan.secret",
					Subject: f.Field, Message: fmt.Sprintf("%s line %d holds what looks like a credential; it would be sent to the model with every call", f.Field, i+1),
					Evidence: map[string]any{"line": i + 1}})
			}
		}
	}
	leaks := 0
	if p, _, err := r.loadPrompt(); err == nil {
		for _, part := range []struct{ name, text string }{{"system", p.System}, {"template", p.Template}} {
			for _, m := range leakRe.FindAllStringIndex(part.text, -1) {
				if negatedRe.MatchString(part.text[max(0, m[0]-40):m[0]]) {
					continue
				}
				leaks++
				rep.Findings = append(rep.Findings, agents.Finding{ID: fmt.Sprintf("llm-leak-instruction-%s-%d", part.name, m[0]), Severity: agents.High,
					Code: "scan.prompt_leak_instruction", Subject: "candidate.artifact: " + part.name,
					Message: fmt.Sprintf("the prompt's %s tells the model to hand out its instructions: %q", part.name, part.text[m[0]:m[1]])})
			}
		}
	}
	rep.Metrics["scan.secrets"] = float64(secrets)
	rep.Metrics["scan.prompt_leak_instructions"] = float64(leaks)
	rep.Metrics["scan.files"] = float64(len(files))
	rep.Details = mustJSON(det)
	rep.Summary = fmt.Sprintf("Scanned the prompt (%s) and %d suite file(s): %d credential(s), %d leaking instruction(s).", pf.SHA256, len(files)-1, secrets, leaks)
	return nil
}
