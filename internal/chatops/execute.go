package chatops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/approval"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/store"
)

// command handles POST /slack/commands: parse, identify, acknowledge,
// then act and answer through the response_url.
func (h *Handler) command(w http.ResponseWriter, r *http.Request) {
	sc, err := slack.SlashCommandParse(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "bad_form", "the request body is not a form")
		return
	}
	base := map[string]any{"slack_user": sc.UserID, "slack_team": sc.TeamID, "channel": sc.ChannelID, "text": clip(sc.Text, 500)}
	if sc.UserID == "" {
		h.record(r.Context(), EventRefused, "", "", with(base, "why", "no user_id"))
		httpError(w, http.StatusBadRequest, "bad_form", "user_id is missing")
		return
	}
	p, why := h.identify(sc.TeamID, sc.UserID)
	if why != "" {
		h.record(r.Context(), EventRefused, "", "", with(base, "why", "unmapped Slack user"))
		ephemeral(w, why)
		return
	}
	cmd, err := ParseCommand(sc.Text)
	if err != nil {
		h.record(r.Context(), EventRefused, "", p.Subject, with(base, "why", err.Error()))
		ephemeral(w, strings.TrimPrefix(err.Error(), "usage: "))
		return
	}
	if cmd.Name == "help" {
		ephemeral(w, helpText())
		return
	}
	if !h.okResponseURL(sc.ResponseURL) {
		h.record(r.Context(), EventRefused, "", p.Subject, with(base, "why", "response_url is not Slack's"))
		httpError(w, http.StatusBadRequest, "bad_response_url", "response_url is not a Slack URL")
		return
	}
	h.record(r.Context(), EventCommand, "", p.Subject, with(base, "command", cmd.Name))
	ephemeral(w, fmt.Sprintf("Working on `%s`…", clip(strings.TrimSpace(sc.Command+" "+sc.Text), 200)))
	h.async(func(ctx context.Context) {
		rep := h.execute(ctx, p, cmd, sc)
		if rep.err != nil {
			h.record(ctx, EventRefused, rep.runID, p.Subject, with(base, "why", rep.err.Error()))
			rep.text = ":no_entry: " + rep.err.Error()
		}
		h.respond(ctx, sc.ResponseURL, &slack.WebhookMessage{ResponseType: rep.responseType(), Text: rep.text, Blocks: rep.blocks()})
	})
}

// reply is the outcome of a command.
type reply struct {
	text      string
	block     []slack.Block
	inChannel bool // what others should see (a deploy, a rollback)
	runID     string
	err       error // refused: shown to the caller only
}

func (r reply) responseType() string {
	if r.inChannel && r.err == nil {
		return slack.ResponseTypeInChannel
	}
	return slack.ResponseTypeEphemeral
}

func (r reply) blocks() *slack.Blocks {
	if len(r.block) == 0 || r.err != nil {
		return nil
	}
	return &slack.Blocks{BlockSet: r.block}
}

func (h *Handler) execute(ctx context.Context, p auth.Principal, c Command, sc slack.SlashCommand) reply {
	switch c.Name {
	case "deploy":
		return h.deploy(ctx, p, c.Args[0], c.Args[1], sc)
	case "status":
		return h.status(ctx, p, c.Args)
	case "runs":
		return h.runs(ctx, p, c.Args)
	case "approve", "reject":
		a, err := h.vote(ctx, p, c.Name, c.Args[0], c.Rest)
		if err != nil {
			return reply{err: err, runID: a.RunID}
		}
		h.updateApprovalMessage(ctx, a, "", "")
		return reply{text: voteText(a, p, c.Name), inChannel: true, runID: a.RunID}
	case "promote":
		return h.promote(ctx, p, c.Args[0])
	case "ask":
		return h.ask(ctx, p, c.Rest)
	case "rollback":
		env := "production"
		if len(c.Args) > 1 {
			env = c.Args[1]
		}
		return h.rollback(ctx, p, c.Args[0], env)
	}
	return reply{err: fmt.Errorf("unknown command %q", c.Name)}
}

func (h *Handler) deploy(ctx context.Context, p auth.Principal, model, version string, sc slack.SlashCommand) reply {
	if h.o.Starter == nil {
		return reply{err: errors.New("deploys from Slack are not available on this server")}
	}
	params := triggers.StartParams{Model: model, Kind: triggers.KindDeploy, Version: version, Trigger: "slack",
		Requester: p.Subject, Labels: map[string]string{"slack.user": sc.UserID}}
	plan, err := h.o.Starter.Plan(ctx, params)
	if err != nil {
		return reply{err: err}
	}
	// The config decides which rights the run needs, as at POST /v1/runs.
	if err := h.authorize(ctx, p, "trigger", model, plan.Config.Environment); err != nil {
		return reply{err: err}
	}
	if sc.TriggerID != "" {
		// Slack's trigger id is unique per invocation: a duplicated
		// delivery of the same command gets the first run.
		params.IdempotencyKey = "slack:" + sc.TriggerID
	}
	run, _, err := h.o.Starter.Start(ctx, params, plan)
	if err != nil {
		return reply{err: err}
	}
	return reply{text: fmt.Sprintf(":rocket: %s started run `%s`: deploy %s version %s to %s. %s", p.Subject, run.ID, model, version, run.Environment, h.runLink(run.ID)),
		inChannel: true, runID: run.ID}
}

