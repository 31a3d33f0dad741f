package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/chatops/monitor"
)

func init() { register(newMonitorCmd) }

type monitorFlags struct {
	server  string
	token   string
	env     string
	last    int
	jsonOut bool
}

func newMonitorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "The production monitor: drift, scores and error rate of models in production",
	}
	var f monitorFlags
	status := &cobra.Command{
		Use:   "status MODEL",
		Short: "Show the production monitor's state and latest checks of a model",
		Long: "Reads GET /v1/models/{name}/monitor: the version watched, its baseline, the\n" +
			"current streak of checks over a threshold, and the latest checks (input drift\n" +
			"share against the reference data, score PSI and error rate against the baseline,\n" +
			"alerts and what they did). Exit 0 when the latest check is under every threshold,\n" +
			"1 when it is over one (or the server cannot be reached), 2 for bad usage, an\n" +
			"unknown or unmonitored model or a rejected token, 3 when not allowed.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runMonitorStatus(cmd, f, args[0]) },
	}
	addServerFlags(status, &f.server, &f.token, &f.jsonOut)
	status.Flags().StringVar(&f.env, "env", "", "environment (default the one the monitor settings name)")
	status.Flags().IntVar(&f.last, "last", 10, "how many of the latest checks to print")
	cmd.AddCommand(status)
	return cmd
}

func runMonitorStatus(cmd *cobra.Command, f monitorFlags, model string) error {
	if err := validPathName("model", model); err != nil {
		return err
	}
	path := "/v1/models/" + url.PathEscape(model) + "/monitor"
	if f.env != "" {
		if err := validPathName("--env", f.env); err != nil {
			return err
		}
		path += "?environment=" + url.QueryEscape(f.env)
	}
	if f.last < 1 {
		return usageErr(fmt.Errorf("--last %d: want at least 1", f.last))
	}
	c, err := serverClient(f.server, f.token)
	if err != nil {
		return err
	}
	var v monitor.StatusView
	if _, err := c.Do(cmd.Context(), "GET", path, nil, &v); err != nil {
		return serverErr(err)
	}
	w := cmd.OutOrStdout()
	if f.jsonOut {
		if err := policyWriteJSON(w, v); err != nil {
			return err
		}
	} else {
		printMonitorStatus(w, v, f.last)
	}
	if n := len(v.History); n > 0 && len(v.History[n-1].Over) > 0 {
		return checkFailed(fmt.Errorf("%s: the latest check is over a threshold: %s", model, strings.Join(v.History[n-1].Over, "; ")))
	}
	return nil
}

func printMonitorStatus(w io.Writer, v monitor.StatusView, last int) {
	s := v.Settings
	fmt.Fprintf(w, "%s in %s: ", v.Model, v.Environment)
	if v.Version == "" {
		fmt.Fprintln(w, "not checked yet (no production version seen)")
	} else {
		fmt.Fprintf(w, "%s, watched since %s\n", v.Version, v.Since.Format("2006-01-02 15:04:05Z07:00"))
	}
	fmt.Fprintf(w, "every %s; alert after %d checks in a row over a threshold (drift share > %.2f, score PSI > %.2f, error rate +%.2f); action %s\n",
		s.Every.Duration, s.Consecutive, s.DriftShare, s.ScorePSI, s.ErrorRate, s.Action)
	if b := v.Baseline; b != nil {
		fmt.Fprintf(w, "baseline: %d requests at %s, error rate %.4f\n", b.Requests, b.At.Format("2006-01-02 15:04:05Z07:00"), b.ErrorRate)
	} else {
		fmt.Fprintln(w, "baseline: not taken yet")
	}
	alert := ""
	if v.Alerted {
		alert = " (alert raised)"
	}
	fmt.Fprintf(w, "streak: %d over%s\n", v.Consecutive, alert)
	h := v.History
	if len(h) > last {
		h = h[len(h)-last:]
	}
	if len(h) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tVERSION\tROWS\tDRIFT\tPSI\tERRORS\tSTREAK\tRESULT")
	for _, c := range h {
		result := "ok"
		switch {
		case c.Alert:
			result = "ALERT " + c.Action + ": " + c.Result
		case len(c.Over) > 0:
			result = "over: " + strings.Join(c.Over, "; ")
		case len(c.Notes) > 0:
			result = strings.Join(c.Notes, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\n", c.At.Format("2006-01-02 15:04:05"), c.Version, c.Rows,
			num(c.DriftShare, 2), num(c.ScorePSI, 3), num(c.ErrorRate, 4), c.Consecutive, result)
	}
	_ = tw.Flush()
}

func num(p *float64, prec int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, *p)
}
