package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

// shortIDTests: an id as printed (its first 8 characters) finds its run
// or approval when one id starts with it; several make it ambiguous,
// none not found, and what cannot start an id is refused, not matched as
// a pattern.
var shortIDTests = []test{
	{"resolve short ids", func(ctx context.Context, t *testing.T, s store.Store) {
		runIDs := []string{
			"c9f0e39e-1111-4111-8111-111111111111",
			"ab12cd34-2222-4222-8222-222222222222",
			"ab12cd34-3333-4333-8333-333333333333",
		}
		for i, id := range runIDs {
			mustCreateRun(ctx, t, s, id)
			_, err := s.ApprovalCreate(ctx, newApproval("a"+id[1:], id, base.Add(time.Duration(i)*time.Second)))
			require.NoError(t, err)
		}
		type resolver func(context.Context, string) (string, error)
		kinds := []struct {
			name    string
			resolve resolver
			ids     []string
		}{
			{"run", s.RunResolveID, runIDs},
			{"approval", s.ApprovalResolveID, []string{"a" + runIDs[0][1:], "a" + runIDs[1][1:], "a" + runIDs[2][1:]}},
		}
		for _, k := range kinds {
			cases := []struct {
				prefix string
				want   string
				err    error
			}{
				{k.ids[0][:8], k.ids[0], nil},
				{k.ids[0], k.ids[0], nil},
				{k.ids[1][:8], "", store.ErrAmbiguous},
				{k.ids[1][:13], k.ids[1], nil},
				{"deadbeef", "", store.ErrNotFound},
				{"ab1", "", store.ErrNotFound},  // too short to resolve
				{"ab1*", "", store.ErrNotFound}, // a pattern, not a prefix
				{"ab1%", "", store.ErrNotFound},
			}
			for _, tc := range cases {
				got, err := k.resolve(ctx, tc.prefix)
				if tc.err != nil {
					require.ErrorIs(t, err, tc.err, "%s %q", k.name, tc.prefix)
					continue
				}
				require.NoError(t, err, "%s %q", k.name, tc.prefix)
				require.Equal(t, tc.want, got, "%s %q", k.name, tc.prefix)
			}
			_, err := k.resolve(ctx, k.ids[1][:8])
			var ae *store.AmbiguousError
			require.True(t, errors.As(err, &ae))
			require.ElementsMatch(t, k.ids[1:], ae.Matches, "the error names the candidates")
		}
	}},
}
