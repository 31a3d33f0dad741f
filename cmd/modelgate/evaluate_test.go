package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/model"
)

// These tests call execute, which writes the package-level global flags,
// so they do not run in parallel with each other.

const evalFixture = "../../testdata/eval/binary-breast-cancer"

func evalCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := execute(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPredictCLI(t *testing.T) {
	code, out, errOut := evalCLI("predict", "--model", filepath.Join(evalFixture, "model-candidate.json"), "--data", filepath.Join(evalFixture, "holdout.csv"))
	require.Equal(t, 0, code, errOut)
	want, err := os.ReadFile(filepath.Join(evalFixture, "predictions-candidate.csv"))
	require.NoError(t, err)
	gotLines := strings.Split(strings.TrimSpace(out), "\n")
	wantLines := strings.Split(strings.TrimSpace(string(want)), "\n")
	require.Equal(t, "row,score", gotLines[0])
	require.Len(t, gotLines, len(wantLines))
	for i := 1; i < len(wantLines); i++ {
		var gr, wr int
		var gs, ws float64
		fmt.Sscanf(strings.Replace(gotLines[i], ",", " ", 1), "%d %g", &gr, &gs)
		fmt.Sscanf(strings.Replace(wantLines[i], ",", " ", 1), "%d %g", &wr, &ws)
		require.Equal(t, wr, gr)
		require.InDelta(t, ws, gs, 1e-6, "row %d", i)
	}

	outFile := filepath.Join(t.TempDir(), "p.csv")
	code, _, errOut = evalCLI("predict", "--model", "../../testdata/eval/multiclass-wine/model.json", "--data", "../../testdata/eval/multiclass-wine/holdout.csv", "-o", outFile)
	require.Equal(t, 0, code, errOut)
	b, err := os.ReadFile(outFile)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "row,p0,p1,p2\n0,"))

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", "--data", "x.csv"}, "needs --model and --data"},
		{[]string{"predict", "--model", "nope.json", "--data", "x.csv"}, "no such file"},
		{[]string{"predict", "--model", filepath.Join(evalFixture, "model-candidate.json"), "--data", "../../testdata/eval/multiclass-wine/holdout.csv"}, "data has no column for model feature(s) mean_radius"},
	} {
		code, _, errOut := evalCLI(c.args...)
		require.Equal(t, 2, code)
		require.Contains(t, errOut, c.want)
	}
}

