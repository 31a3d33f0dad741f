package redis_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A route change made through one handle is announced to another (a
// gateway process) well within a second.
func TestRouteChangesReachOtherClients(t *testing.T) {
	t.Parallel()
	url := redisURL(t)
	writer := newStore(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var chans []<-chan string
	for range 2 {
		chans = append(chans, writer.RouteChanges(ctx))
	}
	start := time.Now()
	require.NoError(t, writer.RouteSet(ctx, "fraud", json.RawMessage(`{"model":"fraud"}`)))
	for i, ch := range chans {
		select {
		case m := <-ch:
			require.Equal(t, "fraud", m, "gateway %d", i)
		case <-time.After(time.Second):
			t.Fatalf("gateway %d heard nothing within a second", i)
		}
	}
	require.Less(t, time.Since(start), time.Second)
	cancel()
	for _, ch := range chans {
		for range ch { // closed once ctx ends
		}
	}
}
