package validation

import "github.com/modelgate/modelgate/tools/drift"

// maxStoredHistograms bounds the histograms kept in Details: the
// reviewers' page draws the drifted columns' histograms from the stored
// report, and a wide table with hundreds of drifted columns must not
// make every report megabytes long (the HTML artifact has them all).
const maxStoredHistograms = 32

// keepDriftedHistograms keeps the histograms of the first drifted
// columns, in the report's column order, and drops the others.
func keepDriftedHistograms(res *drift.Result) {
	kept := 0
	for _, name := range res.Order {
		c := res.Columns[name]
		if c == nil {
			continue
		}
		if c.Drifted && c.Histogram != nil && kept < maxStoredHistograms {
			kept++
			continue
		}
		c.Histogram = nil
	}
	for name, c := range res.Columns { // columns outside Order, if any
		if c != nil && !inOrder(res.Order, name) {
			c.Histogram = nil
		}
	}
}

func inOrder(order []string, name string) bool {
	for _, o := range order {
		if o == name {
			return true
		}
	}
	return false
}
