// Command evalbench times modelgate's metrics and native inference for
// bench/eval/run.sh: the same data files the peers (scikit-learn,
// xgboost) read, file reading timed apart from computing.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/metrics"
	"github.com/modelgate/modelgate/tools/model"
)

func main() {
	mode := flag.String("mode", "", "gen-scores | gen-features | metrics | infer | read")
	path := flag.String("data", "", "data file")
	n := flag.Int("n", 10_000_000, "rows to generate")
	modelPath := flag.String("model", "", "XGBoost JSON model (infer)")
	threads := flag.Int("threads", 1, "inference goroutines")
	reps := flag.Int("reps", 3, "repetitions; the best is reported")
	digest := flag.Bool("digest", false, "read: print each numeric column's SHA-256 (after the timing)")
	columns := flag.String("columns", "", "read: only these columns (comma-separated), as evaluate reads a holdout")
	flag.Parse()
	var err error
	switch *mode {
	case "gen-scores":
		err = genScores(*path, *n)
	case "gen-features":
		err = genFeatures(*path, *modelPath, *n)
	case "metrics":
		err = benchMetrics(*path, *reps)
	case "infer":
		err = benchInfer(*path, *modelPath, *threads, *reps)
	case "read":
		var cols []string
		if *columns != "" {
			cols = strings.Split(*columns, ",")
		}
		err = benchRead(*path, *digest, cols)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "evalbench:", err)
		os.Exit(1)
	}
}

// genScores writes n (label, score) pairs, ~3% positives, scores from a
// logistic model with overlapping classes.
func genScores(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("label,score\n")
	rng := rand.New(rand.NewPCG(42, 7))
	buf := make([]byte, 0, 32)
	for i := 0; i < n; i++ {
		y := 0
		x := rng.NormFloat64() - 3.5
		if rng.Float64() < 0.03 {
			y = 1
			x += 2.5
		}
		p := 1 / (1 + math.Exp(-x))
		buf = strconv.AppendInt(buf[:0], int64(y), 10)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, p, 'g', 9, 64)
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// genFeatures writes n rows resampled from a holdout (-model names it
// here) with 5% multiplicative noise, so that trees see realistic values.
func genFeatures(out, holdout string, n int) error {
	fr, err := dataset.Read(holdout, dataset.Options{})
	if err != nil {
		return err
	}
	var cols []*dataset.Column
	for _, c := range fr.Columns {
		if c.Name != "target" {
			cols = append(cols, c)
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for j, c := range cols {
		if j > 0 {
			w.WriteByte(',')
		}
		w.WriteString(c.Name)
	}
	w.WriteByte('\n')
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 0, 512)
	for i := 0; i < n; i++ {
		r := rng.IntN(fr.Rows)
		buf = buf[:0]
		for j, c := range cols {
			if j > 0 {
				buf = append(buf, ',')
			}
			if !c.Null[r] {
				buf = strconv.AppendFloat(buf, c.Num[r]*(1+0.05*rng.NormFloat64()), 'g', 7, 64)
			}
		}
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func benchMetrics(path string, reps int) error {
	t0 := time.Now()
	fr, err := dataset.Read(path, dataset.Options{})
	if err != nil {
		return err
	}
	read := time.Since(t0)
	yc, _ := fr.Col("label")
	pc, _ := fr.Col("score")
	best := time.Duration(math.MaxInt64)
	bestCPU := time.Duration(math.MaxInt64)
	var auc, ap, ll, br float64
	for r := 0; r < reps; r++ {
		c := cpuTime()
		t := time.Now()
		d, err := metrics.NewBinaryData(yc.Num, pc.Num)
		if err != nil {
			return err
		}
		auc, ap = d.Ranking(nil)
		ll = d.LogLoss(nil)
		br = d.Brier(nil)
		best = min(best, time.Since(t))
		bestCPU = min(bestCPU, cpuTime()-c)
	}
	fmt.Printf("rows=%d read_s=%.3f compute_s=%.3f compute_cpu_s=%.3f roc_auc=%.12f pr_auc=%.12f log_loss=%.12f brier=%.12f\n",
		fr.Rows, read.Seconds(), best.Seconds(), bestCPU.Seconds(), auc, ap, ll, br)
	return nil
}

func benchInfer(path, modelPath string, threads, reps int) error {
	m, err := model.LoadXGBoostFile(modelPath)
	if err != nil {
		return err
	}
	m.SetThreads(threads)
	t0 := time.Now()
	fr, err := dataset.Read(path, dataset.Options{})
	if err != nil {
		return err
	}
	b, err := model.BatchFromFrame(fr, m.Info().Features)
	if err != nil {
		return err
	}
	read := time.Since(t0)
	best := time.Duration(math.MaxInt64)
	bestCPU := time.Duration(math.MaxInt64)
	var sum float64
	for r := 0; r < reps; r++ {
		c := cpuTime()
		t := time.Now()
		p, err := m.Predict(context.Background(), b)
		if err != nil {
			return err
		}
		best = min(best, time.Since(t))
		bestCPU = min(bestCPU, cpuTime()-c)
		sum = 0
		for _, v := range p.Values {
			sum += v
		}
	}
	fmt.Printf("rows=%d threads=%d read_s=%.3f predict_s=%.4f rows_per_s=%.0f rows_per_cpu_s=%.0f checksum=%.6f\n",
		b.Rows, threads, read.Seconds(), best.Seconds(), float64(b.Rows)/best.Seconds(), float64(b.Rows)/bestCPU.Seconds(), sum)
	return nil
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// measures the work done, where wall time also measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRead reads a CSV whole (the process is what bench/perf times) and
// prints, per numeric column, the SHA-256 of its float64 values (little
// endian, a missing value as numpy's NaN) so that bench/perf/read_peer.py
// can show that pandas read the same numbers bit for bit.
func benchRead(path string, digest bool, cols []string) error {
	t0 := time.Now()
	fr, err := dataset.Read(path, dataset.Options{Columns: cols})
	if err != nil {
		return err
	}
	fmt.Printf("read_s %.3f\n", time.Since(t0).Seconds())
	if !digest {
		return nil
	}
	var b [8]byte
	for _, c := range fr.Columns {
		if c.Type != dataset.TypeNumeric {
			continue
		}
		h := sha256.New()
		for i, v := range c.Num {
			u := math.Float64bits(v)
			if c.Null[i] {
				u = 0x7ff8000000000000
			}
			binary.LittleEndian.PutUint64(b[:], u)
			h.Write(b[:])
		}
		fmt.Printf("%s %x\n", c.Name, h.Sum(nil)[:8])
	}
	fmt.Printf("rows %d\n", fr.Rows)
	return nil
}
