package coordinator

import (
	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
)

// pass is one walk over a run's stages: the run as it stands, its parsed
// config, the stages recorded so far, their decoded reports and what
// serves production. Every agent's Task is built from it, by task alone,
// so that no stage sees a different picture of the run than another.
type pass struct {
	c       *Coordinator
	run     store.Run
	cfg     *config.Pipeline
	stages  map[string]store.Stage
	reports map[string]agents.Report
	prod    *agents.Production
	log     *log.Logger
}

func (c *Coordinator) newPass(run store.Run, cfg *config.Pipeline, stages map[string]store.Stage, prod *agents.Production, lg *log.Logger) *pass {
	return &pass{c: c, run: run, cfg: cfg, stages: stages, reports: reportsOf(stages), prod: prod, log: lg}
}

// refresh re-reads the reports after stages finished (stages is shared
// with the stage runners, which record into it).
func (p *pass) refresh() { p.reports = reportsOf(p.stages) }

// task is the one place an agents.Task is built.
func (p *pass) task(stage string) agents.Task {
	r := p.run
	return agents.Task{
		RunID: r.ID, Stage: stage, Model: r.Model, Environment: r.Environment,
		Config: p.cfg, BaseDir: r.BaseDir, WorkDir: p.c.runDir(r.ID),
		Candidate: candidateOf(r), Production: p.prod,
		Logger: p.log.With("stage", stage), Reports: p.reports,
	}
}
