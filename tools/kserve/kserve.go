package kserve

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Params describes the InferenceService to render.
type Params struct {
	Name            string            // metadata.name: the model name, a DNS-1123 label
	Namespace       string            // default "default"
	StorageURI      string            // where KServe fetches the candidate, e.g. s3://models/fraud/v2
	Format          string            // modelFormat.name, e.g. xgboost, sklearn, onnx; default xgboost
	Runtime         string            // optional ServingRuntime name
	ProtocolVersion string            // default v2 (Open Inference Protocol)
	Version         string            // recorded as label modelgate.io/version
	RunID           string            // recorded as annotation modelgate.io/run-id
	Labels          map[string]string // extra labels
	MinReplicas     *int
	MaxReplicas     int
	CPU, Memory     string // resource requests (and limits), e.g. "1", "2Gi"
}

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate reports the first field that KServe would reject.
func (p Params) Validate() error {
	if len(p.Name) == 0 || len(p.Name) > 63 || !dns1123.MatchString(p.Name) {
		return fmt.Errorf("kserve: name %q must be a DNS-1123 label (lower-case letters, digits, '-', at most 63)", p.Name)
	}
	if p.Namespace != "" && !dns1123.MatchString(p.Namespace) {
		return fmt.Errorf("kserve: namespace %q must be a DNS-1123 label", p.Namespace)
	}
	if p.StorageURI == "" {
		return errors.New("kserve: storage URI is required (e.g. s3://bucket/model/v2, gs://..., pvc://...)")
	}
	if p.MinReplicas != nil && *p.MinReplicas < 0 {
		return errors.New("kserve: min replicas must not be negative")
	}
	if p.MaxReplicas < 0 || (p.MinReplicas != nil && p.MaxReplicas > 0 && p.MaxReplicas < *p.MinReplicas) {
		return errors.New("kserve: max replicas must be at least min replicas")
	}
	return nil
}

// yaml.v3 keeps struct field order, which keeps the output stable for
// golden files and for diffs in a GitOps repository.
type manifest struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   metadata `yaml:"metadata"`
	Spec       spec     `yaml:"spec"`
}

type metadata struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type spec struct {
	Predictor predictor `yaml:"predictor"`
}

type predictor struct {
	MinReplicas          *int      `yaml:"minReplicas,omitempty"`
	MaxReplicas          int       `yaml:"maxReplicas,omitempty"`
	CanaryTrafficPercent *int      `yaml:"canaryTrafficPercent,omitempty"`
	Model                modelSpec `yaml:"model"`
}

type modelSpec struct {
	ModelFormat     format     `yaml:"modelFormat"`
	Runtime         string     `yaml:"runtime,omitempty"`
	ProtocolVersion string     `yaml:"protocolVersion"`
	StorageURI      string     `yaml:"storageUri"`
	Resources       *resources `yaml:"resources,omitempty"`
}

type format struct {
	Name string `yaml:"name"`
}

type resources struct {
	Requests map[string]string `yaml:"requests"`
	Limits   map[string]string `yaml:"limits"`
}

// Render writes one InferenceService. canary is the percent of traffic
// for the new revision: 1..99 is a canary step, 100 promotes (the field
// is left out), 0 rolls back to the previous revision.
func Render(p Params, canary int) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if canary < 0 || canary > 100 {
		return nil, fmt.Errorf("kserve: canary traffic percent must be 0..100, got %d", canary)
	}
	m := manifest{APIVersion: "serving.kserve.io/v1beta1", Kind: "InferenceService"}
	m.Metadata = metadata{Name: p.Name, Namespace: p.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "modelgate"}}
	if m.Metadata.Namespace == "" {
		m.Metadata.Namespace = "default"
	}
	for k, v := range p.Labels {
		m.Metadata.Labels[k] = v
	}
	if p.Version != "" {
		m.Metadata.Labels["modelgate.io/version"] = p.Version
	}
	if p.RunID != "" {
		m.Metadata.Annotations = map[string]string{"modelgate.io/run-id": p.RunID}
	}
	pr := &m.Spec.Predictor
	pr.MinReplicas, pr.MaxReplicas = p.MinReplicas, p.MaxReplicas
	if canary < 100 {
		c := canary
		pr.CanaryTrafficPercent = &c
	}
	pr.Model = modelSpec{ModelFormat: format{Name: p.Format}, Runtime: p.Runtime, ProtocolVersion: p.ProtocolVersion, StorageURI: p.StorageURI}
	if pr.Model.ModelFormat.Name == "" {
		pr.Model.ModelFormat.Name = "xgboost"
	}
	if pr.Model.ProtocolVersion == "" {
		pr.Model.ProtocolVersion = "v2"
	}
	if p.CPU != "" || p.Memory != "" {
		r := map[string]string{}
		if p.CPU != "" {
			r["cpu"] = p.CPU
		}
		if p.Memory != "" {
			r["memory"] = p.Memory
		}
		pr.Model.Resources = &resources{Requests: r, Limits: r}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("kserve: encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// Step is one rendered manifest of a rollout.
type Step struct {
	Name    string // file name: 01-canary-5.yaml, 05-promote.yaml, rollback.yaml
	Percent int
	YAML    []byte
}

// RenderRollout writes a manifest per canary step, ending with the
// promotion, plus the rollback manifest. Steps must increase within 1..100;
// a final 100 is the promotion itself.
func RenderRollout(p Params, steps []int) ([]Step, error) {
	if !sort.IntsAreSorted(steps) {
		return nil, fmt.Errorf("kserve: canary steps must increase, got %v", steps)
	}
	var out []Step
	prev := 0
	for _, s := range steps {
		if s < 1 || s > 100 || s == prev {
			return nil, fmt.Errorf("kserve: canary step %d must be 1..100 and not repeat", s)
		}
		prev = s
		if s == 100 {
			break
		}
		y, err := Render(p, s)
		if err != nil {
			return nil, err
		}
		out = append(out, Step{Name: fmt.Sprintf("%02d-canary-%d.yaml", len(out)+1, s), Percent: s, YAML: y})
	}
	y, err := Render(p, 100)
	if err != nil {
		return nil, err
	}
	out = append(out, Step{Name: fmt.Sprintf("%02d-promote.yaml", len(out)+1), Percent: 100, YAML: y})
	y, err = Render(p, 0)
	if err != nil {
		return nil, err
	}
	out = append(out, Step{Name: "rollback.yaml", Percent: 0, YAML: y})
	return out, nil
}

// Join writes steps as one multi-document YAML stream.
func Join(steps []Step) []byte {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(&b, "# %s\n", s.Name)
		b.Write(s.YAML)
	}
	return []byte(b.String())
}
