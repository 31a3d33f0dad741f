// Package modelgate holds the repository-wide checks; the product's code
// lives in the folders below.
package modelgate

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/modelgate/modelgate/"

// layers lists the layers from the bottom up, each as path prefixes
// (a prefix ending in "/" covers a folder's subpackages; one without
// covers exactly that package). A package may import its own layer and
// the layers below it, never one above: that is what keeps the tree
// readable from its folder names (README, "Architecture").
var layers = [][]string{
	{"tools/", "policies", "prompts", "internal/browsertest"},
	{"internal/pipeline", "internal/config", "internal/blob", "internal/workspace", "internal/egress", "internal/sandbox"},
	{"internal/store"},
	{"internal/audit", "internal/auth", "internal/lease", "internal/taskq"},
	{"internal/oversight", "internal/approval", "internal/release", "internal/llm"},
	{"agents"}, // what a stage is: Agent and Task (the vocabulary itself is internal/pipeline)
	{"agents/"},
	{"coordinator"},
	{"internal/api", "internal/ui", "internal/chatops"},
	{"internal/app"},
	{"cmd/", "bench/"},
}

func layerOf(pkg string) int {
	best, bestLen := -1, -1
	for i, prefixes := range layers {
		for _, p := range prefixes {
			match := pkg == p || pkg == strings.TrimSuffix(p, "/") ||
				strings.HasPrefix(pkg, strings.TrimSuffix(p, "/")+"/")
			if strings.HasSuffix(p, "/") && pkg == strings.TrimSuffix(p, "/") {
				match = false // "agents/" means the stage packages, not agents itself
			}
			if match && len(p) > bestLen {
				best, bestLen = i, len(p)
			}
		}
	}
	return best
}

// TestImportsPointDownwards fails when a package imports a layer above
// its own, or when a package belongs to no layer.
func TestImportsPointDownwards(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		name := strings.TrimPrefix(p.ImportPath, module)
		if name == "github.com/modelgate/modelgate" {
			continue // this check itself
		}
		own := layerOf(name)
		if own < 0 {
			t.Errorf("%s belongs to no layer; add it to layers in layers_test.go", name)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			checked++
			if l := layerOf(dep); l > own {
				t.Errorf("%s (layer %d, %v) imports %s (layer %d, %v): imports must point downwards", name, own, layers[own], dep, l, layers[l])
			}
		}
	}
	if checked == 0 {
		t.Fatal("no project imports checked: go list found nothing")
	}
}

func TestLayerOf(t *testing.T) {
	t.Parallel()
	for pkg, want := range map[string]int{
		"tools/scan/pickle": 0, "internal/pipeline": 1, "internal/store/sqlite": 2, "agents": 5, "agents/testing": 6,
		"internal/api/client": 8, "internal/app/demo": 9, "cmd/modelgate": 10, "internal/apix": -1,
	} {
		if got := layerOf(pkg); got != want {
			t.Errorf("layerOf(%s) = %d, want %d", pkg, got, want)
		}
	}
}
