package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/api/client"
)

func init() { register(newAskCmd) }

type askFlags struct {
	server, token string
	yes, jsonOut  bool
}

func newAskCmd() *cobra.Command {
	var f askFlags
	cmd := &cobra.Command{
		Use:   `ask "SENTENCE"`,
		Short: "Turn a sentence into a command, show it, and run it once you confirm",
		Long: "Sends the sentence to the server (POST /v1/ask), which proposes one command: with an\n" +
			"LLM configured (--llm-base-url) through function calling, else with a rule parser.\n" +
			"The proposal is shown and runs only after you answer y (or with --yes), through the\n" +
			"same endpoint as the equivalent command, so policies/authz.rego decides as for any\n" +
			"request. Exit 0 when it ran (or nothing was to run), 1 when declined, refused or\n" +
			"failed, 2 for bad usage or a sentence that names no command.\n\n" +
			`  modelgate ask "roll fraud-detector in prod back to last week's version"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAsk(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), f, strings.Join(args, " "))
		},
	}
	addServerFlags(cmd, &f.server, &f.token, &f.jsonOut)
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "run the proposed command without asking")
	return cmd
}

func runAsk(ctx context.Context, in io.Reader, out io.Writer, f askFlags, sentence string) error {
	c, err := serverClient(f.server, f.token)
	if err != nil {
		return err
	}
	var p assistant.Proposal
	if _, err := c.Do(ctx, "POST", "/v1/ask", map[string]string{"text": sentence}, &p); err != nil {
		return serverErr(err)
	}
	if f.jsonOut && !f.yes {
		// A script asks for the proposal; running it needs --yes as well.
		return policyWriteJSON(out, p)
	}
	fmt.Fprintf(out, "Proposed (%s, %s): %s\n", p.Source, p.Prompt, p.Summary)
	if p.Note != "" {
		fmt.Fprintf(out, "  note: %s\n", p.Note)
	}
	if p.Command.Action == "none" {
		return usageErr(errors.New("the sentence names no command"))
	}
	if p.Command.Action == "rollback" {
		showRollbackTarget(ctx, c, out, p.Command)
	}
	if !f.yes {
		fmt.Fprint(out, "Run it? [y/N] ")
		line, _ := bufio.NewReader(in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(out, "not run")
			return checkFailed(errors.New("declined"))
		}
	}
	return runCommand(ctx, c, out, p.Command)
}

// showRollbackTarget names the version a rollback would restore, so the
// operator can check it is the one they meant ("last week's").
func showRollbackTarget(ctx context.Context, c *client.Client, out io.Writer, cmd assistant.Command) {
	var m struct {
		Production []struct {
			Environment string `json:"environment"`
			Version     string `json:"version"`
			Previous    string `json:"previous"`
		} `json:"production"`
	}
	if _, err := c.Do(ctx, "GET", "/v1/models/"+url.PathEscape(cmd.Model), nil, &m); err != nil {
		return
	}
	for _, p := range m.Production {
		if p.Environment == cmd.Environment {
			fmt.Fprintf(out, "  %s in %s serves %s; rolling back restores %s\n", cmd.Model, cmd.Environment, p.Version, orDash(p.Previous))
		}
	}
}

// runCommand sends a confirmed command to its ordinary endpoint.
func runCommand(ctx context.Context, c *client.Client, out io.Writer, cmd assistant.Command) error {
	reason := cmd.Reason
	if reason == "" {
		reason = "modelgate ask"
	}
	var method, path string
	var body any = map[string]string{"reason": reason}
	switch cmd.Action {
	case "rollback":
		method, path = "POST", "/v1/models/"+url.PathEscape(cmd.Model)+"/rollback"
		body = map[string]string{"environment": cmd.Environment, "reason": reason}
	case "promote", "abort", "pause", "resume", "cancel":
		method, path = "POST", "/v1/runs/"+url.PathEscape(cmd.RunID)+"/"+cmd.Action
	case "approve", "reject":
		method, path = "POST", "/v1/approvals/"+url.PathEscape(cmd.ApprovalID)+"/"+cmd.Action
		body = map[string]string{"comment": reason}
	case "show_run":
		method, path, body = "GET", "/v1/runs/"+url.PathEscape(cmd.RunID), nil
	default:
		return usageErr(fmt.Errorf("action %q cannot run", cmd.Action))
	}
	var res map[string]any
	if _, err := c.Do(ctx, method, path, body, &res); err != nil {
		return serverErr(err)
	}
	fmt.Fprintf(out, "done: %s %s\n", method, path)
	return nil
}
