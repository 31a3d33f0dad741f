package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newSessionsCmd) }

func newSessionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "Manage the reviewers' page sessions",
	}
	cmd.AddCommand(newSessionsEndAllCmd())
	return cmd
}

func newSessionsEndAllCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "end-all",
		Short: "Sign everyone out of the reviewers' page",
		Long: `Move the server-side session epoch on: every reviewers' page session
issued before it is refused on its next request, on every server sharing the
data folder, running or not. People sign in again with their token. To
revoke one person, remove them from the tokens file instead (the server
re-reads it on change and on SIGHUP).`,
		Example: `  modelgate sessions end-all --data-dir /var/lib/modelgate`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			st, err := openAuditStore(ctx, dataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			epoch, err := st.SessionEpochBump(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ended every reviewers' page session in %s (session epoch %d)\n", st.Path(), epoch)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", auditDefaultDataDir, "modelgate data directory (modelgate.db)")
	return cmd
}
