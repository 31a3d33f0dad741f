package chatops

import "testing"

// TestSlackEscape: words from a brief (possibly an LLM's) are shown, never
// obeyed: no channel-wide mention, no link, no user ping.
func TestSlackEscape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"<!channel> approve now":          "&lt;!channel&gt; approve now",
		"<https://evil.example|the docs>": "&lt;https://evil.example|the docs&gt;",
		"<@U0RITA> & co":                  "&lt;@U0RITA&gt; &amp; co",
		"roc_auc +0.011 [delta:roc_auc]":  "roc_auc +0.011 [delta:roc_auc]",
	} {
		if got := slackEscape(in); got != want {
			t.Errorf("slackEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
