package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/store"
)

// logsPage is GET /v1/runs/{id}/logs's answer.
type logsPage struct {
	Lines []store.LogLine `json:"lines"`
	State store.RunState  `json:"state"`
}

// newRunsLogsCmd prints a run's log (training output), each line with the
// time it was written; --follow keeps printing as lines arrive until the
// run ends, so a long training is watched as it happens.
func newRunsLogsCmd(serverURL, token *string, asJSON *bool) *cobra.Command {
	var follow bool
	var stage string
	var every time.Duration
	cmd := &cobra.Command{
		Use: "logs RUN_ID", Short: "Print a run's log (training output) with timestamps; --follow until the run ends", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := serverClient(*serverURL, *token)
			if err != nil {
				return err
			}
			return followLogs(cmd.Context(), followParams{Client: c, RunID: args[0], Stage: stage,
				Follow: follow, Every: every, JSON: *asJSON, Out: cmd.OutOrStdout()})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until the run ends")
	cmd.Flags().StringVar(&stage, "stage", "", "only this stage's lines (e.g. training)")
	cmd.Flags().DurationVar(&every, "interval", time.Second, "with --follow, how often to ask for new lines")
	return cmd
}

type followParams struct {
	Client *client.Client
	RunID  string
	Stage  string
	Follow bool
	Every  time.Duration
	JSON   bool // one JSON object per line (JSON Lines), for tools
	Out    io.Writer
}

func followLogs(ctx context.Context, p followParams) error {
	var after int64
	if p.Every <= 0 {
		p.Every = time.Second
	}
	for {
		q := url.Values{"after": {strconv.FormatInt(after, 10)}}
		if p.Stage != "" {
			q.Set("stage", p.Stage)
		}
		var page logsPage
		if _, err := p.Client.Do(ctx, "GET", "/v1/runs/"+url.PathEscape(p.RunID)+"/logs?"+q.Encode(), nil, &page); err != nil {
			return serverErr(err)
		}
		for _, l := range page.Lines {
			if p.JSON {
				if err := json.NewEncoder(p.Out).Encode(l); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(p.Out, "%s %-10s %s\n", l.Time.UTC().Format("2006-01-02T15:04:05.000Z"), l.Stage, l.Text)
			}
			after = max(after, l.Seq)
		}
		// The state comes with the same answer as the lines, so the last
		// lines of a run that just ended are printed before stopping.
		if !p.Follow || page.State.Terminal() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.Every):
		}
	}
}
