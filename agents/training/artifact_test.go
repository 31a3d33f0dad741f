package training_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/training"
	"github.com/modelgate/modelgate/internal/config"
)

// TestArtifactIsOnlyWhatTheCommandWrote tries to make the training agent
// take a file of the server (or of a worker) as the trained artifact: the
// artifact is hashed, linked and uploaded outside the sandbox, so a name
// with "..", an absolute name, or a symbolic link the command leaves must
// be refused before anything reads through it.
func TestArtifactIsOnlyWhatTheCommandWrote(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	secret := filepath.Join(outside, "model.json")
	if err := os.WriteFile(secret, []byte("server secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		script   string // run with $0 = {{.ArtifactDir}}, $1 = the outside folder
		artifact string
		want     string // "" = accepted
	}{
		{"a file it wrote", `echo m > "$0/model.json"`, "", ""},
		{"a file in a subfolder it wrote", `mkdir "$0/sub" && echo m > "$0/sub/model.json"`, "sub/model.json", ""},
		{"dot-dot name", `echo m > "$0/model.json"`, "../../" + filepath.Base(outside) + "/model.json", "must be a relative path inside"},
		{"absolute name", `echo m > "$0/model.json"`, secret, "must be a relative path inside"},
		{"symlink to a server file", `ln -s "$1/model.json" "$0/model.json"`, "", "not a regular file"},
		{"symlinked folder", `ln -s "$1" "$0/sub"`, "sub/model.json", "wrote no artifact"},
		{"a folder", `mkdir "$0/model.json"`, "", "not a regular file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := &config.Pipeline{Train: &config.Train{
				Command: []string{"sh", "-c", c.script, "{{.ArtifactDir}}", outside}, Artifact: c.artifact,
			}}
			rep, err := training.New(training.Options{}).Run(context.Background(),
				agents.Task{RunID: "r1", Config: cfg, BaseDir: dir, WorkDir: dir, Attempt: 1})
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused a file the command wrote: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("took %s as the artifact (%s)", c.artifact, rep.Summary)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}
