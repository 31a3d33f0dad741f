package strictyaml

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Position is a place in a YAML file.
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Problem is one thing wrong with a config file.
type Problem struct {
	Field   string   `json:"field"` // dotted path, e.g. "evaluation.thresholds.roc_auc.min"
	Pos     Position `json:"position"`
	Message string   `json:"message"`
}

func (p Problem) String() string {
	if p.Pos.Line > 0 {
		return fmt.Sprintf("line %d column %d: %s: %s", p.Pos.Line, p.Pos.Column, p.Field, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.Field, p.Message)
}

// Error lists every problem found in a config file.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "config"
	}
	fmt.Fprintf(&b, "%s: %d problem(s):", name, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// checkKeys walks a YAML node against the Go type it will be decoded into
// and reports every key that the type does not have. yaml.v3's KnownFields
// stops at the first unknown key and gives no column; this gives all of
// them with positions. It also records where each known field sits so
// that later validation can point at the line of a bad value.
func checkKeys(n *yaml.Node, t reflect.Type, path string, pos map[string]Position, probs *[]Problem) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			checkKeys(c, t, path, pos, probs)
		}
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // a type mismatch; the decoder reports it with its line
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				*probs = append(*probs, Problem{Field: p, Pos: Position{k.Line, k.Column},
					Message: fmt.Sprintf("unknown key %q (known keys: %s)", k.Value, knownKeys(fields))})
				continue
			}
			pos[p] = Position{v.Line, v.Column}
			checkKeys(v, f, p, pos, probs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			pos[p] = Position{v.Line, v.Column}
			checkKeys(v, t.Elem(), p, pos, probs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			pos[p] = Position{c.Line, c.Column}
			checkKeys(c, t.Elem(), p, pos, probs)
		}
	}
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func knownKeys(m map[string]reflect.Type) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Decode decodes YAML into out, failing with an *Error that lists
// every unknown key with its position, or the decoder's type error.
// The returned map gives the position of every field present in the file.
func Decode(file string, data []byte, out any) (map[string]Position, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{File: file, Problems: []Problem{{Field: "(file)", Message: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	pos := map[string]Position{}
	if len(root.Content) == 0 {
		return pos, &Error{File: file, Problems: []Problem{{Field: "(file)", Message: "the file is empty"}}}
	}
	var probs []Problem
	checkKeys(&root, reflect.TypeOf(out), "", pos, &probs)
	// The known keys are decoded even when there are unknown ones (yaml.v3
	// skips what the type lacks): a caller that validates what it got can
	// then list every problem of the file at once, not the unknown keys
	// first and the rest on the next try (see Error.UnknownKeysOnly).
	if err := root.Decode(out); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  ")
		probs = append(probs, Problem{Field: "(file)", Message: strings.ReplaceAll(msg, "\n  ", "; ")})
	}
	if len(probs) > 0 {
		return pos, &Error{File: file, Problems: probs}
	}
	return pos, nil
}

// UnknownKeysOnly reports whether every problem of e is a key that its
// place does not have, so that the value was decoded and can still be
// validated.
func (e *Error) UnknownKeysOnly() bool {
	for _, p := range e.Problems {
		if p.Field == "(file)" {
			return false
		}
	}
	return true
}
