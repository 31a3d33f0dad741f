// Command benchtool supports bench/gateway/run.sh: a fixed-answer V2
// upstream (optionally slow), and a writer of route tables into a
// modelgate store, so the gateway under test runs as the real
// `modelgate gateway` process.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/tools/gateway"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool upstream|routes [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "upstream":
		err = upstream(os.Args[2:])
	case "routes":
		err = routes(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(2)
	}
}

// upstream answers every infer with the same small V2 body, after delay.
func upstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:19001", "listen address")
	delay := fs.Duration("delay", 0, "time to wait before answering")
	score := fs.Float64("score", 0.25, "score to answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body := []byte(fmt.Sprintf(`{"model_name":"fraud","outputs":[{"name":"predict","shape":[1],"datatype":"FP64","data":[%g]}]}`, *score))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if *delay > 0 {
			time.Sleep(*delay)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	return http.ListenAndServe(*addr, h)
}

// routes writes one model's route table into the store of a data dir.
func routes(args []string) error {
	fs := flag.NewFlagSet("routes", flag.ContinueOnError)
	dir := fs.String("data-dir", "", "modelgate data dir")
	model := fs.String("model", "fraud", "model")
	stable := fs.String("stable", "", "stable URL")
	cand := fs.String("candidate", "", "candidate URL")
	weight := fs.Int("weight", 0, "candidate percent")
	shadow := fs.Float64("shadow", 0, "shadow share")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t := gateway.RouteTable{Model: *model, Stable: gateway.Backend{Version: "v1", URL: *stable}, Mode: gateway.ModeStable}
	if *cand != "" {
		t.Candidate = &gateway.Backend{Version: "v2", URL: *cand}
		t.CandidateWeight, t.ShadowShare = *weight, *shadow
		t.Mode = gateway.ModeCanary
		if *weight == 0 {
			t.Mode = gateway.ModeShadow
		}
	}
	if err := t.Validate(); err != nil {
		return err
	}
	raw, _ := json.Marshal(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(*dir, sqlite.FileName)})
	if err != nil {
		return err
	}
	defer st.Close()
	return st.RouteSet(ctx, *model, raw)
}
