package triggers

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSettingsNameWhatIsWrong: a schedule or a GitHub trigger without a
// pipeline to run is refused with its field named; bad webhooks are named
// too.
func TestSettingsNameWhatIsWrong(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		s    Settings
		want []string
	}{
		"schedule": {s: Settings{Schedule: &Schedule{Cron: "@daily"}}, want: []string{"schedule: needs pipeline"}},
		"github":   {s: Settings{GitHub: &GitHub{Repository: "acme/fraud", Paths: []string{"train/"}}}, want: []string{"github: needs pipeline"}},
		"often":    {s: Settings{Schedule: &Schedule{Cron: "@every 10s"}}, want: []string{"schedule.cron: ticks 10s apart"}},
		"webhook":  {s: Settings{Webhooks: []Webhook{{URL: "ftp://x", Secret: "short"}}}, want: []string{"webhooks[0].url", "webhooks[0].secret"}},
		"model":    {s: Settings{Model: "other"}, want: []string{"does not match the model in the path"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.s.Validate(context.Background(), "fraud", nil)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
	ok := Settings{Slack: &Slack{Channel: "C123"}, Webhooks: []Webhook{{URL: "https://hooks.example/x", Secret: "0123456789abcdef"}}}
	require.NoError(t, ok.Validate(context.Background(), "fraud", nil))
}