func (h *Handler) status(ctx context.Context, p auth.Principal, args []string) reply {
	if len(args) == 0 {
		if err := h.authorize(ctx, p, "read", "", ""); err != nil {
			return reply{err: err}
		}
		runs, err := h.o.Store.RunList(ctx, store.RunListParams{States: []store.RunState{store.RunQueued, store.RunRunning, store.RunAwaitingApproval, store.RunDeploying}, Limit: 20})
		if err != nil {
			return reply{err: fmt.Errorf("could not list runs: %w", err)}
		}
		if len(runs) == 0 {
			return reply{text: "No run is in progress."}
		}
		return reply{text: "Runs in progress:\n" + runLines(runs)}
	}
	if run, err := h.o.Store.RunGet(ctx, args[0]); err == nil {
		if err := h.authorize(ctx, p, "read", run.Model, run.Environment); err != nil {
			return reply{err: err}
		}
		return reply{text: runDetail(run), runID: run.ID}
	}
	model := args[0]
	if err := h.authorize(ctx, p, "read", model, ""); err != nil {
		return reply{err: err}
	}
	prods, err := h.o.Store.ProductionList(ctx, model)
	if err != nil {
		return reply{err: fmt.Errorf("could not read model %s: %w", model, err)}
	}
	runs, err := h.o.Store.RunList(ctx, store.RunListParams{Model: model, Limit: 5})
	if err != nil {
		return reply{err: fmt.Errorf("could not list runs of %s: %w", model, err)}
	}
	if len(prods) == 0 && len(runs) == 0 {
		return reply{text: fmt.Sprintf("No run and no model named %q.", model)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*\n", model)
	for _, pr := range prods {
		fmt.Fprintf(&b, "• %s serves version `%s` (since %s)\n", pr.Environment, pr.Version, pr.UpdatedAt.UTC().Format(time.RFC3339))
	}
	if len(runs) > 0 {
		b.WriteString("Latest runs:\n" + runLines(runs))
	}
	return reply{text: b.String()}
}

func (h *Handler) runs(ctx context.Context, p auth.Principal, args []string) reply {
	model := ""
	if len(args) > 0 {
		model = args[0]
	}
	if err := h.authorize(ctx, p, "read", model, ""); err != nil {
		return reply{err: err}
	}
	runs, err := h.o.Store.RunList(ctx, store.RunListParams{Model: model, Limit: 10})
	if err != nil {
		return reply{err: fmt.Errorf("could not list runs: %w", err)}
	}
	if len(runs) == 0 {
		return reply{text: "No runs."}
	}
	return reply{text: runLines(runs)}
}

// vote approves or rejects as p: the policy first (the action on the
// approval's model and environment), then the queue, which also refuses
// the run's requester and commit author and reviewers outside its groups.
func (h *Handler) vote(ctx context.Context, p auth.Principal, decision, id, comment string) (store.Approval, error) {
	a, err := h.o.Approvals.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Approval{}, fmt.Errorf("there is no approval %q", clip(id, 60))
	}
	if err != nil {
		return store.Approval{}, fmt.Errorf("could not read approval %s", clip(id, 60))
	}
	if err := h.authorize(ctx, p, decision, a.Model, a.Environment); err != nil {
		return a, err
	}
	if comment == "" && decision == "approve" {
		comment = "approved in Slack"
	}
	var out store.Approval
	if decision == "approve" {
		out, err = h.o.Approvals.Approve(ctx, id, p, comment)
	} else {
		out, err = h.o.Approvals.Reject(ctx, id, p, comment)
	}
	if err != nil {
		return a, voteError(err)
	}
	return out, nil
}

// voteError says in a sentence why the queue refused a vote.
func voteError(err error) error {
	switch {
	case errors.Is(err, approval.ErrSelfApproval):
		return errors.New("you requested this run or authored its commit, so you may not approve it")
	case errors.Is(err, approval.ErrNotAllowed):
		return fmt.Errorf("not allowed: %v", err)
	case errors.Is(err, approval.ErrAlreadyDecided):
		return fmt.Errorf("already decided: %v", err)
	case errors.Is(err, approval.ErrExpired):
		return fmt.Errorf("expired: %v", err)
	case errors.Is(err, approval.ErrBadRequest):
		return fmt.Errorf("refused: %v", err)
	}
	return errors.New("the vote could not be recorded; try again")
}

func voteText(a store.Approval, p auth.Principal, decision string) string {
	switch a.State {
	case store.ApprovalApproved:
		return fmt.Sprintf(":white_check_mark: %s approved run `%s` (%s); it moves on.", p.Subject, a.RunID, a.Model)
	case store.ApprovalRejected:
		return fmt.Sprintf(":x: %s rejected run `%s` (%s).", p.Subject, a.RunID, a.Model)
	}
	return fmt.Sprintf(":ballot_box_with_check: %s %sd run `%s`; %d of %d approvals.", p.Subject, decision, a.RunID, approvers(a), a.Min)
}

func (h *Handler) promote(ctx context.Context, p auth.Principal, runID string) reply {
	run, err := h.o.Store.RunGet(ctx, runID)
	if err != nil {
		return reply{err: fmt.Errorf("there is no run %q", clip(runID, 60))}
	}
	if err := h.authorize(ctx, p, "promote", run.Model, run.Environment); err != nil {
		return reply{err: err, runID: run.ID}
	}
	if h.o.Rollouts == nil {
		return reply{err: errors.New("this server does not deploy, so there is nothing to promote")}
	}
	if err := h.o.Rollouts.Promote(ctx, run.ID, p.Subject); err != nil {
		return reply{err: fmt.Errorf("could not promote run %s: %v", run.ID, err), runID: run.ID}
	}
	return reply{text: fmt.Sprintf(":arrow_up: %s promoted run `%s` (%s) to full traffic.", p.Subject, run.ID, run.Model), inChannel: true, runID: run.ID}
}

func (h *Handler) rollback(ctx context.Context, p auth.Principal, model, env string) reply {
	if err := h.authorize(ctx, p, "rollback", model, env); err != nil {
		return reply{err: err}
	}
	if h.o.Rollouts == nil {
		return reply{err: errors.New("this server does not deploy, so there is nothing to roll back")}
	}
	prod, err := h.o.Rollouts.Rollback(ctx, model, env, p.Subject, "rolled back from Slack by "+p.Subject)
	if err != nil {
		return reply{err: fmt.Errorf("could not roll back %s in %s: %v", model, env, err)}
	}
	return reply{text: fmt.Sprintf(":rewind: %s rolled %s in %s back to version `%s`.", p.Subject, model, env, prod.Version), inChannel: true}
}

func runLines(runs []store.Run) string {
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "• `%s` %s %s — %s (%s, by %s)\n", r.ID, r.Model, r.Environment, r.State, r.Trigger, r.Requester)
	}
	return b.String()
}

