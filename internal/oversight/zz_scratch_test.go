package oversight

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"syscall"

	"github.com/charmbracelet/log"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/modelgate/modelgate/agents"
)

func scratchInput() Input {
	metrics := map[string]float64{}
	for _, m := range []string{"roc_auc", "pr_auc", "f1", "recall", "precision", "accuracy"} {
		metrics["candidate."+m] = 0.93
		metrics["production."+m] = 0.92
		metrics["delta."+m] = 0.01
		metrics["delta."+m+".ci_low"] = -0.002
	}
	metrics["candidate.log_loss"] = 0.21
	metrics["production.log_loss"] = 0.22
	metrics["delta.log_loss"] = -0.01
	metrics["candidate.brier"] = 0.06
	metrics["production.brier"] = 0.065
	metrics["delta.brier"] = -0.005
	var findings []agents.Finding
	for i := range 50 {
		findings = append(findings, agents.Finding{
			ID: fmt.Sprintf("f%d", i), Severity: []agents.Severity{agents.Info, agents.Low, agents.Medium}[i%3],
			Code: "drift.column", Message: fmt.Sprintf("column c%d moved a little", i), Subject: fmt.Sprintf("c%d", i),
		})
	}
	return Input{
		Run: RunInfo{ID: "run-1", Trigger: "api", CommitAuthor: "dana"}, Model: "fraud-detector", Environment: "production", Task: "binary",
		Candidate:  agents.Candidate{Version: "v2", Digest: "sha256:" + strings.Repeat("1", 64)},
		Production: &agents.Production{Version: "v1", Digest: "sha256:" + strings.Repeat("2", 64)},
		Reports: map[string]agents.Report{
			"validate": {Agent: "testing", Verdict: agents.Warn, Metrics: map[string]float64{"drift.share": 0.2, "rows": 5000}, Findings: findings[:40], Summary: "minor drift"},
			"test":     {Agent: "testing", Verdict: agents.Pass, Metrics: map[string]float64{}, Findings: findings[40:45], Summary: "behaviour ok"},
			"scan":     {Agent: "security", Verdict: agents.Pass, Metrics: map[string]float64{"files": 1}, Findings: findings[45:], Summary: "safe"},
			"evaluate": {Agent: "evaluation", Verdict: agents.Pass, Metrics: metrics, Findings: []agents.Finding{}, Summary: "better"},
		},
		Deploy: DeployInfo{Strategy: "canary", MaxTrafficShare: 1, Shadow: true}, Requester: Principal{Subject: "ci-bot", Roles: []string{"ci"}},
	}
}

func BenchmarkZParts(b *testing.B) {
	e, err := NewEngine(context.Background(), EngineOptions{Timeout: time.Second, Logger: log.New(io.Discard)})
	if err != nil {
		b.Fatal(err)
	}
	in := scratchInput()
	l := e.current.Load()
	b.Run("marshal+sha", func(b *testing.B) {
		b.ReportAllocs()
		c0 := cpuNow()
		for b.Loop() {
			raw, _ := json.Marshal(in)
			sha256.Sum256(raw)
		}
		b.ReportMetric(float64(cpuNow()-c0)/float64(b.N)/1000, "cpu-µs/op")
	})
	b.Run("inputValue", func(b *testing.B) {
		b.ReportAllocs()
		c0 := cpuNow()
		for b.Loop() {
			inputValue(in)
		}
		b.ReportMetric(float64(cpuNow()-c0)/float64(b.N)/1000, "cpu-µs/op")
	})
	val := inputValue(in)
	b.Run("eval", func(b *testing.B) {
		b.ReportAllocs()
		c0 := cpuNow()
		for b.Loop() {
			l.promotion.Eval(context.Background(), rego.EvalParsedInput(val))
		}
		b.ReportMetric(float64(cpuNow()-c0)/float64(b.N)/1000, "cpu-µs/op")
	})
	rs, _ := l.promotion.Eval(context.Background(), rego.EvalParsedInput(val))
	var d Decision
	if err := parseDecision(rs[0].Expressions[0].Value, &d); err != nil {
		b.Fatal(err)
	}
	b.Run("mask", func(b *testing.B) {
		b.ReportAllocs()
		c0 := cpuNow()
		for b.Loop() {
			Mask(d)
		}
		b.ReportMetric(float64(cpuNow()-c0)/float64(b.N)/1000, "cpu-µs/op")
	})
	b.Run("decide", func(b *testing.B) {
		b.ReportAllocs()
		c0 := cpuNow()
		for b.Loop() {
			e.Decide(context.Background(), in)
		}
		b.ReportMetric(float64(cpuNow()-c0)/float64(b.N)/1000, "cpu-µs/op")
	})
}

func cpuNow() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
