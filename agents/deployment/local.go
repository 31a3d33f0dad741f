package deployment

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// localServer is a `modelgate serve` process this agent started.
type localServer struct {
	cmd     *exec.Cmd
	url     string
	dir     string // the verified copy it serves, removed with it
	done    chan struct{}
	exitErr error
	once    sync.Once
}

func (s *localServer) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *localServer) stop() {
	s.once.Do(func() {
		if s.cmd.Process != nil && !s.exited() {
			_ = s.cmd.Process.Kill()
		}
		<-s.done
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	})
}

// crashError is a candidate's model server dying during its rollout.
type crashError struct {
	version string
	exit    string
}

func (e *crashError) Error() string {
	return fmt.Sprintf("the candidate's model server (version %s) exited during the rollout: %s", e.version, e.exit)
}

func serverKey(model, version string) string { return model + "@" + version }

// ensureLocal returns the URL of a running server for b, starting one if
// needed. When live is set, a server of ours that has exited is a crash
// (returned as *crashError) rather than restarted: a candidate that dies
// under traffic must not be quietly revived.
func (a *Agent) ensureLocal(ctx context.Context, model string, b Backend, live bool) (string, error) {
	key := serverKey(model, b.Version)
	a.mu.Lock()
	s, ok := a.servers[key]
	a.mu.Unlock()
	if ok && !s.exited() {
		return s.url, nil
	}
	if ok && live {
		var exit string
		if s.exitErr != nil {
			exit = s.exitErr.Error()
		} else {
			exit = "exited with status 0"
		}
		return "", &crashError{version: b.Version, exit: exit}
	}
	if ok {
		a.log.Warn("model server exited; restarting", "model", model, "version", b.Version, "err", s.exitErr)
	}
	s, err := a.startLocal(ctx, model, b)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.servers[key] = s
	a.mu.Unlock()
	return s.url, nil
}

func (a *Agent) stopLocal(model, version string) {
	key := serverKey(model, version)
	a.mu.Lock()
	s, ok := a.servers[key]
	delete(a.servers, key)
	a.mu.Unlock()
	if ok {
		s.stop()
	}
}

// startLocal runs `modelgate serve --model MODEL=PATH --addr 127.0.0.1:0`
// and waits for the "listening on URL" line it prints on stdout.
func (a *Agent) startLocal(ctx context.Context, model string, b Backend) (*localServer, error) {
	if a.opts.ServeBinary == "" {
		return nil, errors.New("deployment: no modelgate binary to serve local models (Options.ServeBinary)")
	}
	if b.Artifact == "" {
		return nil, fmt.Errorf("deployment: version %s of %s is local but has no artifact path", b.Version, model)
	}
	path, err := a.verifiedCopy(ctx, model, b)
	if err != nil {
		return nil, err
	}
	// Not tied to ctx: the server outlives this tick and this run (it
	// serves production after promotion); Close or stopLocal end it.
	cmd := exec.Command(a.opts.ServeBinary, "serve", "--model", model+"="+path, "--addr", "127.0.0.1:0")
	setParentDeath(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr tail
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(filepath.Dir(path))
		return nil, fmt.Errorf("start model server for %s %s: %w", model, b.Version, err)
	}
	s := &localServer{cmd: cmd, done: make(chan struct{}), dir: filepath.Dir(path)}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if rest, ok := strings.CutPrefix(line, "listening on "); ok && !sent {
				urlc <- strings.TrimSpace(rest)
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		s.exitErr = cmd.Wait()
		close(s.done)
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case u := <-urlc:
		s.url = u
		a.log.Info("model server started", "model", model, "version", b.Version, "url", u, "pid", cmd.Process.Pid)
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("model server for %s %s (%s) exited before listening: %v: %s", model, b.Version, b.Artifact, s.exitErr, stderr.String())
	case <-timer.C:
		s.stop()
		return nil, fmt.Errorf("model server for %s %s did not print its address within 30s: %s", model, b.Version, stderr.String())
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

// tail keeps the last 4 KiB written to it, for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
