package llm

import (
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"3", 3 * time.Second, true}, {"0.5", 500 * time.Millisecond, true}, {"86400", maxRetryAfter, true},
		{"-1", 0, false}, {"soon", 0, false}, {"Wed, 21 Oct 2015 07:28:00 GMT", 0, true}, {"1e9", 0, false},
	} {
		got, ok := retryAfter(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzRetryAfter: a server's Retry-After header never yields a negative
// wait or one beyond the cap.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "3", "0.5", "86400", "-1", "NaN", "Inf", "1e308", "Wed, 21 Oct 2015 07:28:00 GMT", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := retryAfter(s)
		if ok && (d < 0 || d > maxRetryAfter) {
			t.Fatalf("retryAfter(%q) = %v", s, d)
		}
	})
}
