package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/tools/model"
)

func init() { register(newServeCmd) }

type serveFlags struct {
	models   []string
	addr     string
	maxBody  int64
	shutdown time.Duration
	missing  string
	allTrees bool
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve --model NAME=PATH... [--addr 127.0.0.1:9001]",
		Short: "Serve XGBoost JSON models over the Open Inference Protocol V2",
		Long: `Serve XGBoost JSON models over the Open Inference Protocol V2 (KServe, Triton,
MLServer): GET /v2/health/live, /v2/health/ready, /v2/models/NAME,
/v2/models/NAME/ready; POST /v2/models/NAME/infer; Prometheus metrics at
/metrics. The first stdout line is "listening on http://ADDR" (use --addr
127.0.0.1:0 for a free port). SIGINT or SIGTERM drain in-flight requests and stop.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, cmd, f)
		},
	}
	cmd.Flags().StringArrayVar(&f.models, "model", nil, "NAME=PATH of an XGBoost JSON model (repeatable; required)")
	cmd.Flags().StringVar(&f.addr, "addr", "127.0.0.1:9001", "address to listen on")
	cmd.Flags().Int64Var(&f.maxBody, "max-body-bytes", model.DefaultMaxBodyBytes, "largest request body accepted")
	cmd.Flags().DurationVar(&f.shutdown, "shutdown-timeout", 10*time.Second, "how long to drain in-flight requests on SIGINT/SIGTERM")
	addInferenceFlags(cmd, &f.missing, &f.allTrees)
	return cmd
}

func runServe(ctx context.Context, cmd *cobra.Command, f serveFlags) error {
	if len(f.models) == 0 {
		return usageErr(errors.New("serve needs at least one --model NAME=PATH"))
	}
	models := map[string]model.Predictor{}
	digests := map[string]string{}
	for _, spec := range f.models {
		name, path, ok := strings.Cut(spec, "=")
		if !ok || name == "" || path == "" {
			return usageErr(fmt.Errorf("--model %q: want NAME=PATH", spec))
		}
		if strings.ContainsAny(name, "/?#% ") {
			return usageErr(fmt.Errorf("--model %q: the name is used in URLs; no '/', '?', '#', '%%' or spaces", spec))
		}
		if _, dup := models[name]; dup {
			return usageErr(fmt.Errorf("--model %q: name %s given twice", spec, name))
		}
		m, digest, err := loadServed(path)
		if err != nil {
			return usageErr(err)
		}
		if err := applyInferenceFlags(m, f.missing, f.allTrees); err != nil {
			return usageErr(err)
		}
		log.Info("model loaded", "name", name, "path", path, "inference", m.Inference())
		// Listed as the model's version in its V2 metadata, so that a
		// modelgate deployment can check this server holds the approved bytes.
		models[name], digests[name] = m, digest
	}
	if f.maxBody <= 0 {
		return usageErr(fmt.Errorf("--max-body-bytes must be positive"))
	}
	if os.Getenv("GOGC") == "" {
		// The live heap of a model server is tiny (models, pools), so the
		// default GOGC=100 collects every few MB: dozens of cycles a
		// second at 20k req/s. Trading ~tens of MB for 4x fewer cycles
		// takes GC work off the request path.
		debug.SetGCPercent(400)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", model.NewServer(model.ServerOptions{Models: models, MaxBodyBytes: f.maxBody, Registry: reg, Version: version, Versions: digests}))
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return usageErr(fmt.Errorf("listen on %s: %w", f.addr, err))
	}
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	sort.Strings(names)
	url := "http://" + ln.Addr().String()
	// The deployment agent starts this as a subprocess and reads this
	// line to learn the port; it must be the first line on stdout.
	fmt.Fprintf(cmd.OutOrStdout(), "listening on %s\n", url)
	log.Info("model server listening", "addr", url, "models", strings.Join(names, ","))
	// The shutdown line is written when the signal arrives, before the
	// drain; "stopped" waits for it, so the two are always both there and
	// in order (an AfterFunc cancelled by a fast drain lost the first).
	announced := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		log.Info("shutting down: draining in-flight requests", "timeout", f.shutdown)
		close(announced)
	})
	err = app.Serve(ctx, ln, mux, f.shutdown)
	if !stop() {
		<-announced
	}
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// loadServed reads a model file once and returns it with the digest of
// exactly the bytes parsed, reported as the model's version in its V2
// metadata: a modelgate deployment checks an upstream by it, and hashing
// the file a second time could name bytes other than the ones served.
func loadServed(path string) (*model.XGBoost, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("open model: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	m, err := model.LoadXGBoost(io.TeeReader(f, h), strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return m, "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
