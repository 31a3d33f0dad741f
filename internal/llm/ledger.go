package llm

import (
	"fmt"
	"sync"
)

// Usage is what a run spent on the LLM. It is stored with the run's
// assistant record and shown in its report.
type Usage struct {
	Calls            int     `json:"calls"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	Budget           int     `json:"budget"`
	// Refused counts calls not made because the budget was spent.
	Refused int `json:"refused,omitempty"`
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Ledger is one run's token account. A run's features (brief, triage,
// ask) share one ledger, so the budget bounds the run, not each call.
type Ledger struct {
	mu sync.Mutex
	u  Usage
}

// NewLedger starts an account with a budget of tokens; spent carries what
// the run used before (a restart, an earlier feature), so that a restart
// does not refill the budget.
func NewLedger(budget int, spent Usage) *Ledger {
	spent.Budget = budget
	return &Ledger{u: spent}
}

// reserve checks that a call estimated at want tokens fits; it is checked
// before the call, so a run never starts a call it cannot pay for.
func (l *Ledger) reserve(want int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.u.Budget > 0 && l.u.Total()+want > l.u.Budget {
		l.u.Refused++
		return fmt.Errorf("%w: %d of %d tokens used, the next call needs about %d", ErrBudget, l.u.Total(), l.u.Budget, want)
	}
	return nil
}

func (l *Ledger) add(u Usage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.u.Calls += u.Calls
	l.u.PromptTokens += u.PromptTokens
	l.u.CompletionTokens += u.CompletionTokens
	l.u.CostUSD += u.CostUSD
}

// Usage returns what the run has spent so far.
func (l *Ledger) Usage() Usage {
	if l == nil {
		return Usage{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.u
}
