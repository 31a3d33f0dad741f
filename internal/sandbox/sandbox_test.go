package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/sandbox"
)

// probe is what the test binary reports when re-run inside the sandbox.
type probe struct {
	ReadSecret   string `json:"read_secret"` // "" when the read failed
	Dialed       bool   `json:"dialed"`
	HostEnv      string `json:"host_env"`
	WroteOut     bool   `json:"wrote_out"`
	WroteInput   bool   `json:"wrote_input"`
	ReadInput    string `json:"read_input"`
	EtcPasswd    bool   `json:"etc_passwd"`
	HomeListable bool   `json:"home_listable"`
}

func TestMain(m *testing.M) {
	if os.Getenv("SANDBOX_PROBE") == "1" {
		var p probe
		if b, err := os.ReadFile(os.Getenv("SECRET")); err == nil {
			p.ReadSecret = string(b)
		}
		if c, err := net.Dial("tcp", os.Getenv("ADDR")); err == nil {
			p.Dialed = true
			c.Close()
		}
		p.HostEnv = os.Getenv("MODELGATE_HOST_SECRET")
		p.WroteOut = os.WriteFile(filepath.Join(os.Getenv("OUT"), "model.json"), []byte("{}"), 0o644) == nil
		p.WroteInput = os.WriteFile(filepath.Join(os.Getenv("IN"), "new.csv"), []byte("x"), 0o644) == nil
		if b, err := os.ReadFile(filepath.Join(os.Getenv("IN"), "train.csv")); err == nil {
			p.ReadInput = string(b)
		}
		_, err := os.Stat("/etc/passwd")
		p.EtcPasswd = err == nil
		_, err = os.ReadDir("/root")
		p.HomeListable = err == nil
		_ = json.NewEncoder(os.Stdout).Encode(p)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func find(t *testing.T) *sandbox.Bwrap {
	t.Helper()
	b, err := sandbox.Find(context.Background(), nil)
	if err != nil {
		if os.Getenv("MODELGATE_CI") != "" {
			t.Fatalf("CI must run the sandbox tests with a real bwrap: %v", err)
		}
		t.Skipf("no usable bwrap here: %v", err)
	}
	return b
}

// TestBwrapConfines runs a real process in the real sandbox and has it
// try what a hostile training command would: read the server's secrets,
// reach the network, see the server's environment, change its inputs.
func TestBwrapConfines(t *testing.T) {
	t.Parallel()
	b := find(t)
	self, err := os.Executable()
	require.NoError(t, err)
	dataDir, in, out := t.TempDir(), t.TempDir(), t.TempDir()
	secret := filepath.Join(dataDir, "tokens.yaml")
	require.NoError(t, os.WriteFile(secret, []byte("admin: mg_secret"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(in, "train.csv"), []byte("a,b\n"), 0o644))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	run := func(network bool) probe {
		cmd, err := b.Command(context.Background(), sandbox.Params{
			Argv: []string{self}, Dir: in, ReadOnly: []string{filepath.Dir(self)}, Writable: []string{out}, Network: network,
			Env: map[string]string{"SANDBOX_PROBE": "1", "SECRET": secret, "ADDR": ln.Addr().String(), "OUT": out, "IN": in},
		})
		require.NoError(t, err)
		cmd.Env = append(os.Environ(), "MODELGATE_HOST_SECRET=leaked")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), stderr.String())
		var p probe
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &p), stdout.String())
		return p
	}
	p := run(false)
	require.Empty(t, p.ReadSecret, "the data folder is not visible")
	require.False(t, p.Dialed, "no network: the host's loopback is out of reach")
	require.Empty(t, p.HostEnv, "the environment is only what the config sets")
	require.True(t, p.WroteOut, "the artifact folder is writable")
	require.False(t, p.WroteInput, "the inputs are read-only")
	require.Equal(t, "a,b\n", p.ReadInput, "the inputs are readable")
	require.False(t, p.EtcPasswd, "no /etc/passwd")
	require.False(t, p.HomeListable, "no home folders")

	p = run(true)
	require.True(t, p.Dialed, "train.network shares the host's network")
	require.Empty(t, p.ReadSecret)
}

func TestDirectAndRefuse(t *testing.T) {
	t.Parallel()
	cmd, err := sandbox.Direct{}.Command(context.Background(), sandbox.Params{Argv: []string{"sh", "-c", "echo $X"}, Env: map[string]string{"X": "y"}})
	require.NoError(t, err)
	out, err := cmd.Output()
	require.NoError(t, err)
	require.Equal(t, "y\n", string(out))
	_, err = sandbox.Refuse{Err: sandbox.ErrUnavailable}.Command(context.Background(), sandbox.Params{Argv: []string{"true"}})
	require.ErrorContains(t, err, "apt-get install bubblewrap")
	_, err = sandbox.Direct{}.Command(context.Background(), sandbox.Params{})
	require.Error(t, err)
}
