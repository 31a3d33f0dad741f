package app

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/agents/deployment"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/chatops"
	"github.com/modelgate/modelgate/internal/chatops/monitor"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
)

// ChatOps configures the Slack app and the other outside triggers. The
// secrets come from the environment (cmd reads them), never from flags
// that a process listing would show.
type ChatOps struct {
	SlackSigningSecret string // MODELGATE_SLACK_SIGNING_SECRET
	SlackBotToken      string // MODELGATE_SLACK_BOT_TOKEN
	SlackAPIURL        string // --slack-api-url (tests)
	SlackTeamID        string // --slack-team
	PublicURL          string // --public-url, for "Open in modelgate" links
	// GitHubWebhookSecret is MODELGATE_GITHUB_WEBHOOK_SECRET.
	GitHubWebhookSecret string
	// Leader says whether this process runs the schedules and the
	// production monitor (one leader among replicas); nil = always.
	Leader func() bool
	// Now is the clock of the schedules and the monitor (tests); nil = time.Now.
	Now func() time.Time
	// TriggerEvery is how often the schedules and the monitor look for
	// work; 0 = 15 s; negative = never by themselves (tests call Tick).
	TriggerEvery time.Duration
}

// buildChatOps assembles chat-ops and the settings endpoints and returns
// what the API mounts.
func (s *Server) buildChatOps(o Options) (map[string]http.Handler, error) {
	authorize := func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
		return s.Engine.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
	}
	s.Starter = &triggers.Starter{Store: s.Store, Blobs: s.Blobs, Submit: s.Coordinator, InputsDir: filepath.Join(o.DataDir, "inputs")}
	var rollouts chatops.Rollouts
	if s.Deployer != nil {
		rollouts = rolloutControls{s.Deployer}
	}
	chat, err := chatops.New(chatops.Options{
		SigningSecret: o.ChatOps.SlackSigningSecret, BotToken: o.ChatOps.SlackBotToken, APIURL: o.ChatOps.SlackAPIURL,
		TeamID: o.ChatOps.SlackTeamID, PublicURL: o.ChatOps.PublicURL,
		Store: s.Store, Identities: s.Auth, Authorize: authorize, Approvals: s.Queue, Rollouts: rollouts,
		Starter: s.Starter, Recorder: s.Trail, Logger: o.Logger.WithPrefix("slack"),
		Ask: s.askFunc(),
	})
	if err != nil {
		return nil, err
	}
	s.Chat = chat
	s.closers = append([]func() error{chat.Close}, s.closers...)
	settings := triggers.Handler(triggers.HandlerOptions{Store: s.Store, Blobs: s.Blobs, Auth: s.Auth, Authorize: authorize,
		Recorder: s.Trail, Logger: o.Logger})
	hook, err := triggers.NewGitHubHook(triggers.GitHubOptions{Secret: o.ChatOps.GitHubWebhookSecret, Store: s.Store,
		Starter: s.Starter, Identities: s.Auth, Recorder: s.Trail, Logger: o.Logger.WithPrefix("github")})
	if err != nil {
		return nil, err
	}
	if err := s.buildLoops(o); err != nil {
		return nil, err
	}
	status := monitor.Handler(monitor.HandlerOptions{Store: s.Store, Auth: s.Auth, Authorize: authorize, Logger: o.Logger})
	return map[string]http.Handler{
		"GET /v1/models/{name}/monitor":  status,
		"POST /webhooks/github":          hook,
		"POST /slack/commands":           chat,
		"POST /slack/interactions":       chat,
		"GET /v1/models/{name}/settings": settings,
		"PUT /v1/models/{name}/settings": settings,
	}, nil
}

// startChatOps begins the loops that notify and trigger.
func (s *Server) startChatOps(ctx context.Context) {
	if s.Chat != nil {
		go s.Chat.WatchRuns(ctx, s.Coordinator)
	}
	if s.o.ChatOps.TriggerEvery < 0 {
		return
	}
	if s.Scheduler != nil {
		go s.Scheduler.Run(ctx)
	}
	if s.Monitor != nil {
		go s.Monitor.Run(ctx)
	}
}

// buildLoops assembles the scheduler and the production monitor.
func (s *Server) buildLoops(o Options) error {
	c := o.ChatOps
	if c.Leader == nil && s.Leader != nil {
		// One replica runs the cron ticks and the monitor: the one that
		// holds the scheduler lease (scaleout.go). Ticks are claimed in
		// the store as well, so a handover never starts a tick twice.
		c.Leader = s.IsLeader
	}
	var err error
	s.Scheduler, err = triggers.NewScheduler(triggers.SchedulerOptions{Store: s.Store, Starter: s.Starter, Recorder: s.Trail,
		Logger: o.Logger.WithPrefix("schedule"), Now: c.Now, Leader: c.Leader, Every: max(c.TriggerEvery, 0)})
	if err != nil {
		return err
	}
	mo := monitor.Options{Store: s.Store, Gateway: s.Gateway, Starter: s.Starter, Recorder: s.Trail,
		Logger: o.Logger.WithPrefix("monitor"), Now: c.Now, Leader: c.Leader, Every: max(c.TriggerEvery, 0), Registerer: s.Registry,
		Notify: func(ctx context.Context, a monitor.Alert) {
			if s.Chat == nil {
				return
			}
			text := fmt.Sprintf("Drift alert: %s %s in %s: %s. Action %s: %s.", a.Model, a.Version, a.Environment,
				strings.Join(a.Reasons, "; "), a.Action, a.Result)
			s.Chat.Notify(ctx, chatops.Notification{Event: triggers.EventDriftAlert, Model: a.Model, Environment: a.Environment,
				RunID: a.RunID, Text: text})
		}}
	if s.Deployer != nil {
		mo.Rollback = func(ctx context.Context, model, env, actor, reason string) (store.Production, error) {
			return s.Deployer.Rollback(ctx, deployment.RollbackParams{Model: model, Environment: env, Actor: actor, Reason: reason})
		}
	}
	s.Monitor, err = monitor.New(mo)
	return err
}

// askFunc proposes a command for a sentence from Slack, as POST /v1/ask
// does, with the same per-identity bound on LLM sentences.
func (s *Server) askFunc() func(ctx context.Context, p auth.Principal, sentence string) (assistant.Proposal, error) {
	var limit assistant.AskLimiter
	return func(ctx context.Context, p auth.Principal, sentence string) (assistant.Proposal, error) {
		var c *llm.Client
		if s.Assistant != nil {
			c = s.Assistant.LLM()
		}
		if c != nil {
			if wait, ok := limit.Take(p.Subject, time.Now()); !ok {
				return assistant.Proposal{}, fmt.Errorf("%s asked %d sentences in the last minute, the most one identity may send to the LLM; try again in %s",
					p.Subject, assistant.AskPerMinute, wait.Round(time.Second))
			}
		}
		known, err := assistant.KnownFrom(ctx, s.Store)
		if err != nil {
			return assistant.Proposal{}, err
		}
		return assistant.Ask(ctx, c, sentence, known, time.Now())
	}
}
