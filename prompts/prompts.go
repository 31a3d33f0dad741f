// Package prompts holds the versioned prompt templates the LLM-assisted
// agents send (text/template, embedded). A template's file is
// NAME.vN.tmpl and defines "system" and "user"; changing what a prompt
// says means adding NAME.vN+1.tmpl, so that every stored output names the
// exact words that produced it (Rendered.ID, e.g. "brief@v1").
package prompts

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// Rendered is a prompt ready to send.
type Rendered struct {
	ID     string `json:"id"` // NAME@vN
	System string `json:"-"`
	User   string `json:"-"`
}

type entry struct {
	version int
	tmpl    *template.Template
}

var latest = map[string]entry{}

var funcs = template.FuncMap{"join": strings.Join}

// The templates are part of the binary; one that does not parse is a
// build defect, caught by the package's tests, so init keeps the first
// error and Render reports it instead of panicking.
var loadErr error

func init() {
	names, err := fs.Glob(files, "*.tmpl")
	if err != nil {
		loadErr = err
		return
	}
	for _, f := range names {
		name, v, err := parseName(f)
		if err != nil {
			loadErr = err
			return
		}
		b, err := files.ReadFile(f)
		if err != nil {
			loadErr = err
			return
		}
		t, err := template.New(f).Funcs(funcs).Option("missingkey=error").Parse(string(b))
		if err != nil {
			loadErr = fmt.Errorf("prompt %s: %w", f, err)
			return
		}
		if cur, ok := latest[name]; !ok || v > cur.version {
			latest[name] = entry{version: v, tmpl: t}
		}
	}
}

func parseName(f string) (string, int, error) {
	parts := strings.Split(strings.TrimSuffix(f, ".tmpl"), ".")
	if len(parts) != 2 || !strings.HasPrefix(parts[1], "v") {
		return "", 0, fmt.Errorf("prompt file %s: want NAME.vN.tmpl", f)
	}
	v, err := strconv.Atoi(parts[1][1:])
	if err != nil || v < 1 {
		return "", 0, fmt.Errorf("prompt file %s: want NAME.vN.tmpl with N ≥ 1", f)
	}
	return parts[0], v, nil
}

// ID names the newest version of a prompt, e.g. "brief@v1".
func ID(name string) string {
	e, ok := latest[name]
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s@v%d", name, e.version)
}

// Render fills the newest version of the named prompt with data.
func Render(name string, data any) (Rendered, error) {
	if loadErr != nil {
		return Rendered{}, loadErr
	}
	e, ok := latest[name]
	if !ok {
		return Rendered{}, fmt.Errorf("no prompt named %q", name)
	}
	var sys, user bytes.Buffer
	if err := e.tmpl.ExecuteTemplate(&sys, "system", data); err != nil {
		return Rendered{}, fmt.Errorf("render prompt %s system: %w", name, err)
	}
	if err := e.tmpl.ExecuteTemplate(&user, "user", data); err != nil {
		return Rendered{}, fmt.Errorf("render prompt %s user: %w", name, err)
	}
	return Rendered{ID: ID(name), System: strings.TrimSpace(sys.String()), User: strings.TrimSpace(user.String())}, nil
}

// Line is one evidence item as prompts show it.
type Line struct {
	ID   string
	Text string
}

// BriefData fills brief.
type BriefData struct {
	RunID, Model, Environment, State string
	Evidence                         []Line
}

// TriageData fills triage.
type TriageData struct {
	RunID, Model, Environment, State, Reason string
	MaxCalls                                 int
	Evidence                                 []Line
}

// AskData fills ask.
type AskData struct {
	Text, Today          string
	Models, Environments []string
}
