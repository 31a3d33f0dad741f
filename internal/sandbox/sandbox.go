// Package sandbox runs a command a caller supplied (a training script)
// where it can read only the run's inputs and write only its artifact
// folder: inside Debian's bubblewrap (bwrap) on Linux.
//
// A server never runs such a command any other way unless its operator
// said so (--unsafe-train-without-sandbox); `modelgate run --local` runs
// it directly, on the user's own machine.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Params is one command to run.
type Params struct {
	Argv     []string
	Dir      string            // working folder; visible read-only
	ReadOnly []string          // more folders visible read-only (the run's inputs)
	Writable []string          // folders the command may write (its artifact folder)
	Env      map[string]string // the whole environment, besides PATH, HOME, TMPDIR and LANG
	Network  bool              // share the host's network; otherwise only a private loopback
}

// Runner builds the process for a command; the caller starts and waits.
type Runner interface {
	Command(ctx context.Context, p Params) (*exec.Cmd, error)
	// Name says how commands run, for reports and the audit trail.
	Name() string
}

// ErrUnavailable is returned by Find when no sandbox can be used.
var ErrUnavailable = errors.New("no sandbox: bubblewrap (bwrap) is not installed; install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap) or start the server with --unsafe-train-without-sandbox")

// Bwrap runs commands under bubblewrap.
type Bwrap struct {
	Path string
	// System are host folders every command sees read-only (toolchains
	// such as /opt/conda that an operator allows with --train-ro-bind).
	System []string
}

// Find locates bwrap on PATH and checks that it can make namespaces here
// (it cannot in some containers), so a server learns at start, not at
// the first training run, that it cannot train.
func Find(ctx context.Context, system []string) (*Bwrap, error) {
	p, err := exec.LookPath("bwrap")
	if err != nil {
		return nil, ErrUnavailable
	}
	b := &Bwrap{Path: p, System: system}
	cmd, err := b.Command(ctx, Params{Argv: []string{"true"}, Dir: "/"})
	if err != nil {
		return nil, err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bwrap at %s cannot make a sandbox here (%v: %s); allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or start the server with --unsafe-train-without-sandbox",
			p, err, strings.TrimSpace(string(out)))
	}
	return b, nil
}

// Name implements Runner.
func (b *Bwrap) Name() string { return "bwrap" }

// usrMerged are the top-level folders Debian makes symbolic links into /usr.
var usrMerged = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcFiles are what dynamic linking, TLS and time zones need; nothing
// else of /etc (no passwd, no shadow, no machine secrets) is visible.
var etcFiles = []string{"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
	"/etc/ssl/certs", "/etc/ca-certificates", "/etc/localtime", "/etc/mime.types"}

// Command implements Runner. The sandbox has its own mount, PID, IPC,
// UTS, cgroup, user and (unless Network) network namespaces; it sees /usr
// and the folders named in p read-only, p.Writable read-write, a private
// /tmp, and nothing of the server's data folder, home or environment. It
// dies with the server (--die-with-parent) and cannot reach the
// terminal (--new-session, so no TIOCSTI).
func (b *Bwrap) Command(ctx context.Context, p Params) (*exec.Cmd, error) {
	if len(p.Argv) == 0 {
		return nil, errors.New("sandbox: empty command")
	}
	args := []string{"--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL"}
	if p.Network {
		args = append(args, "--share-net")
		etc := append(slices.Clone(etcFiles), "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf")
		args = appendTry(args, etc)
	} else {
		args = appendTry(args, etcFiles)
	}
	args = append(args, "--ro-bind", "/usr", "/usr")
	for _, d := range usrMerged {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(d)
			if err == nil {
				args = append(args, "--symlink", target, d)
			}
		case fi.IsDir():
			args = append(args, "--ro-bind", d, d)
		}
	}
	args = append(args, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp")
	for _, d := range b.System {
		args = append(args, "--ro-bind", d, d)
	}
	ro := append([]string{p.Dir}, p.ReadOnly...)
	for _, d := range ro {
		if d == "" || d == "/" {
			continue
		}
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		args = append(args, "--ro-bind", abs, abs)
	}
	for _, d := range p.Writable {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		args = append(args, "--bind", abs, abs)
	}
	dir := p.Dir
	if dir == "" {
		dir = "/tmp"
	}
	args = append(args, "--chdir", dir, "--clearenv")
	for _, kv := range [][2]string{{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", "/tmp"}, {"TMPDIR", "/tmp"}, {"LANG", "C.UTF-8"}} {
		args = append(args, "--setenv", kv[0], kv[1])
	}
	for _, k := range sortedKeys(p.Env) {
		args = append(args, "--setenv", k, p.Env[k])
	}
	args = append(args, "--")
	args = append(args, p.Argv...)
	return exec.CommandContext(ctx, b.Path, args...), nil
}

func appendTry(args, paths []string) []string {
	for _, f := range paths {
		args = append(args, "--ro-bind-try", f, f)
	}
	return args
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Direct runs commands as the server's own processes, with the server's
// environment plus Env: what `run --local` does on a user's own machine,
// and what --unsafe-train-without-sandbox does on a server.
type Direct struct{}

// Name implements Runner.
func (Direct) Name() string { return "none" }

// Command implements Runner.
func (Direct) Command(ctx context.Context, p Params) (*exec.Cmd, error) {
	if len(p.Argv) == 0 {
		return nil, errors.New("sandbox: empty command")
	}
	cmd := exec.CommandContext(ctx, p.Argv[0], p.Argv[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = os.Environ()
	for _, k := range sortedKeys(p.Env) {
		cmd.Env = append(cmd.Env, k+"="+p.Env[k])
	}
	return cmd, nil
}

// Refuse is the runner of a server that has no sandbox and was not told
// to train without one: every command is refused, saying why.
type Refuse struct{ Err error }

// Name implements Runner.
func (Refuse) Name() string { return "refused" }

// Command implements Runner.
func (r Refuse) Command(context.Context, Params) (*exec.Cmd, error) {
	return nil, fmt.Errorf("training refused: %w", r.Err)
}
