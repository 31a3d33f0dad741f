package assistant

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/modelgate/modelgate/internal/store"
)

// KnownFrom lists the registry's models and the environments they serve in.
func KnownFrom(ctx context.Context, st store.Store) (Known, error) {
	models, err := st.ModelList(ctx)
	if err != nil {
		return Known{}, err
	}
	envs := map[string]bool{"production": true, "staging": true}
	for _, m := range models {
		prods, err := st.ProductionList(ctx, m)
		if err != nil {
			return Known{}, err
		}
		for _, p := range prods {
			envs[p.Environment] = true
		}
	}
	return Known{Models: models, Environments: slices.Sorted(maps.Keys(envs))}, nil
}

// AskPerMinute bounds the sentences one identity may have the LLM read:
// each costs tokens the operator pays for, and the weakest token (read)
// may ask, so without a bound any reader could spend the budget.
const AskPerMinute = 20

// AskLimiter is a sliding one-minute window per subject.
type AskLimiter struct {
	mu   sync.Mutex
	seen map[string][]time.Time
}

// Take records an ask at now, or says how long until one is allowed.
func (l *AskLimiter) Take(subject string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string][]time.Time{}
	}
	cut := now.Add(-time.Minute)
	ts := l.seen[subject]
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	ts = ts[i:]
	if len(ts) >= AskPerMinute {
		l.seen[subject] = ts
		return ts[0].Sub(cut), false
	}
	l.seen[subject] = append(ts, now)
	return 0, true
}
