package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/api"
)

// modelsPromote promotes an earlier version again: the server starts a
// run that reuses the version's stored evidence and is decided by the
// policy, reviewers and rollout of today, like a new candidate.
func modelsPromote() *cobra.Command {
	var reason string
	c, _ := modelsSub("promote MODEL VERSION", "Promote an earlier version again, through today's policy, with its stored evidence", cobra.ExactArgs(2),
		func(cmd *cobra.Command, f *modelsFlags, args []string) error {
			for i, kind := range []string{"model", "version"} {
				if err := validPathName(kind, args[i]); err != nil {
					return err
				}
			}
			cl, err := serverClient(f.server, f.token)
			if err != nil {
				return err
			}
			var v api.RunView
			path := "/v1/models/" + url.PathEscape(args[0]) + "/versions/" + url.PathEscape(args[1]) + "/promote"
			if _, err := cl.Do(cmd.Context(), "POST", path, map[string]string{"reason": reason}, &v); err != nil {
				return serverErr(err)
			}
			w := cmd.OutOrStdout()
			if f.jsonOut {
				return policyWriteJSON(w, v)
			}
			fmt.Fprintf(w, "run %s promotes %s %s again with the evidence of run %s; follow it with: modelgate runs show %s\n",
				v.ID, args[0], args[1], v.Labels["registry.evidence_run"], v.ID[:min(8, len(v.ID))])
			return nil
		})
	c.Flags().StringVar(&reason, "reason", "", "why (recorded in the run's labels and the audit trail)")
	return c
}
