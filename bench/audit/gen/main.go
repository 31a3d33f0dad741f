// Command gen fills a modelgate data directory with audit entries through
// the real audit.Trail (group commit on the embedded SQLite store), as
// many goroutines appending at once, and reports the append rate. It is
// the data generator and append benchmark of bench/audit/run.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

func main() {
	dir := flag.String("data-dir", "bench/data/audit", "data directory to fill")
	n := flag.Int("n", 1_000_000, "entries to append")
	workers := flag.Int("workers", 64, "concurrent appenders")
	verbose := flag.Bool("v", false, "debug logs (the trail logs its mean batch size at close)")
	flag.Parse()
	if *verbose {
		log.SetLevel(log.DebugLevel)
	}
	if err := run(*dir, *n, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string, n, workers int) error {
	if n <= 0 || workers <= 0 {
		return fmt.Errorf("-n and -workers must be positive")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, sqlite.FileName)})
	if err != nil {
		return err
	}
	defer st.Close()
	tr, err := audit.Open(ctx, audit.Options{Store: st, KeyPath: filepath.Join(dir, audit.KeyFileName)})
	if err != nil {
		return err
	}
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	cpu0, start := cpuTime(), time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				err := tr.Record(ctx, "stage.finished", fmt.Sprintf("run-%d", i%997), "coordinator",
					map[string]any{"stage": "evaluate", "verdict": "pass", "attempt": 1, "i": i})
				if err != nil {
					errOnce.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	if first != nil {
		return first
	}
	if err := tr.Close(); err != nil {
		return err
	}
	fmt.Printf("appended %d entries with %d goroutines in %.2f s: %.0f appends/s (CPU %.2f s, %.0f appends per CPU-second)\n",
		n, workers, elapsed.Seconds(), float64(n)/elapsed.Seconds(), cpu.Seconds(), float64(n)/cpu.Seconds())
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
