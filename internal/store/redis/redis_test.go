package redis_test

import (
	"context"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
	"github.com/modelgate/modelgate/internal/store/storetest"
)

// redisURL is the test Redis from MODELGATE_TEST_REDIS; the tests skip
// without one, except in CI (MODELGATE_CI=1), where that is a failure.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("MODELGATE_TEST_REDIS")
	if u == "" {
		if os.Getenv("MODELGATE_CI") == "1" {
			t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1: CI must run the redis driver's tests")
		}
		t.Skip("MODELGATE_TEST_REDIS is not set (e.g. redis://127.0.0.1:6379/0)")
	}
	return u
}

func newStore(t *testing.T, url string) *redis.Store {
	t.Helper()
	ctx := context.Background()
	s, err := redis.Open(ctx, redis.Options{URL: url, Prefix: "mgtest:" + uuid.NewString() + ":"})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, s.DeleteAll(context.Background()))
		require.NoError(t, s.Close())
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	url := redisURL(t)
	storetest.Exercise(t, func(t *testing.T) store.Store { return newStore(t, url) })
}

func TestOpenRejectsBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := redis.Open(ctx, redis.Options{})
	require.ErrorContains(t, err, "URL is required")
	_, err = redis.Open(ctx, redis.Options{URL: "http://nope"})
	require.ErrorContains(t, err, "parse URL")
	_, err = redis.Open(ctx, redis.Options{URL: "redis://127.0.0.1:1/0"})
	require.ErrorContains(t, err, "ping redis")
}
