package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/internal/pipeline"
)

// reportFiles are the per-run HTML reports the page links to: the
// evaluation agent's and the validation agent's drift report.
var reportFiles = map[string]bool{"evaluation.html": true, "drift.html": true}

// htmlReports lists a stage's HTML reports that the page serves.
func htmlReports(rep *pipeline.Report) []string {
	if rep == nil {
		return nil
	}
	var out []string
	for _, a := range rep.Artifacts {
		if name := filepath.Base(a.Path); a.MediaType == "text/html" && reportFiles[name] {
			out = append(out, name)
		}
	}
	return out
}

// reportFile serves a run's evaluation.html or drift.html to whoever may
// read the run. The file is the one the stage's stored report names, and
// only if its bytes still have the digest recorded with it: the URL
// chooses no path, and a file changed on disk since is not shown as the
// evidence reviewers decided on. The reports are self-contained; the
// CSP keeps any script in them from running.
func (s *server) reportFile(w http.ResponseWriter, r *http.Request, sess session) {
	file := r.PathValue("file")
	if !reportFiles[file] {
		s.fail(w, r, &sess, http.StatusNotFound, "There is no such report.")
		return
	}
	run, ok := s.readableRun(w, r, &sess)
	if !ok {
		return
	}
	stages, err := s.o.Store.StageList(r.Context(), run.ID)
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	for _, st := range stages {
		if st.Name != r.PathValue("stage") || len(st.Report) == 0 {
			continue
		}
		rep, err := st.AgentReport()
		if err != nil {
			continue
		}
		for _, a := range rep.Artifacts {
			if filepath.Base(a.Path) != file || a.MediaType != "text/html" {
				continue
			}
			b, err := os.ReadFile(a.Path)
			if err != nil {
				s.fail(w, r, &sess, http.StatusGone, "The report is no longer on the server.")
				return
			}
			sum := sha256.Sum256(b)
			// A report recorded without a digest cannot be checked, so it
			// is not shown either.
			if a.SHA256 == "" || hex.EncodeToString(sum[:]) != a.SHA256 {
				s.fail(w, r, &sess, http.StatusConflict, "The report on disk is not the one the stage recorded (its digest differs); it is not shown.")
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Header().Set("Cache-Control", "private, no-store")
			_, _ = w.Write(b)
			return
		}
	}
	s.fail(w, r, &sess, http.StatusNotFound, "This run has no such report.")
}
