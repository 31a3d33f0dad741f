package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
)

func init() { register(newModelsCmd) }

type modelsFlags struct {
	server, token string
	jsonOut       bool
}

// newModelsCmd is the registry: versions with their lineage, aliases,
// tags and descriptions, and a diff of two versions (GET/PUT/POST under
// /v1/models/{name}).
func newModelsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "The model registry: versions, lineage, aliases, tags, diffs",
		Long: "Reads and annotates the modelgate server's registry. Exit 0 on success, 1 when the\n" +
			"server refuses (a conflict) or cannot be reached, 2 for bad usage or an unknown\n" +
			"model or version, 3 when the authorization policy forbids it.",
	}
	cmd.AddCommand(modelsList(), modelsShow(), modelsAlias(), modelsTag(), modelsDiff(), modelsPromote(), modelsExport(), modelsImport())
	return cmd
}

func modelsSub(use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, f *modelsFlags, args []string) error) (*cobra.Command, *modelsFlags) {
	f := &modelsFlags{}
	c := &cobra.Command{Use: use, Short: short, Args: args,
		RunE: func(cmd *cobra.Command, args []string) error { return run(cmd, f, args) }}
	addServerFlags(c, &f.server, &f.token, &f.jsonOut)
	return c, f
}

func modelsList() *cobra.Command {
	c, _ := modelsSub("list [MODEL]", "List models, or a model's versions with aliases and environments", cobra.MaximumNArgs(1),
		func(cmd *cobra.Command, f *modelsFlags, args []string) error {
			cl, err := serverClient(f.server, f.token)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(args) == 0 {
				var out struct {
					Models []string `json:"models"`
				}
				if _, err := cl.Do(cmd.Context(), "GET", "/v1/models", nil, &out); err != nil {
					return serverErr(err)
				}
				if f.jsonOut {
					return policyWriteJSON(w, out)
				}
				for _, m := range out.Models {
					fmt.Fprintln(w, m)
				}
				return nil
			}
			if err := validPathName("model", args[0]); err != nil {
				return err
			}
			var mv api.ModelView
			if _, err := cl.Do(cmd.Context(), "GET", "/v1/models/"+url.PathEscape(args[0]), nil, &mv); err != nil {
				return serverErr(err)
			}
			var al struct {
				Aliases []store.Alias `json:"aliases"`
			}
			if _, err := cl.Do(cmd.Context(), "GET", "/v1/models/"+url.PathEscape(args[0])+"/aliases", nil, &al); err != nil {
				return serverErr(err)
			}
			if f.jsonOut {
				return policyWriteJSON(w, map[string]any{"model": mv, "aliases": al.Aliases})
			}
			fmt.Fprintf(w, "%-14s %-20s %-14s %-20s %s\n", "VERSION", "DIGEST", "RUN", "ALIASES", "SERVES")
			for _, v := range mv.Versions {
				var aliases, envs []string
				for _, a := range al.Aliases {
					if a.Version == v.Version {
						aliases = append(aliases, a.Name)
					}
				}
				for _, p := range mv.Production {
					if p.Version == v.Version {
						envs = append(envs, p.Environment)
					}
				}
				fmt.Fprintf(w, "%-14s %-20s %-14s %-20s %s\n", v.Version, short(v.Digest, 19), short(v.RunID, 8), dash(strings.Join(aliases, ",")), dash(strings.Join(envs, ",")))
			}
			return nil
		})
	return c
}

func modelsShow() *cobra.Command {
	c, _ := modelsSub("show MODEL VERSION", "Show a version: lineage, notes, aliases, environments", cobra.ExactArgs(2),
		func(cmd *cobra.Command, f *modelsFlags, args []string) error {
			if err := validPathName("model", args[0]); err != nil {
				return err
			}
			if err := validPathName("version", args[1]); err != nil {
				return err
			}
			cl, err := serverClient(f.server, f.token)
			if err != nil {
				return err
			}
			var v api.VersionView
			if _, err := cl.Do(cmd.Context(), "GET", "/v1/models/"+url.PathEscape(args[0])+"/versions/"+url.PathEscape(args[1]), nil, &v); err != nil {
				return serverErr(err)
			}
			w := cmd.OutOrStdout()
			if f.jsonOut {
				return policyWriteJSON(w, v)
			}
			fmt.Fprintf(w, "%s %s  %s\n", v.Model, v.Version, v.Digest)
			fmt.Fprintf(w, "  run %s  registered %s\n", dash(v.RunID), v.CreatedAt.Format("2006-01-02 15:04:05Z"))
			fmt.Fprintf(w, "  aliases: %s  serves: %s\n", dash(strings.Join(v.Aliases, ", ")), dash(strings.Join(v.Environments, ", ")))
			if v.Notes.Description != "" {
				fmt.Fprintf(w, "  description: %s\n", v.Notes.Description)
			}
			for _, k := range slices.Sorted(mapsKeys(v.Notes.Tags)) {
				fmt.Fprintf(w, "  tag %s=%s\n", k, v.Notes.Tags[k])
			}
			for _, k := range slices.Sorted(mapsKeys(v.Metrics)) {
				fmt.Fprintf(w, "  metric %s = %.6g\n", k, v.Metrics[k])
			}
			if l := v.Lineage; l != nil {
				fmt.Fprintln(w, "  lineage:")
				for _, k := range slices.Sorted(mapsKeys(l.Data)) {
					fmt.Fprintf(w, "    data.%s %s\n", k, l.Data[k])
				}
				fmt.Fprintf(w, "    config %s\n    commit %s by %s\n    requester %s (%s)\n", dash(l.ConfigDigest), dash(l.Commit), dash(l.CommitAuthor), dash(l.Requester), dash(l.Trigger))
				if len(l.Command) > 0 {
					fmt.Fprintf(w, "    command %q\n", l.Command)
				}
				for _, k := range slices.Sorted(mapsKeys(l.Env)) {
					fmt.Fprintf(w, "    env %s=%s\n", k, l.Env[k])
				}
				for _, k := range slices.Sorted(mapsKeys(l.Toolchain)) {
					fmt.Fprintf(w, "    toolchain %s %s\n", k, l.Toolchain[k])
				}
				fmt.Fprintf(w, "    policy revision %s, %d approval(s)\n", dash(l.PolicyRevision), len(l.Approvals))
			}
			return nil
		})
	return c
}

