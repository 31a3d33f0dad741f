package assistant

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/llm/llmtest"
)

var known = Known{Models: []string{"fraud-detector", "recommender"}, Environments: []string{"production", "staging"}}

func TestRuleAsk(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sentence string
		want     Command
		wantErr  string
	}{
		{"roll fraud-detector in prod back to last week's version", Command{Action: "rollback", Model: "fraud-detector", Environment: "production"}, ""},
		{"rollback recommender staging", Command{Action: "rollback", Model: "recommender", Environment: "staging"}, ""},
		{"revert fraud-detector", Command{Action: "rollback", Model: "fraud-detector", Environment: "production"}, ""},
		{"abort run 01a24f7b-d17d-7413", Command{Action: "abort", RunID: "01a24f7b-d17d-7413"}, ""},
		{"approve dd827e5e-e10b-4ee3", Command{Action: "approve", ApprovalID: "dd827e5e-e10b-4ee3"}, ""},
		{"roll payments back", Command{}, `model "" is not in the registry`},
		{"what is the weather", Command{Action: "none", Reason: "no command verb (roll back, promote, abort, pause, resume, cancel, approve, reject, show) in the sentence"}, ""},
		{"abort it", Command{}, `run id "" is not in the sentence`},
	} {
		got, err := RuleAsk(tc.sentence, known)
		if tc.wantErr != "" {
			require.ErrorContains(t, err, tc.wantErr, tc.sentence)
			continue
		}
		require.NoError(t, err, tc.sentence)
		require.Equal(t, tc.want, got, tc.sentence)
	}
}

func TestAskWithLLM(t *testing.T) {
	t.Parallel()
	sentence := "please abort run 01a24f7b-d17d-7413, the error rate is up"
	for _, tc := range []struct {
		name       string
		reply      llmtest.Responder
		wantSource string
		want       Command
		note       string
	}{
		{"proposal", llmtest.Call("propose_command", `{"action":"abort","run_id":"01a24f7b-d17d-7413","reason":"error rate"}`),
			SourceLLM, Command{Action: "abort", RunID: "01a24f7b-d17d-7413", Reason: "error rate"}, ""},
		{"an id the operator never wrote", llmtest.Call("propose_command", `{"action":"abort","run_id":"someone-elses-run-42"}`),
			SourceTemplate, Command{Action: "abort", RunID: "01a24f7b-d17d-7413"}, "proposal was refused"},
		{"a direct action call", llmtest.Call("abort", `{"run_id":"01a24f7b-d17d-7413"}`),
			SourceTemplate, Command{Action: "abort", RunID: "01a24f7b-d17d-7413"}, `tried to call "abort"`},
		{"text instead of a call", llmtest.Text("Sure, I aborted it."), SourceTemplate, Command{Action: "abort", RunID: "01a24f7b-d17d-7413"}, "proposed no command"},
		{"endpoint down", llmtest.Status(500, ""), SourceTemplate, Command{Action: "abort", RunID: "01a24f7b-d17d-7413"}, "not available"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t, tc.reply)
			c, err := llm.New(llm.Config{BaseURL: srv.BaseURL(), Model: "m", MaxRetries: -1})
			require.NoError(t, err)
			p, err := Ask(context.Background(), c, sentence, known, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
			require.NoError(t, err)
			require.Equal(t, tc.wantSource, p.Source)
			require.Equal(t, tc.want, p.Command)
			require.Contains(t, p.Note, tc.note)
			require.Equal(t, "propose_command", srv.Requests()[0].Tools[0].Function.Name)
			require.Len(t, srv.Requests()[0].Tools, 1, "the model is offered no action tool")
		})
	}
}

// FuzzParseCommand feeds arbitrary propose_command arguments: the parser
// never panics, and what it accepts names only known models and ids the
// sentence contains.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{`{"action":"rollback","model":"fraud-detector","environment":"prod"}`, `{"action":"abort","run_id":"r-12345678"}`,
		`{"action":"none"}`, `{"action":"ROLLBACK","model":"fraud-detector"}`, `{"action":"drop"}`, `{}`, `null`, `{"action":1}`, `{"action":"approve","approval_id":"../x"}`} {
		f.Add(s, "abort r-12345678 and roll fraud-detector back")
	}
	f.Fuzz(func(t *testing.T, raw, sentence string) {
		c, err := ParseCommand(raw, sentence, known)
		if err != nil {
			return
		}
		switch c.Action {
		case "rollback":
			if c.Model != "fraud-detector" && c.Model != "recommender" {
				t.Fatalf("accepted unknown model %q", c.Model)
			}
		case "promote", "abort", "pause", "resume", "cancel", "show_run":
			if c.RunID == "" || !validID(c.RunID) {
				t.Fatalf("accepted run id %q", c.RunID)
			}
		case "approve", "reject":
			if c.ApprovalID == "" || !validID(c.ApprovalID) {
				t.Fatalf("accepted approval id %q", c.ApprovalID)
			}
		case "none":
		default:
			t.Fatalf("accepted action %q", c.Action)
		}
		_ = Summary(c)
	})
}
