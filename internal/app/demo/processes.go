package demo

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/auth"
)

// The three-process demo (modelgate demo --redis URL): this process is
// the server (coordinator, API, deployment), a `modelgate worker` child
// runs the validate, test, scan and evaluate stages, and a `modelgate
// gateway` child carries the traffic; the three share only Redis (and the
// worker the server's API). The pipeline and what it prints are the
// embedded demo's.

// remoteStages are what the demo's worker runs.
var remoteStages = []string{coordinator.StageValidate, coordinator.StageTest, coordinator.StageScan, coordinator.StageEvaluate}

// splitOptions writes a tokens file with a worker token of its own and
// returns the server options of the three-process demo.
func (d *demo) splitOptions(o *app.Options) error {
	if !d.o.Split {
		return nil
	}
	if !strings.HasPrefix(d.o.StoreURL, "redis://") && !strings.HasPrefix(d.o.StoreURL, "rediss://") {
		return errors.New("the three-process demo needs a Redis store (--redis redis://HOST:PORT/DB)")
	}
	if d.o.ServeBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		d.o.ServeBinary = exe
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	d.workerToken = "worker-" + hex.EncodeToString(b)
	raw, err := yaml.Marshal(auth.File{Tokens: []auth.Token{{Token: d.workerToken, Name: "demo-worker", Roles: []string{"worker"}}}})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(d.dir, "data"), 0o700); err != nil {
		return err
	}
	o.TokensFile = filepath.Join(d.dir, "data", "tokens.yaml")
	if err := os.WriteFile(o.TokensFile, raw, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d.dir, "worker.token"), []byte(d.workerToken+"\n"), 0o600); err != nil {
		return err
	}
	o.StorePrefix = d.o.StorePrefix
	o.Remote = app.RemoteOptions{Stages: remoteStages, ClaimIdle: 30 * time.Second}
	return nil
}

// startProcesses starts the worker and the gateway and points the
// demo's traffic at the gateway.
func (d *demo) startProcesses(ctx context.Context, apiURL string) error {
	if !d.o.Split {
		return nil
	}
	args := []string{"worker", "--server", apiURL, "--token-file", filepath.Join(d.dir, "worker.token"),
		"--agents", "validation,testing,security,evaluation", "--concurrency", "3", "--data-dir", filepath.Join(d.dir, "worker"), "--name", "demo"}
	w, err := d.child(ctx, args, nil)
	if err != nil {
		return err
	}
	gwArgs := []string{"gateway", "--store", d.o.StoreURL, "--addr", "127.0.0.1:0", "--reload", "500ms", "--publish", "250ms",
		"--data-dir", filepath.Join(d.dir, "gateway")}
	if d.o.StorePrefix != "" {
		gwArgs = append(gwArgs, "--store-prefix", d.o.StorePrefix)
	}
	ready := make(chan string, 1)
	g, err := d.child(ctx, gwArgs, ready)
	if err != nil {
		return err
	}
	select {
	case u := <-ready:
		d.gw = u
	case <-time.After(30 * time.Second):
		return errors.New("the gateway process did not start listening within 30 s")
	case <-ctx.Done():
		return ctx.Err()
	}
	d.say("processes: worker (pid %d, stages %s) and gateway (pid %d, %s) share the store %s", w.Process.Pid,
		strings.Join(remoteStages, ","), g.Process.Pid, d.gw, redactURL(d.o.StoreURL))
	return nil
}

// child starts the modelgate binary with args; its logs go to the
// demo's logger's output only with --verbose. When ready is given it
// receives the URL the child prints on "listening on URL".
func (d *demo) child(ctx context.Context, args []string, ready chan<- string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, d.o.ServeBinary, args...)
	cmd.Stderr = io.Discard
	if d.o.ChildLogs != nil {
		cmd.Stderr = d.o.ChildLogs
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok && ready != nil {
				ready <- strings.TrimSpace(u)
				ready = nil
			}
		}
	}()
	d.stops = append(d.stops, func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return cmd, nil
}

// redactURL drops a password from a Redis URL before printing it.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			return u[:i+3] + "…@" + u[at+1:]
		}
	}
	return u
}

func (d *demo) stopChildren() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
	d.stops = nil
}
