package api_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

// TestShortRunIDs: a run's id as printed (first 8 characters) works
// wherever its id does; an id two runs start with is refused naming
// both; an unknown one is 404.
func TestShortRunIDs(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	status, created, _ := b.do(t, "POST", "/v1/runs", ciToken, b.runBody(""), "Idempotency-Key", "short-1")
	require.Equal(t, 201, status, "%v", created)
	id := created["id"].(string)
	// Two more runs sharing a prefix, stored directly: ids are random.
	for _, other := range []string{"abcdef01-1111-4111-8111-111111111111", "abcdef01-2222-4222-8222-222222222222"} {
		_, _, err := b.store.RunCreate(context.Background(), store.RunCreateParams{Run: store.Run{ID: other, Model: "fraud", Environment: "staging", State: store.RunQueued}})
		require.NoError(t, err)
	}
	tests := []struct {
		name   string
		path   string
		status int
		code   string
	}{
		{"full id", "/v1/runs/" + id, 200, ""},
		{"short id", "/v1/runs/" + id[:8], 200, ""},
		{"short id, logs", "/v1/runs/" + id[:8] + "/logs", 200, ""},
		{"ambiguous", "/v1/runs/abcdef01", 409, "ambiguous_id"},
		{"longer, unambiguous", "/v1/runs/abcdef01-2222", 200, ""},
		{"unknown", "/v1/runs/deadbeef", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, body, _ := b.do(t, "GET", tc.path, ciToken, "")
			require.Equal(t, tc.status, status, "%v", body)
			if tc.code != "" {
				e := body["error"].(map[string]any)
				require.Equal(t, tc.code, e["code"])
				require.Contains(t, e["message"], "abcdef01-1111-4111-8111-111111111111")
				require.Contains(t, e["message"], "abcdef01-2222-4222-8222-222222222222")
			}
			if tc.status == 200 && tc.path == "/v1/runs/"+id[:8] {
				require.Equal(t, id, body["id"])
			}
		})
	}
}
