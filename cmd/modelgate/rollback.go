package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/store"
)

func init() {
	register(newRollbackCmd)
	register(newRolloutCmd)
}

type rollbackFlags struct {
	server  string
	token   string
	env     string
	reason  string
	to      string
	jsonOut bool
}

func newRollbackCmd() *cobra.Command {
	var f rollbackFlags
	cmd := &cobra.Command{
		Use:   "rollback MODEL",
		Short: "Point an environment back at its previous production version",
		Long: "Asks the modelgate server (POST /v1/models/{name}/rollback) to route all traffic\n" +
			"of MODEL back to the version that was in production before the current one and\n" +
			"to record it in the registry, in one audited step. Exit 0 when rolled back, 1 when\n" +
			"the server refuses (no previous version, a concurrent change, not allowed) or\n" +
			"cannot be reached, 2 for bad usage, an unknown model or a rejected token.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRollback(cmd, f, args[0]) },
	}
	addServerFlags(cmd, &f.server, &f.token, &f.jsonOut)
	cmd.Flags().StringVar(&f.env, "env", "production", "environment to roll back")
	cmd.Flags().StringVar(&f.reason, "reason", "", "why, recorded in the audit trail")
	cmd.Flags().StringVar(&f.to, "to", "", "a registered version to restore (any of them; default the previous one)")
	return cmd
}

func addServerFlags(cmd *cobra.Command, server, token *string, jsonOut *bool) {
	cmd.Flags().StringVar(server, "server", "", "modelgate server URL (default $MODELGATE_SERVER, then http://127.0.0.1:8080)")
	cmd.Flags().StringVar(token, "token", "", "API token (default $MODELGATE_TOKEN)")
	cmd.Flags().BoolVar(jsonOut, "json", false, "print the server's JSON")
}

func validPathName(kind, s string) error {
	if s == "" || strings.ContainsAny(s, "/?#% ") {
		return usageErr(fmt.Errorf("%s %q is not valid", kind, s))
	}
	return nil
}

func runRollback(cmd *cobra.Command, f rollbackFlags, model string) error {
	if err := validPathName("model", model); err != nil {
		return err
	}
	if err := validPathName("--env", f.env); err != nil {
		return err
	}
	c, err := serverClient(f.server, f.token)
	if err != nil {
		return err
	}
	var out store.Production
	body := map[string]string{"environment": f.env, "reason": f.reason}
	if f.to != "" {
		if err := validPathName("--to", f.to); err != nil {
			return err
		}
		body["version"] = f.to
	}
	if _, err := c.Do(cmd.Context(), "POST", "/v1/models/"+url.PathEscape(model)+"/rollback", body, &out); err != nil {
		return serverErr(err)
	}
	w := cmd.OutOrStdout()
	if f.jsonOut {
		return policyWriteJSON(w, out)
	}
	fmt.Fprintf(w, "%s in %s rolled back to %s (was %s)\n", out.Model, out.Environment, out.Version, out.Previous)
	return nil
}

type rolloutFlags struct {
	server  string
	token   string
	reason  string
	jsonOut bool
}

// newRolloutCmd gives the manual controls of a running rollout.
func newRolloutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Promote, abort, pause or resume a run's rollout",
		Long: "Manual controls of a rollout in progress (POST /v1/runs/{id}/promote|abort|pause|resume).\n" +
			"The rollout loop applies them on its next tick. Exit 0 when the server accepted the\n" +
			"request, 1 when it refused (the rollout has finished, not allowed) or cannot be\n" +
			"reached, 2 for bad usage, an unknown run or a rejected token.",
	}
	for _, action := range []string{"promote", "abort", "pause", "resume"} {
		var f rolloutFlags
		c := &cobra.Command{
			Use:   action + " RUN_ID",
			Short: strings.ToUpper(action[:1]) + action[1:] + " the run's rollout",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := validPathName("run id", args[0]); err != nil {
					return err
				}
				cl, err := serverClient(f.server, f.token)
				if err != nil {
					return err
				}
				var out map[string]any
				if _, err := cl.Do(cmd.Context(), "POST", "/v1/runs/"+url.PathEscape(args[0])+"/"+action, map[string]string{"reason": f.reason}, &out); err != nil {
					return serverErr(err)
				}
				if f.jsonOut {
					return policyWriteJSON(cmd.OutOrStdout(), out)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s requested for run %s\n", action, args[0])
				return nil
			},
		}
		addServerFlags(c, &f.server, &f.token, &f.jsonOut)
		if action == "abort" {
			c.Flags().StringVar(&f.reason, "reason", "", "why, recorded in the audit trail and the rollback finding")
		}
		cmd.AddCommand(c)
	}
	return cmd
}
