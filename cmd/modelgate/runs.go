package main

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/store"
)

func init() { register(newRunsCmd) }

func newRunsCmd() *cobra.Command {
	var serverURL, token string
	var asJSON bool
	cmd := &cobra.Command{Use: "runs", Short: "List, show, follow the logs of and cancel runs on a server"}
	cmd.PersistentFlags().StringVar(&serverURL, "server", "", "server URL (default $MODELGATE_SERVER or http://127.0.0.1:8080)")
	cmd.PersistentFlags().StringVar(&token, "token", "", "API token (default $MODELGATE_TOKEN)")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")

	var model, state string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List runs, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if model != "" {
				q.Set("model", model)
			}
			if state != "" {
				q.Set("state", state)
			}
			q.Set("limit", fmt.Sprint(limit))
			var out struct {
				Runs []store.Run `json:"runs"`
			}
			c, err := serverClient(serverURL, token)
			if err != nil {
				return err
			}
			if _, err := c.Do(cmd.Context(), "GET", "/v1/runs?"+q.Encode(), nil, &out); err != nil {
				return serverErr(err)
			}
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tMODEL\tENV\tSTATE\tCANDIDATE\tCREATED\tREASON")
			for _, r := range out.Runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Model, r.Environment, r.State, r.Candidate.Version,
					r.CreatedAt.Local().Format("2006-01-02 15:04:05"), firstLine(r.Error, 60))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&model, "model", "", "only this model")
	list.Flags().StringVar(&state, "state", "", "only these states (comma-separated)")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")

	show := &cobra.Command{
		Use: "show RUN_ID", Short: "Show a run with its stages, reports and decision", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v api.RunView
			c, err := serverClient(serverURL, token)
			if err != nil {
				return err
			}
			if _, err := c.Do(cmd.Context(), "GET", "/v1/runs/"+url.PathEscape(args[0]), nil, &v); err != nil {
				return serverErr(err)
			}
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), v)
			}
			printRun(cmd.OutOrStdout(), v)
			return nil
		},
	}

	var reason string
	cancel := &cobra.Command{
		Use: "cancel RUN_ID", Short: "Cancel a run that has not finished", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v api.RunView
			body := map[string]string{"reason": reason}
			c, err := serverClient(serverURL, token)
			if err != nil {
				return err
			}
			if _, err := c.Do(cmd.Context(), "POST", "/v1/runs/"+url.PathEscape(args[0])+"/cancel", body, &v); err != nil {
				return serverErr(err)
			}
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), v)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s %s%s\n", v.ID, v.State, strings.TrimSpace(" "+v.Error))
			return nil
		},
	}
	cancel.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit trail)")
	cmd.AddCommand(list, show, cancel, newRunsLogsCmd(&serverURL, &token, &asJSON))
	return cmd
}