func TestEvaluateCLI(t *testing.T) {
	cand := filepath.Join(evalFixture, "model-candidate.json")
	prod := filepath.Join(evalFixture, "model-production.json")
	hold := filepath.Join(evalFixture, "holdout.csv")
	html := filepath.Join(t.TempDir(), "r.html")
	code, out, errOut := evalCLI("evaluate", "--data", hold, "--label", "target", "--candidate", cand, "--baseline", filepath.Join(evalFixture, "predictions-production.csv"), "--json", "--html", html, "--resamples", "200")
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	for _, k := range []string{"task", "rows", "candidate", "baseline", "comparison", "slices", "verdict"} {
		require.Contains(t, res, k)
	}
	cm := res["candidate"].(map[string]any)["confusion_matrix"].(map[string]any)
	require.Equal(t, map[string]any{"tn": 62.0, "fp": 2.0, "fn": 4.0, "tp": 103.0}, cm)
	auc := res["comparison"].(map[string]any)["roc_auc"].(map[string]any)
	for _, k := range []string{"delta", "ci_low", "ci_high", "p_value", "verdict"} {
		require.Contains(t, auc, k)
	}
	page, err := os.ReadFile(html)
	require.NoError(t, err)
	require.Contains(t, string(page), "Precision-recall curve")

	// A config that demands a gain the candidate cannot show: exit 1.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "modelgate.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`model: fraud
task: binary
data: {holdout: %s}
candidate: {artifact: %s}
evaluation:
  thresholds: {roc_auc: {min_delta: 0.01}, recall: {min: 0.99}}
  resamples: 200
`, mustAbs(t, hold), mustAbs(t, cand))), 0o644))
	code, out, _ = evalCLI("evaluate", "--config", cfg, "--candidate", prod, "--baseline", cand)
	require.Equal(t, 1, code)
	require.Contains(t, out, "verdict: regressed (FAILED)")
	require.Contains(t, out, "roc_auc regressed")
	require.Contains(t, out, "recall 0.9626 is outside its bounds (min 0.99)")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"evaluate", "--data", hold}, "needs --data"},
		{[]string{"evaluate", "--data", hold, "--candidate", cand, "--label", "nope"}, `no label column "nope"`},
		{[]string{"evaluate", "--data", hold, "--candidate", cand, "--label", "mean_area"}, "a binary task needs labels 0 and 1"},
		{[]string{"evaluate", "--data", hold, "--candidate", "../../testdata/eval/regression-diabetes/predictions.csv"}, "171"},
		{[]string{"evaluate", "--data", hold, "--candidate", cand, "--threshold", "2"}, "--threshold 2 must be strictly between 0 and 1"},
		{[]string{"evaluate", "--data", hold, "--candidate", "http://127.0.0.1:1/v2/models/m"}, "connection refused"},
	} {
		code, _, errOut := evalCLI(c.args...)
		require.Equal(t, 2, code, "%v: %s", c.args, errOut)
		require.Contains(t, errOut, c.want)
	}
}

func TestEvaluateCLIAgainstEndpoint(t *testing.T) {
	wine := "../../testdata/eval/multiclass-wine"
	m, err := model.Load(filepath.Join(wine, "model.json"))
	require.NoError(t, err)
	srv := httptest.NewServer(model.NewServer(model.ServerOptions{Models: map[string]model.Predictor{"wine": m}}))
	defer srv.Close()
	// No --task: the endpoint's metadata says multiclass.
	code, out, errOut := evalCLI("evaluate", "--data", filepath.Join(wine, "holdout.csv"), "--candidate", srv.URL+"/v2/models/wine",
		"--baseline", filepath.Join(wine, "model.json"), "--json", "--resamples", "100")
	require.Equal(t, 0, code, errOut)
	var res struct {
		Task       string
		Comparison map[string]struct{ Delta float64 }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Equal(t, "multiclass", res.Task)
	require.Equal(t, 0.0, res.Comparison["log_loss"].Delta)
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	require.NoError(t, err)
	return a
}

// TestServeHelper is the subprocess of TestServeCLI.
func TestServeHelper(t *testing.T) {
	if os.Getenv("MODELGATE_SERVE_HELPER") == "" {
		t.Skip("subprocess of TestServeCLI")
	}
	os.Exit(execute(strings.Fields(os.Getenv("MODELGATE_SERVE_HELPER")), os.Stdout, os.Stderr))
}

func TestServeCLI(t *testing.T) {
	args := "serve --model fraud=" + filepath.Join(evalFixture, "model-candidate.json") + " --addr 127.0.0.1:0"
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeHelper$")
	cmd.Env = append(os.Environ(), "MODELGATE_SERVE_HELPER="+args)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, stderr.String())
	require.True(t, strings.HasPrefix(line, "listening on http://127.0.0.1:"), line)
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))

	body := `{"inputs":[{"name":"x","shape":[1,30],"datatype":"FP64","data":[` + strings.TrimSuffix(strings.Repeat("1,", 30), ",") + `]}]}`
	resp, err := http.Post(url+"/v2/models/fraud/infer", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(b))
	require.Contains(t, string(b), `"name":"predict","shape":[1]`)
	resp, err = http.Get(url + "/metrics")
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(b), `modelgate_model_requests_total{code="200",model="fraud"} 1`)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "graceful shutdown exits 0; stderr: %s", stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	require.Contains(t, stderr.String(), "shutting down")

	code, _, errOut := evalCLI("serve", "--model", "broken")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `--model "broken": want NAME=PATH`)
}
