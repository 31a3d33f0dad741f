package work_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/pipeline"
	"github.com/modelgate/modelgate/internal/taskq/work"
)

const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"

func TestBodyCheck(t *testing.T) {
	t.Parallel()
	ok := work.Body{Config: "model: m\n", Inputs: map[string]string{"data/h.csv": d1},
		Candidate: work.Artifact{Name: "model.json", Files: map[string]string{"model.json": d2}}}
	require.NoError(t, ok.Check())
	require.Equal(t, []string{d1, d2}, ok.Digests())
	require.True(t, ok.Names(d1))
	require.False(t, ok.Names("sha256:3333333333333333333333333333333333333333333333333333333333333333"))
	for name, b := range map[string]work.Body{
		"no config":        {},
		"absolute input":   {Config: "x", Inputs: map[string]string{"/etc/passwd": d1}},
		"input leaves":     {Config: "x", Inputs: map[string]string{"../x": d1}},
		"bad digest":       {Config: "x", Inputs: map[string]string{"a.csv": "md5:00"}},
		"candidate leaves": {Config: "x", Candidate: work.Artifact{Name: "..", Files: map[string]string{"../m": d1}}},
		"production file":  {Config: "x", Production: &work.Production{Artifact: work.Artifact{Name: "m", Files: map[string]string{"m/../../x": d1}}}},
		"outside artifact": {Config: "x", Candidate: work.Artifact{Name: "m", Files: map[string]string{"other.json": d1}}},
	} {
		require.Error(t, b.Check(), name)
	}
}

func TestResultCheck(t *testing.T) {
	t.Parallel()
	require.NoError(t, work.Result{Report: &pipeline.Report{Verdict: pipeline.Warn}}.Check())
	require.NoError(t, work.Result{Error: "could not run"}.Check())
	require.Error(t, work.Result{}.Check())
	require.Error(t, work.Result{Report: &pipeline.Report{Verdict: "great"}}.Check())
	require.Error(t, work.Result{Report: &pipeline.Report{Verdict: pipeline.Pass}, Error: "x"}.Check())
}

// FuzzBody: a worker decodes task bodies it did not write; a body that
// passes Check names only files that stay in the worker's folder and
// digests that parse.
func FuzzBody(f *testing.F) {
	seed, _ := json.Marshal(work.Body{Config: "model: m\n", Inputs: map[string]string{"a/b.csv": d1},
		Candidate: work.Artifact{Name: "m", Dir: true, Files: map[string]string{"m/x.json": d2}}})
	f.Add(string(seed))
	f.Add(`{"config":"x","inputs":{"../../etc/passwd":"` + d1 + `"}}`)
	f.Add(`{"config":"x","candidate":{"name":"/","files":{"/x":"` + d1 + `"}}}`)
	f.Fuzz(func(t *testing.T, raw string) {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		var b work.Body
		if dec.Decode(&b) != nil || b.Check() != nil {
			return
		}
		names := map[string]string{}
		for k, v := range b.Inputs {
			names[k] = v
		}
		for _, a := range []*work.Artifact{&b.Candidate, prodOf(b)} {
			if a == nil || len(a.Files) == 0 {
				continue
			}
			if err := blob.CheckName(a.Name); err != nil {
				t.Fatalf("accepted artifact name %q: %v", a.Name, err)
			}
			for k, v := range a.Files {
				if k != a.Name && !strings.HasPrefix(k, a.Name+"/") {
					t.Fatalf("accepted %q outside the artifact %q", k, a.Name)
				}
				names[k] = v
			}
		}
		for k, v := range names {
			if blob.CheckName(k) != nil {
				t.Fatalf("accepted file name %q", k)
			}
			if _, err := blob.ParseDigest(v); err != nil {
				t.Fatalf("accepted digest %q", v)
			}
		}
	})
}

func prodOf(b work.Body) *work.Artifact {
	if b.Production == nil {
		return nil
	}
	return &b.Production.Artifact
}
