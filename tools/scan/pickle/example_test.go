package pickle_test

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/tools/scan/pickle"
)

func ExampleWalk() {
	// protocol 4: "os" and "system" are memoised, then fetched back for
	// STACK_GLOBAL — the walker resolves what is really imported.
	p := "\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93\x8c\x04echo\x85R."
	res, err := pickle.Walk(bufio.NewReader(strings.NewReader(p)), 0, pickle.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range res.Findings {
		fmt.Println(f.Severity, f.Module+"."+f.Name, "at offset", f.Offset)
	}
	// Output:
	// critical os.system at offset 20
}

func ExamplePolicy_Check() {
	pol := pickle.MustPolicy(pickle.PolicyParams{Allow: []string{"mypkg.models.Ranker"}})
	for _, g := range [][2]string{{"mypkg.models", "Ranker"}, {"collections", "OrderedDict"}, {"builtins", "eval"},
		{"sklearn.datasets._base", "urlretrieve"}, {"other", "Thing"}} {
		sev, _ := pol.Check(g[0], g[1])
		fmt.Println(g[0]+"."+g[1], sev)
	}
	// Output:
	// mypkg.models.Ranker info
	// collections.OrderedDict info
	// builtins.eval critical
	// sklearn.datasets._base.urlretrieve critical
	// other.Thing high
}
