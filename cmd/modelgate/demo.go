package main

import (
	"os/signal"
	"syscall"

	"github.com/charmbracelet/log"
	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/app/demo"
)

func init() { register(newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var dataDir string
	var verbose, llmDemo bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on a bundled example, no set-up",
		Long: `Starts a modelgate server in this process, serves a production model behind
the gateway and replays live traffic, then takes two candidates through the
pipeline: a better model (validated, evaluated, judged high risk, approved by
a reviewer after the commit author's own approval is refused, shadowed,
canaried and promoted) and one whose serving upstream reads the features in
the wrong order (fine offline, caught in shadow and rolled back before any
client sees it). Ends by verifying the audit trail. Takes about 20 seconds.

With --llm it runs the same pipeline for prompts (task: llm) against a scripted
OpenAI-compatible server the binary starts on localhost, the only endpoint the
server may call: prompt v1 is promoted, v2 is shadowed (answers compared with
production's by token F1), canaried with live chat traffic (some streamed) and
promoted, and v3, which passes every offline stage, is rolled back by the
canary because it is slow on live traffic. Takes about 15 seconds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			o := demo.Options{Out: cmd.OutOrStdout(), DataDir: dataDir, Color: isTerminal(cmd.OutOrStdout())}
			if verbose {
				o.Logger = log.Default()
			}
			if llmDemo {
				res, err := demo.RunLLM(ctx, o)
				if err != nil {
					return err
				}
				if !res.AuditOK {
					return checkFailed(errAuditBroken)
				}
				return nil
			}
			res, err := demo.Run(ctx, o)
			if err != nil {
				return err
			}
			if !res.AuditOK {
				return checkFailed(errAuditBroken)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "keep the demo's state here (default: a temporary folder)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show the server's logs")
	cmd.Flags().BoolVar(&llmDemo, "llm", false, "run the LLM demo: prompt versions against a scripted local OpenAI-compatible server")
	return cmd
}
