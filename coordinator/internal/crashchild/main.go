// Command crashchild is a coordinator in a process of its own, for the
// crash-safety test: the test kills it with SIGKILL at chosen points of
// its runs and starts it again on the same database.
//
// Its agents are real agents that take time and write every invocation,
// and every completed deploy step, to an append-only journal (fsynced),
// so the test can see exactly what ran how often across lives.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

var journalMu sync.Mutex

func journal(path, line string) {
	journalMu.Lock()
	defer journalMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	fmt.Fprintln(f, line)
	_ = f.Sync()
}

type slowAgent struct {
	stage   string
	delay   time.Duration
	journal string
}

func (a slowAgent) Name() string { return a.stage }
func (a slowAgent) Run(ctx context.Context, t agents.Task) (agents.Report, error) {
	journal(a.journal, "start "+t.RunID+" "+a.stage)
	select {
	case <-ctx.Done():
		return agents.Report{}, ctx.Err()
	case <-time.After(a.delay):
	}
	journal(a.journal, "done "+t.RunID+" "+a.stage)
	return agents.Report{Verdict: agents.Pass, Metrics: map[string]float64{a.stage: 1}}, nil
}

// stepDeployer walks four rollout steps, persisting each as done before
// the next, like the real deployment agent.
type stepDeployer struct {
	st      store.Store
	delay   time.Duration
	journal string
}

type rolloutState struct {
	Done int `json:"done"`
}

func (d stepDeployer) Name() string { return "deployment" }
func (d stepDeployer) Run(ctx context.Context, t agents.Task) (agents.Report, error) {
	for {
		r, err := d.st.RolloutGet(ctx, t.RunID)
		if errors.Is(err, store.ErrNotFound) {
			r = store.Rollout{RunID: t.RunID, Model: t.Model, Data: json.RawMessage(`{"done":0}`)}
		} else if err != nil {
			return agents.Report{}, err
		}
		var s rolloutState
		if err := json.Unmarshal(r.Data, &s); err != nil {
			return agents.Report{}, err
		}
		if s.Done >= 4 {
			return agents.Report{Verdict: agents.Pass, Summary: "promoted after 4 steps"}, nil
		}
		select {
		case <-ctx.Done():
			return agents.Report{}, ctx.Err()
		case <-time.After(d.delay):
		}
		s.Done++
		journal(d.journal, fmt.Sprintf("step %s %d", t.RunID, s.Done))
		r.Data, _ = json.Marshal(s)
		if _, err := d.st.RolloutSave(ctx, r); err != nil {
			return agents.Report{}, err
		}
	}
}

type allow struct{}

func (allow) Decide(context.Context, oversight.Input) (oversight.Decision, error) {
	return oversight.Decision{ID: "allow", Allow: true, Risk: "low"}, nil
}

func main() {
	db := flag.String("db", "", "sqlite database")
	jr := flag.String("journal", "", "journal file")
	submit := flag.Int("submit", 0, "runs to submit at start")
	delay := flag.Duration("delay", 150*time.Millisecond, "agent delay")
	// A replica on a shared Redis instead (failover_test.go): -db then
	// only names the folder.
	redisURL := flag.String("redis", "", "redis URL; replaces -db's sqlite")
	prefix := flag.String("prefix", "", "redis key prefix")
	owner := flag.String("owner", "", "lease owner name")
	ttl := flag.Duration("ttl", 0, "run lease TTL")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var (
		st  store.Store
		err error
	)
	own := coordinator.OwnershipOptions{Owner: *owner, TTL: *ttl}
	if *redisURL != "" {
		st, err = redis.Open(ctx, redis.Options{URL: *redisURL, Prefix: *prefix})
		own.ResumeEvery = *ttl / 5
	} else {
		st, err = sqlite.Open(ctx, sqlite.Options{Path: *db})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	as := map[string]agents.Agent{}
	for _, s := range []string{"validate", "test", "scan", "evaluate"} {
		as[s] = slowAgent{stage: s, delay: *delay, journal: *jr}
	}
	as["deploy"] = stepDeployer{st: st, delay: *delay, journal: *jr}
	dir := filepath.Dir(*db)
	c, err := coordinator.New(coordinator.Options{Store: st, Agents: as, Decider: allow{}, DataDir: dir, Workers: 4,
		Ownership: own, Logger: log.NewWithOptions(os.Stderr, log.Options{Level: log.WarnLevel})})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	journal(*jr, fmt.Sprintf("life %d", os.Getpid()))
	if err := c.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{}`), 0o644); err != nil {
		panic(err)
	}
	// A deploy section: without one a run is promoted in the registry only.
	cfg := []byte("model: crash\ntask: binary\ncandidate: {artifact: model.json}\ndeploy: {strategy: canary}\n")
	for i := 0; i < *submit; i++ {
		r, _, err := c.Submit(ctx, coordinator.SubmitParams{Config: cfg, BaseDir: dir, IdempotencyKey: fmt.Sprintf("run-%d", i)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		journal(*jr, "accepted "+r.ID)
	}
	fmt.Println("ready")
	<-ctx.Done()
	c.Stop()
	st.Close()
}
