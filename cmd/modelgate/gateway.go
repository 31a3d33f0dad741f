package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/store/dial"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/tools/gateway"
)

func init() { register(newGatewayCmd) }

type gatewayFlags struct {
	addr         string
	dataDir      string
	store        string
	maxBody      int64
	timeout      time.Duration
	shadowQueue  int
	stickyHeader string
	reload       time.Duration
	publish      time.Duration
	llmAllow     llm.Allowlist
}

func newGatewayCmd() *cobra.Command {
	var f gatewayFlags
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Serve the inference gateway alone, routing by the route tables in the store",
		Long: "Routes Open Inference Protocol V2 (/v2/models/{model}/infer) and OpenAI chat\n" +
			"completions (/v1/chat/completions) to model versions by the route tables the\n" +
			"deployment agent writes to the store, re-reading them every --reload. Prometheus\n" +
			"metrics are on /metrics. Every --publish it writes its measurement windows\n" +
			"(counts, latency histograms, recent scores) to the store, where the server's\n" +
			"deployment agent merges them with every other gateway's. Prints \"listening on http://ADDR\" once it accepts\n" +
			"connections. Exit 2 when the store cannot be opened or the address is taken.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runGateway(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", ":8080", "address to listen on")
	fl.StringVar(&f.dataDir, "data-dir", "modelgate-data", "folder of the store ("+sqlite.FileName+")")
	fl.StringVar(&f.store, "store", "", "store shared with the server: sqlite://PATH or redis://HOST:PORT/DB (default: SQLite in --data-dir)")
	fl.Int64Var(&f.maxBody, "max-body", 8<<20, "largest request body in bytes (413 above)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "per upstream call")
	fl.IntVar(&f.shadowQueue, "shadow-queue", 1024, "shadow requests waiting before new ones are dropped")
	fl.StringVar(&f.stickyHeader, "sticky-header", "", "request header pinning a client to one version (e.g. X-Customer-Id); random split when empty")
	fl.DurationVar(&f.reload, "reload", 2*time.Second, "how often to re-read the route tables from the store")
	fl.DurationVar(&f.publish, "publish", time.Second, "how often to publish this gateway's measurement windows to the store, where rollouts read them")
	fl.Var(&allowFlag{a: &f.llmAllow}, "llm-endpoint-allow", "OpenAI-compatible base URL that task: llm prompt routes may call (repeatable; default none: prompt routes are not served)")
	return cmd
}

func runGateway(cmd *cobra.Command, f gatewayFlags) error {
	if f.maxBody <= 0 || f.timeout <= 0 || f.shadowQueue <= 0 || f.reload <= 0 || f.publish <= 0 {
		return usageErr(errors.New("--max-body, --timeout, --shadow-queue, --reload and --publish must be positive"))
	}
	if os.Getenv("GOGC") == "" {
		// A proxy's heap is small and short-lived; collecting less often
		// trades a few MB for fewer pauses in the latency tail.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opened, err := dial.Open(ctx, dial.Params{URL: f.store, DataDir: f.dataDir})
	if err != nil {
		return usageErr(err)
	}
	for _, w := range opened.Warnings {
		log.Warn("the store can lose acknowledged writes", "driver", opened.Driver, "why", w)
	}
	st := opened.Store
	defer st.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	gw, err := gateway.New(gateway.Options{Routes: st, MaxBodyBytes: f.maxBody, Timeout: f.timeout, ShadowQueue: f.shadowQueue,
		Registry: reg, StickyHeader: f.stickyHeader, Logger: log.Default(),
		PromptUpstreams: f.llmAllow.Check, PromptAPIKey: os.Getenv(llm.EnvAPIKey)})
	if err != nil {
		return err
	}
	defer gw.Close()
	if err := gw.Load(ctx); err != nil {
		// A bad table is named and skipped; the others serve.
		log.Error("some route tables were not loaded", "err", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/", gw)
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return usageErr(fmt.Errorf("listen on %s: %w", f.addr, err))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "listening on http://%s\n", ln.Addr())
	go publishWindows(ctx, gw, st, f.publish)
	// at once on an announced change (Redis), and every --reload regardless
	go app.SyncRoutes(ctx, st, gw.Load, f.reload, log.Default())
	return app.Serve(ctx, ln, mux, 10*time.Second)
}