func modelsAlias() *cobra.Command {
	cmd := &cobra.Command{Use: "alias", Short: "Move registry aliases (champion, challenger, any name)"}
	var expect, reason string
	set, _ := modelsSub("set MODEL ALIAS VERSION", "Point ALIAS at VERSION (audited; operator or admin)", cobra.ExactArgs(3),
		func(cmd *cobra.Command, f *modelsFlags, args []string) error {
			for i, kind := range []string{"model", "alias", "version"} {
				if err := validPathName(kind, args[i]); err != nil {
					return err
				}
			}
			cl, err := serverClient(f.server, f.token)
			if err != nil {
				return err
			}
			body := map[string]any{"version": args[2], "reason": reason}
			if cmd.Flags().Changed("expect") {
				body["expect"] = expect
			}
			var a store.Alias
			if _, err := cl.Do(cmd.Context(), "PUT", "/v1/models/"+url.PathEscape(args[0])+"/aliases/"+url.PathEscape(args[1]), body, &a); err != nil {
				return serverErr(err)
			}
			if f.jsonOut {
				return policyWriteJSON(cmd.OutOrStdout(), a)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s of %s now points at %s (was %s)\n", a.Name, a.Model, a.Version, dash(a.Previous))
			return nil
		})
	set.Flags().StringVar(&expect, "expect", "", `move only if the alias points at this version now ("" = unset)`)
	set.Flags().StringVar(&reason, "reason", "", "why, recorded in the audit trail")
	cmd.AddCommand(set)
	return cmd
}

func modelsTag() *cobra.Command {
	var del []string
	var desc string
	c, _ := modelsSub("tag MODEL VERSION [KEY=VALUE...]", "Set or remove a version's tags and description", cobra.MinimumNArgs(2),
		func(cmd *cobra.Command, f *modelsFlags, args []string) error {
			if err := validPathName("model", args[0]); err != nil {
				return err
			}
			if err := validPathName("version", args[1]); err != nil {
				return err
			}
			body := map[string]any{}
			set := map[string]string{}
			for _, kv := range args[2:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return usageErr(fmt.Errorf("tag %q: want KEY=VALUE", kv))
				}
				if err := store.ValidName("tag", k); err != nil {
					return usageErr(err)
				}
				set[k] = v
			}
			if len(set) > 0 {
				body["set_tags"] = set
			}
			if len(del) > 0 {
				body["delete_tags"] = del
			}
			if cmd.Flags().Changed("description") {
				body["description"] = desc
			}
			if len(body) == 0 {
				return usageErr(fmt.Errorf("nothing to change: give KEY=VALUE, --delete KEY or --description"))
			}
			cl, err := serverClient(f.server, f.token)
			if err != nil {
				return err
			}
			var n store.VersionNotes
			if _, err := cl.Do(cmd.Context(), "POST", "/v1/models/"+url.PathEscape(args[0])+"/versions/"+url.PathEscape(args[1])+"/notes", body, &n); err != nil {
				return serverErr(err)
			}
			if f.jsonOut {
				return policyWriteJSON(cmd.OutOrStdout(), n)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %d tag(s)\n", args[0], args[1], len(n.Tags))
			return nil
		})
	c.Flags().StringSliceVar(&del, "delete", nil, "tag keys to remove")
	c.Flags().StringVar(&desc, "description", "", "the version's description")
	return c
}

func modelsDiff() *cobra.Command {
	c, _ := modelsSub("diff MODEL A B", "Evidence and lineage that differ between versions A and B", cobra.ExactArgs(3),
		func(cmd *cobra.Command, f *modelsFlags, args []string) error {
			for i, kind := range []string{"model", "version A", "version B"} {
				if err := validPathName(kind, args[i]); err != nil {
					return err
				}
			}
			cl, err := serverClient(f.server, f.token)
			if err != nil {
				return err
			}
			var d release.VersionDiff
			q := url.Values{"a": {args[1]}, "b": {args[2]}}
			if _, err := cl.Do(cmd.Context(), "GET", "/v1/models/"+url.PathEscape(args[0])+"/diff?"+q.Encode(), nil, &d); err != nil {
				return serverErr(err)
			}
			w := cmd.OutOrStdout()
			if f.jsonOut {
				return policyWriteJSON(w, d)
			}
			num := func(p *float64) string {
				if p == nil {
					return "-"
				}
				return fmt.Sprintf("%.6g", *p)
			}
			fmt.Fprintf(w, "%-40s %12s %12s %12s\n", "METRIC", d.A, d.B, "DELTA")
			for _, m := range d.Metrics {
				fmt.Fprintf(w, "%-40s %12s %12s %12s\n", m.Name, num(m.A), num(m.B), num(m.Delta))
			}
			for _, c := range d.Lineage {
				fmt.Fprintf(w, "lineage %s: %s -> %s\n", c.Field, dash(c.A), dash(c.B))
			}
			return nil
		})
	return c
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return dash(s)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
