package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/auth"
)

func init() { register(newServerCmd) }

func newServerCmd() *cobra.Command {
	var (
		o           app.Options
		addr, gwAdr string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the coordinator, API, reviewers' page and gateway",
		Long: `Run the coordinator, the HTTP API (/v1), the reviewers' page (/ui) and
Prometheus metrics (/metrics) on --addr, and the model gateway on
--gateway-addr. State lives in --data-dir (SQLite, audit key, tokens).
On first start it makes tokens for admin, ci and two reviewers: the
tokens file keeps only their SHA-256 digests, and the plain tokens are
written once to initial-tokens.yaml beside it for you to copy and delete.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			o.Logger = log.Default()
			// Secrets from the environment: a flag would show in ps.
			o.ChatOps.SlackSigningSecret = os.Getenv("MODELGATE_SLACK_SIGNING_SECRET")
			o.ChatOps.SlackBotToken = os.Getenv("MODELGATE_SLACK_BOT_TOKEN")
			o.ChatOps.GitHubWebhookSecret = os.Getenv("MODELGATE_GITHUB_WEBHOOK_SECRET")
			s, err := app.Build(ctx, o)
			if err != nil {
				return usageErr(err)
			}
			defer s.Close()
			if s.TokensNew {
				log.Info("created API tokens (admin, ci, two reviewers): copy them from the initial file, then delete it; the tokens file keeps only digests",
					"initial", auth.InitialTokensFile(s.TokensFile), "tokens", s.TokensFile)
			}
			if err := s.Start(ctx); err != nil {
				return err
			}
			go reloadOnHangup(ctx, s)
			g, gctx := errgroup.WithContext(ctx)
			g.Go(func() error {
				return app.Listen(gctx, addr, s.Handler, func(a net.Addr) {
					log.Info("API and reviewers' page", "url", fmt.Sprintf("http://%s/ui/", a), "policy", s.Engine.Revision())
				})
			})
			g.Go(func() error {
				return app.Listen(gctx, gwAdr, s.Gateway, func(a net.Addr) {
					log.Info("gateway", "url", fmt.Sprintf("http://%s", a))
				})
			})
			err = g.Wait()
			log.Info("shutting down; in-flight runs resume on the next start")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "API listen address")
	f.StringVar(&gwAdr, "gateway-addr", "127.0.0.1:8081", "gateway listen address")
	f.StringVar(&o.DataDir, "data-dir", "modelgate-data", "state folder")
	f.StringVar(&o.StoreURL, "store", "", "store: sqlite://PATH or redis://HOST:PORT/DB (default: SQLite in DATA-DIR; see docs/scale-out.md)")
	f.StringVar(&o.PolicyDir, "policies", "", "policy folder (default: the embedded bundle)")
	f.DurationVar(&o.PolicyWatch, "policy-watch", 5*time.Second, "reload the policy folder on change this often (0 = off)")
	f.StringVar(&o.TokensFile, "tokens", "", "tokens file (default DATA-DIR/tokens.yaml); re-read on SIGHUP and when it changes")
	f.DurationVar(&o.TokensWatch, "tokens-watch", 2*time.Second, "check the tokens file for changes this often (0 = only on SIGHUP)")
	f.IntVar(&o.Workers, "workers", 8, "runs processed at once")
	f.StringArrayVar(&o.Workspaces, "workspace", nil, "a server folder submitted runs may read through base_dir (repeatable; default none)")
	f.StringArrayVar(&o.AllowEndpoints, "allow-endpoint", nil, "a URL prefix (scheme, host, port, path) a submitted run may make the server call as candidate.endpoint or deploy.target.upstream (repeatable; default none)")
	f.Int64Var(&o.MaxBlobBytes, "max-blob-bytes", 64<<30, "largest file a client may upload (PUT /v1/blobs)")
	f.BoolVar(&o.UnsafeTrainWithoutSandbox, "unsafe-train-without-sandbox", false, "run train commands without bwrap (they can read everything the server can; audited on every run)")
	f.StringArrayVar(&o.TrainReadOnly, "train-ro-bind", nil, "a host folder sandboxed train commands may read, e.g. a toolchain outside /usr (repeatable)")
	f.DurationVar(&o.ApprovalExpiry, "approval-expiry", 72*time.Hour, "pending approvals expire after this")
	f.StringArrayVar(&o.AuditWitnesses, "audit-witness", nil, "also send every audit checkpoint here: a file path (appended) or an http(s) URL (JSON POST); repeatable")
	addLLMFlags(f, &o.LLM)
	addPromptFlags(f, &o.Prompt)
	addRemoteFlags(f, &o)
	f.StringVar(&o.ChatOps.SlackAPIURL, "slack-api-url", "", "Slack Web API base URL (default Slack's; tests point it at a fake)")
	f.StringVar(&o.ChatOps.SlackTeamID, "slack-team", "", "accept Slack requests only from this workspace id (T…)")
	f.StringVar(&o.ChatOps.PublicURL, "public-url", "", "this server's public address, for links in Slack messages")
	return cmd
}

// reloadOnHangup re-reads the tokens file on every SIGHUP until ctx ends,
// the way daemons reload their configuration.
func reloadOnHangup(ctx context.Context, s *app.Server) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := s.ReloadTokens(ctx); err != nil {
				log.Error("SIGHUP: tokens file does not load; the identities stay as they were", "err", err)
			}
		}
	}
}

// waitCtx bounds a wait with a timeout when one is given.
func waitCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
