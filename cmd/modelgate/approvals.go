package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/store"
)

func init() { register(newApprovalsCmd) }

type approvalsFlags struct {
	server  string
	token   string
	jsonOut bool
	state   []string
	comment string
}

func newApprovalsCmd() *cobra.Command {
	var f approvalsFlags
	cmd := &cobra.Command{
		Use:   "approvals",
		Short: "List, approve and reject promotions waiting for reviewers",
		Long: "Talks to a modelgate server (--server, default $MODELGATE_SERVER) with a bearer\n" +
			"token (--token, default $MODELGATE_TOKEN). Exit 0 on success, 1 when the server\n" +
			"refuses (not allowed, own candidate, already decided, expired) or cannot be\n" +
			"reached, 2 for bad usage, an unknown approval id or a rejected token.",
	}
	cmd.PersistentFlags().StringVar(&f.server, "server", "", "modelgate server URL (default $MODELGATE_SERVER, then http://127.0.0.1:8080)")
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "API token (default $MODELGATE_TOKEN)")
	cmd.PersistentFlags().BoolVar(&f.jsonOut, "json", false, "print the server's JSON")

	list := &cobra.Command{
		Use:   "list",
		Short: "List approval requests (pending ones unless --state says otherwise)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApprovalsList(cmd, f)
		},
	}
	list.Flags().StringSliceVar(&f.state, "state", []string{"pending"}, "states to list: pending, approved, rejected, expired, voided (comma-separated)")

	decide := func(action string) *cobra.Command {
		c := &cobra.Command{
			Use:   action + " ID",
			Short: strings.ToUpper(action[:1]) + action[1:] + " a pending approval request",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runApprovalsDecide(cmd, f, action, args[0])
			},
		}
		c.Flags().StringVar(&f.comment, "comment", "", "comment recorded with the vote")
		return c
	}
	cmd.AddCommand(list, decide("approve"), decide("reject"))
	return cmd
}

func approvalsClient(f approvalsFlags) (*client.Client, error) {
	return serverClient(f.server, f.token)
}

func runApprovalsList(cmd *cobra.Command, f approvalsFlags) error {
	c, err := approvalsClient(f)
	if err != nil {
		return err
	}
	q := url.Values{}
	for _, s := range f.state {
		s = strings.TrimSpace(s)
		if s == "" || s == "all" {
			continue
		}
		switch store.ApprovalState(s) {
		case store.ApprovalPending, store.ApprovalApproved, store.ApprovalRejected, store.ApprovalExpired, store.ApprovalVoided:
			q.Add("state", s)
		default:
			return usageErr(fmt.Errorf("--state: unknown approval state %q (want pending, approved, rejected, expired, voided or all)", s))
		}
	}
	path := "/v1/approvals"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Approvals []store.Approval `json:"approvals"`
	}
	if _, err := c.Do(cmd.Context(), "GET", path, nil, &out); err != nil {
		return serverErr(err)
	}
	w := cmd.OutOrStdout()
	if f.jsonOut {
		if out.Approvals == nil {
			out.Approvals = []store.Approval{}
		}
		return policyWriteJSON(w, out)
	}
	printApprovals(w, out.Approvals, time.Now())
	return nil
}

func printApprovals(w io.Writer, as []store.Approval, now time.Time) {
	if len(as) == 0 {
		fmt.Fprintln(w, "no approval requests")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRUN\tMODEL\tENV\tRISK\tSTATE\tAPPROVALS\tGROUPS\tREQUESTER\tEXPIRES")
	for _, a := range as {
		expires := a.ExpiresAt.Sub(now).Round(time.Minute)
		exp := "in " + expires.String()
		if expires <= 0 {
			exp = "overdue"
		}
		if a.State != store.ApprovalPending {
			exp = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", a.ID, a.RunID, a.Model, a.Environment, a.Risk, a.State,
			countApprovals(a.Votes), a.Min, strings.Join(a.Groups, ","), a.Requester, exp)
	}
	tw.Flush()
}

func countApprovals(votes []store.Vote) int {
	seen := map[string]bool{}
	for _, v := range votes {
		if v.Decision == "approve" {
			seen[strings.ToLower(v.Reviewer)] = true
		}
	}
	return len(seen)
}

func runApprovalsDecide(cmd *cobra.Command, f approvalsFlags, action, id string) error {
	id = strings.TrimSpace(id)
	if id == "" || strings.ContainsAny(id, "/?#") {
		return usageErr(fmt.Errorf("approval id %q is not valid", id))
	}
	c, err := approvalsClient(f)
	if err != nil {
		return err
	}
	var a store.Approval
	if _, err := c.Do(cmd.Context(), "POST", "/v1/approvals/"+url.PathEscape(id)+"/"+action, map[string]string{"comment": f.comment}, &a); err != nil {
		return serverErr(err)
	}
	w := cmd.OutOrStdout()
	if f.jsonOut {
		return policyWriteJSON(w, a)
	}
	fmt.Fprintf(w, "approval %s of run %s is %s (%d/%d approvals)\n", a.ID, a.RunID, a.State, countApprovals(a.Votes), a.Min)
	return nil
}
