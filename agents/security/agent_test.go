package security_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/security"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/sign"
)

const fixtures = "../../testdata/scan/fixtures"

type bundle struct {
	dir   string
	agent *security.Agent
}

func setup(t *testing.T, files ...string) bundle {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(fixtures, f))
		require.NoError(t, err)
		p := filepath.Join(dir, "model", filepath.Base(f))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	return bundle{dir: dir, agent: security.New(security.Options{})}
}

func (b bundle) task(sec config.Security) agents.Task {
	return agents.Task{RunID: "r1", Stage: "scan", Model: "m", BaseDir: b.dir, WorkDir: filepath.Join(b.dir, "work"),
		Config:    &config.Pipeline{Model: "m", Security: sec},
		Candidate: agents.Candidate{ArtifactPath: filepath.Join(b.dir, "model")}}
}

func codes(r agents.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Code)
	}
	return out
}

func TestVerdicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []string
		verdict agents.Verdict
		metrics map[string]float64
		code    string
	}{
		{"benign folder", []string{"benign/torch-state-dict.pt", "benign/weights.safetensors", "benign/relu.onnx"}, agents.Pass,
			map[string]float64{"scan.files": 3, "scan.safe": 3, "scan.unsafe": 0, "scan.findings.critical": 0}, ""},
		{"malicious pickle", []string{"benign/weights.safetensors", "malicious/os-system-p4.pkl"}, agents.Fail,
			map[string]float64{"scan.files": 2, "scan.unsafe": 1, "scan.findings.critical": 1}, "scan.pickle.global"},
		{"invalid file", []string{"invalid/truncated.pkl"}, agents.Fail,
			map[string]float64{"scan.invalid": 1}, "scan.invalid.pickle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.files...)
			rep, err := b.agent.Run(context.Background(), b.task(config.Security{}))
			require.NoError(t, err)
			require.Equal(t, "security", rep.Agent)
			require.Equal(t, "scan", rep.Stage)
			require.Equal(t, tt.verdict, rep.Verdict, rep.Summary)
			for k, v := range tt.metrics {
				// A zero expected value must be reported, not absent.
				require.Contains(t, rep.Metrics, k)
				require.Equal(t, v, rep.Metrics[k], k)
			}
			if tt.code != "" {
				require.Contains(t, codes(rep), tt.code)
			}
			require.NotEmpty(t, rep.Summary)
			require.Len(t, rep.Artifacts, 1)
			var det security.Details
			require.NoError(t, json.Unmarshal(rep.Details, &det))
			require.Len(t, det.Scan.Files, len(tt.files))
			require.NotEmpty(t, det.ManifestDigest)
		})
	}
}

func TestFindingEvidence(t *testing.T) {
	t.Parallel()
	b := setup(t, "malicious/torch-malicious.pt")
	rep, err := b.agent.Run(context.Background(), b.task(config.Security{}))
	require.NoError(t, err)
	i := slices.IndexFunc(rep.Findings, func(f agents.Finding) bool { return f.Code == "scan.pickle.global" })
	require.GreaterOrEqual(t, i, 0)
	f := rep.Findings[i]
	require.Equal(t, agents.Critical, f.Severity)
	require.Equal(t, filepath.Join(b.dir, "model", "torch-malicious.pt"), f.Subject)
	require.Equal(t, "posix", f.Evidence["module"])
	require.Equal(t, "system", f.Evidence["name"])
	require.Equal(t, "archive/data.pkl offset 2", f.Evidence["location"])
	require.NotEmpty(t, f.ID)
}

func TestNoArtifact(t *testing.T) {
	t.Parallel()
	rep, err := security.New(security.Options{}).Run(context.Background(), agents.Task{Candidate: agents.Candidate{Endpoint: "http://x"}})
	require.NoError(t, err)
	require.Equal(t, agents.Warn, rep.Verdict)
	require.Equal(t, []string{"scan.no_artifact"}, codes(rep))
}

func TestMissingArtifactIsAnError(t *testing.T) {
	t.Parallel()
	_, err := security.New(security.Options{}).Run(context.Background(), agents.Task{Candidate: agents.Candidate{ArtifactPath: "/nonexistent/model.pt"}})
	require.ErrorContains(t, err, "/nonexistent/model.pt")
}

func TestWarnOnMediumOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	data, err := os.ReadFile("../../testdata/scan/corpus/benign/relu-custom-domain.onnx")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(b.dir, "model"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "model", "m.onnx"), data, 0o644))
	rep, err := b.agent.Run(context.Background(), b.task(config.Security{}))
	require.NoError(t, err)
	require.Equal(t, agents.Warn, rep.Verdict)
	require.Equal(t, 1.0, rep.Metrics["scan.findings.medium"])
}

