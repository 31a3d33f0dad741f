package app_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/store/redis"
	"github.com/modelgate/modelgate/tools/gateway"
)

// Two gateways on one Redis, reconciling only hourly: a route change
// written through one reaches the other within a second, by the
// announcement alone.
func TestRouteChangeReachesEveryGatewayWithinASecond(t *testing.T) {
	t.Parallel()
	u := os.Getenv("MODELGATE_TEST_REDIS")
	if u == "" {
		if os.Getenv("MODELGATE_CI") == "1" {
			t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
		}
		t.Skip("MODELGATE_TEST_REDIS is not set")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pfx := "mgtest:" + uuid.NewString() + ":"
	var gws []*gateway.Gateway
	for range 3 {
		st, err := redis.Open(ctx, redis.Options{URL: u, Prefix: pfx})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.DeleteAll(context.Background()); st.Close() })
		gw, err := gateway.New(gateway.Options{Routes: st, Logger: log.New(os.Stderr)})
		require.NoError(t, err)
		t.Cleanup(func() { gw.Close() })
		go app.SyncRoutes(ctx, st, gw.Load, time.Hour, log.Default())
		gws = append(gws, gw)
	}
	time.Sleep(100 * time.Millisecond) // subscriptions in place
	start := time.Now()
	require.NoError(t, gws[0].SetRoutes(ctx, "fraud", gateway.RouteTable{Model: "fraud",
		Stable: gateway.Backend{Version: "v7", URL: "http://127.0.0.1:9/v2/models/fraud"}, Mode: gateway.ModeStable}))
	for i, gw := range gws[1:] {
		for {
			if rt, ok := gw.Routes("fraud"); ok && rt.Stable.Version == "v7" {
				break
			}
			require.Less(t, time.Since(start), time.Second, "gateway %d did not see the change within a second", i+1)
			time.Sleep(5 * time.Millisecond)
		}
	}
}
