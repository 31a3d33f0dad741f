package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

var windowTests = []test{
	{"windows are kept per model and gateway, replaced, listed and deleted", func(ctx context.Context, t *testing.T, s store.Store) {
		all, err := s.WindowList(ctx, "m")
		require.NoError(t, err)
		require.Empty(t, all)
		require.NoError(t, s.WindowPut(ctx, "m", "gw-a", json.RawMessage(`{"n":1}`)))
		require.NoError(t, s.WindowPut(ctx, "m", "gw-a", json.RawMessage(`{"n":2}`)))
		require.NoError(t, s.WindowPut(ctx, "m", "gw-b", json.RawMessage(`{"n":3}`)))
		require.NoError(t, s.WindowPut(ctx, "other", "gw-a", json.RawMessage(`{"n":4}`)))
		all, err = s.WindowList(ctx, "m")
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.JSONEq(t, `{"n":2}`, string(all["gw-a"]))
		require.JSONEq(t, `{"n":3}`, string(all["gw-b"]))
		require.NoError(t, s.WindowDelete(ctx, "m", "gw-a"))
		require.NoError(t, s.WindowDelete(ctx, "m", "gw-missing"))
		all, err = s.WindowList(ctx, "m")
		require.NoError(t, err)
		require.Len(t, all, 1)
		other, err := s.WindowList(ctx, "other")
		require.NoError(t, err)
		require.Len(t, other, 1, "deleting one model's window leaves another's")
	}},
	{"a window without a model, a gateway or valid JSON is refused", func(ctx context.Context, t *testing.T, s store.Store) {
		require.Error(t, s.WindowPut(ctx, "", "gw", json.RawMessage(`{}`)))
		require.Error(t, s.WindowPut(ctx, "m", "", json.RawMessage(`{}`)))
		require.Error(t, s.WindowPut(ctx, "m", "gw", json.RawMessage(`{`)))
		all, err := s.WindowList(ctx, "m")
		require.NoError(t, err)
		require.Empty(t, all)
	}},
}
