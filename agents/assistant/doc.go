// Package assistant is the LLM-assisted agent: it writes the reviewer
// brief for an approval request and a run's report, triages failed stages
// and rollbacks, and turns an operator's sentence into a proposed command.
//
// It never decides. Verdicts come from the deterministic agents and the
// policy; the assistant reads their stored evidence, reduces it to
// aggregates and ids (Gather: no data row, no free text quoted from data,
// categorical values replaced by a hash unless they are plain
// identifiers), and explains it. Everything an LLM answers is checked
// against that evidence (Verify): a brief or a triage that cites an id not
// in the evidence, or states a number the evidence does not print (at the
// precision written), is rejected, counted and replaced by the template
// form. Without an LLM every feature produces its template form, with the
// same structure, from the same evidence.
//
//	run reaches awaiting_approval / failed / rolled_back
//	        │
//	        ▼
//	Gather(run, stages, approval, rollout) ──► Bundle (evidence items with ids)
//	        │                                      │
//	        ├─► TemplateBrief ───────────────┐     │
//	        └─► LLM brief ─► Verify ─ok────► Brief ◄┘ rejected → template + reason
//	        │
//	        └─► (failed) triage loop: LLM ⇄ read-only tools (bounded) ─► Verify ─► Triage
//	                                         else RuleTriage
//	Record{Brief, Triage, Usage} stored as the run's "assist" stage
package assistant
