package gateway

// TakeInputs returns the uniform sample of request rows seen for model
// since the last TakeInputs (or the start) and begins a new one, so that a
// monitor compares each interval's traffic with the reference data rather
// than everything since the gateway started, where a recent shift is
// diluted by old traffic. Inputs still reads without resetting.
func (g *Gateway) TakeInputs(model string) InputSample {
	r := &g.state(model).inputs
	r.mu.Lock()
	defer r.mu.Unlock()
	rows := make([][]float64, 0, len(r.rows))
	for _, row := range r.rows {
		if row != nil {
			rows = append(rows, row) // the reservoir drops them below
		}
	}
	s := InputSample{Features: append([]string(nil), r.features...), Rows: rows, Seen: r.seen.Load()}
	// A request counted by slot() but not yet added when seen is reset
	// lands in the new window with a slot index of the old one: it is
	// dropped or fills a slot, never corrupts the sample.
	r.rows = nil
	r.seen.Store(0)
	return s
}
