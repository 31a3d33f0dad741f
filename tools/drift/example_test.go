package drift_test

import (
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/drift"
)

func ExampleCompare() {
	var ref, cur strings.Builder
	ref.WriteString("amount,channel\n")
	cur.WriteString("amount,channel\n")
	for i := range 200 {
		fmt.Fprintf(&ref, "%d,%s\n", i%50, []string{"web", "app"}[i%2])
		fmt.Fprintf(&cur, "%d,%s\n", i%50+20, []string{"web", "app"}[i%2])
	}
	r, _ := dataset.ReadCSV(strings.NewReader(ref.String()), "ref.csv", dataset.Options{})
	c, _ := dataset.ReadCSV(strings.NewReader(cur.String()), "cur.csv", dataset.Options{})
	res, err := drift.Compare(r, c, drift.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range res.Order {
		col := res.Columns[name]
		fmt.Printf("%s: %s drifted=%v\n", name, col.Test, col.Drifted)
	}
	fmt.Printf("share %.2f, dataset drift %v\n", res.DriftShare, res.DatasetDrift)
	// Output:
	// amount: ks drifted=true
	// channel: z drifted=false
	// share 0.50, dataset drift true
}
