package app

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/chatops"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/oversight"
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
	return map[string]http.Handler{
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