func runDetail(r store.Run) string {
	s := fmt.Sprintf("Run `%s` of *%s* (%s): *%s*\ntrigger %s, requested by %s, created %s", r.ID, r.Model, r.Environment, r.State,
		r.Trigger, r.Requester, r.CreatedAt.UTC().Format(time.RFC3339))
	if r.Candidate.Digest != "" {
		s += "\ncandidate " + r.Candidate.Digest
	}
	if r.Error != "" {
		s += "\nerror: " + clip(r.Error, 300)
	}
	return s
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return out
}

// ask shows what a sentence would do and the slash command that does it;
// nothing runs until the person types that command, which is then
// authorized like any other: a model's proposal never acts by itself.
func (h *Handler) ask(ctx context.Context, p auth.Principal, sentence string) reply {
	if err := h.authorize(ctx, p, "read", "", ""); err != nil {
		return reply{err: err}
	}
	if h.o.Ask == nil {
		return reply{err: errors.New("ask is not available on this server")}
	}
	prop, err := h.o.Ask(ctx, p, sentence)
	if err != nil {
		return reply{err: err}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Proposed (%s): %s\n", prop.Source, slackEscape(prop.Summary))
	if prop.Note != "" {
		fmt.Fprintf(&b, "%s\n", slackEscape(prop.Note))
	}
	if cmd := slashFor(prop.Command); cmd != "" {
		fmt.Fprintf(&b, "Nothing has run. To do it, send: `/modelgate %s`", slackEscape(cmd))
	} else if prop.Command.Action != "none" && prop.Command.Action != "" {
		fmt.Fprintf(&b, "Nothing has run. There is no slash command for %s; use `modelgate ask` or the web page.", prop.Command.Action)
	}
	return reply{text: b.String()}
}

// slashFor is the /modelgate command a proposal corresponds to, "" when
// Slack has none (pause, resume, abort, cancel) or nothing was proposed.
func slashFor(c assistant.Command) string {
	switch c.Action {
	case "rollback":
		if c.Model == "" {
			return ""
		}
		return strings.TrimSpace("rollback " + c.Model + " " + c.Environment)
	case "promote":
		if c.RunID != "" {
			return "promote " + c.RunID
		}
	case "approve":
		if c.ApprovalID != "" {
			return strings.TrimSpace("approve " + c.ApprovalID + " " + c.Reason)
		}
	case "reject":
		if c.ApprovalID != "" {
			reason := c.Reason
			if reason == "" {
				reason = "<reason>"
			}
			return "reject " + c.ApprovalID + " " + reason
		}
	case "show_run":
		if c.RunID != "" {
			return "status " + c.RunID
		}
	}
	return ""
}