func TestSignatureAndDigest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		tamper   func(b bundle)
		sign     bool
		digest   string
		verdict  agents.Verdict
		code     string
		verified float64
	}{
		{"signed", nil, true, "", agents.Pass, "scan.signature.ok", 1},
		{"tampered", func(b bundle) {
			os.WriteFile(filepath.Join(b.dir, "model", "extra.json"), []byte(`{}`), 0o644)
		}, true, "", agents.Fail, "scan.signature", 0},
		{"unsigned", nil, false, "", agents.Fail, "scan.signature", 0},
		{"digest mismatch", nil, true, "sha256:" + "00", agents.Fail, "scan.digest", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "benign/weights.safetensors", "benign/relu.onnx")
			key := filepath.Join(b.dir, "release.key")
			pub, err := sign.GenerateKey(key)
			require.NoError(t, err)
			if tt.sign {
				root := filepath.Join(b.dir, "model")
				m, err := sign.Build(context.Background(), sign.BuildParams{Root: root})
				require.NoError(t, err)
				priv, err := sign.LoadPrivateKey(key)
				require.NoError(t, err)
				require.NoError(t, sign.WriteSigned(sign.DefaultSignaturePath(root), sign.Sign(m, priv)))
			}
			if tt.tamper != nil {
				tt.tamper(b)
			}
			task := b.task(config.Security{RequireSignature: true, PublicKey: filepath.Base(pub)})
			task.Candidate.Digest = tt.digest
			rep, err := b.agent.Run(context.Background(), task)
			require.NoError(t, err)
			require.Equal(t, tt.verdict, rep.Verdict, rep.Summary)
			require.Contains(t, codes(rep), tt.code)
			require.Contains(t, rep.Metrics, "scan.signature.verified")
			require.Equal(t, tt.verified, rep.Metrics["scan.signature.verified"])
			require.Equal(t, 1.0, rep.Metrics["scan.signature.required"])
		})
	}
}

func TestConfigAllowAndMaxSize(t *testing.T) {
	t.Parallel()
	b := setup(t)
	data, err := os.ReadFile("../../testdata/scan/corpus/malicious/unknown-module.pkl")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(b.dir, "model"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "model", "m.pkl"), data, 0o644))
	rep, err := b.agent.Run(context.Background(), b.task(config.Security{}))
	require.NoError(t, err)
	require.Equal(t, agents.Fail, rep.Verdict)
	rep, err = b.agent.Run(context.Background(), b.task(config.Security{Allow: []string{"evilpkg.payload.Loader"}}))
	require.NoError(t, err)
	require.Equal(t, agents.Pass, rep.Verdict, rep.Summary)
	require.Contains(t, codes(rep), "scan.allow.extension", "every extension is listed")
	require.Contains(t, codes(rep), "scan.pickle.allowed_by_config", "and every import it let through")
	require.Equal(t, 1.0, rep.Metrics["scan.allow.extensions"])
	_, err = b.agent.Run(context.Background(), b.task(config.Security{Allow: []string{"evilpkg.payload.*"}}))
	require.ErrorContains(t, err, "exact names")
	rep, err = b.agent.Run(context.Background(), b.task(config.Security{Allow: []string{"evilpkg.payload.Loader"}, MaxSize: 10}))
	require.NoError(t, err)
	require.Equal(t, agents.Fail, rep.Verdict)
	require.Contains(t, codes(rep), "scan.size")
}

func TestSecurityConfig(t *testing.T) {
	t.Parallel()
	base := "model: m\ntask: binary\ncandidate: {artifact: m.pt}\n"
	p, err := config.Parse("p.yaml", []byte(base+"security:\n  allow: [mypkg.Model, mypkg.layers.Dense]\n  max_size: 2GiB\n  require_signature: true\n  public_key: k.pub\n"))
	require.NoError(t, err)
	require.Equal(t, config.ByteSize(2<<30), p.Security.MaxSize)
	require.Equal(t, 5000, p.Security.MaxArchiveMembers)
	require.True(t, p.Security.ScanSecrets())
	_, err = config.Parse("p.yaml", []byte(base+"security:\n  require_signature: true\n  allow: [nodot]\n  max_size: lots\n"))
	require.Error(t, err)
	_, err = config.Parse("p.yaml", []byte(base+"security:\n  require_signature: true\n  allow: [nodot]\n"))
	require.ErrorContains(t, err, "security.public_key")
	require.ErrorContains(t, err, "security.allow[0]")
	_, err = config.Parse("p.yaml", []byte(base+"security:\n  allow: ['mypkg.layers.*']\n"))
	require.ErrorContains(t, err, "exact names")
	_, err = config.Parse("p.yaml", []byte(base+"security:\n  max_size: lots\n"))
	require.ErrorContains(t, err, "not a size")
	_, err = config.Parse("p.yaml", []byte(base+"security:\n  signed: true\n"))
	require.ErrorContains(t, err, `unknown key "signed"`)
}

// TestCoordinatorFolderDigest: the coordinator names a folder candidate
// by its signing manifest's digest; the agent must accept it.
func TestCoordinatorFolderDigest(t *testing.T) {
	t.Parallel()
	b := setup(t, "benign/weights.safetensors", "benign/relu.onnx")
	m, err := sign.Build(context.Background(), sign.BuildParams{Root: filepath.Join(b.dir, "model")})
	require.NoError(t, err)
	for _, digest := range []string{m.Digest()} { // one definition of a folder digest now
		task := b.task(config.Security{})
		task.Candidate.Digest = digest
		rep, err := b.agent.Run(context.Background(), task)
		require.NoError(t, err)
		require.Equal(t, agents.Pass, rep.Verdict, rep.Summary)
		require.Equal(t, 1.0, rep.Metrics["scan.digest.match"])
	}
}
