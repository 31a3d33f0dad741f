package egress

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAllowlist(t *testing.T) {
	t.Parallel()
	a, err := New([]string{"http://models.internal:9001/v2", "https://Serving.Example.com", "http://127.0.0.1:8500/"})
	require.NoError(t, err)
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://models.internal:9001/v2", true},
		{"http://models.internal:9001/v2/", true},
		{"http://models.internal:9001/v2/models/fraud", true},
		{"http://MODELS.internal:9001/v2/x", true}, // hosts compare case-insensitively
		{"https://serving.example.com", true},
		{"https://serving.example.com:443/a/b", true}, // the scheme's default port
		{"http://127.0.0.1:8500", true},
		{"http://127.0.0.1:8500/anything", true},

		{"http://models.internal:9001/v2x", false},         // segments, not characters
		{"http://models.internal:9001/", false},            // above the prefix
		{"http://models.internal:9001/v2/../admin", false}, // dot segments refused
		{"http://models.internal:9001/v2/./x", false},
		{"http://models.internal:9002/v2", false},  // another port
		{"http://models.internal/v2", false},       // port 80, not 9001
		{"https://models.internal:9001/v2", false}, // another scheme
		{"http://serving.example.com", false},      // http is not https
		{"http://169.254.169.254/latest/meta-data", false},
		{"http://127.0.0.1:8501", false},
		{"http://localhost:8500", false},                          // a name is not resolved to a listed address
		{"http://models.internal:9001@169.254.169.254/v2", false}, // user information
		{"http://u:p@models.internal:9001/v2", false},             // user information
		{"http://models.internal:9001/v2?x=1", false},             // query
		{"http://models.internal:9001/v2#f", false},               // fragment
		{"http://models.internal:9001/v2/%2e%2e/admin", false},    // escaped dots
		{"http://models.internal:9001/v2%2f..%2fadmin", false},    // escaped slash
		{"file:///etc/passwd", false},
		{"gopher://models.internal:9001/v2", false},
		{"models.internal:9001/v2", false},
		{"", false},
		{"http://", false},
		{"http://[::1]:8500/", false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			err := a.Check(tc.url)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestEmptyAllowsNothing(t *testing.T) {
	t.Parallel()
	var nilList *Allowlist
	for _, a := range []*Allowlist{nilList, {}} {
		err := a.Check("http://127.0.0.1:9001")
		require.ErrorContains(t, err, "--allow-endpoint")
	}
	require.Empty(t, nilList.List())
}

func TestBadPrefixesAreNamed(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"ftp://x", "not a url", "http://u:p@h/", "http://h/?q", "/relative"} {
		_, err := New([]string{p})
		require.ErrorContains(t, err, p)
	}
	a, err := New([]string{"http://h:1/a"})
	require.NoError(t, err)
	require.Equal(t, []string{"http://h:1/a"}, a.List())
}

// FuzzCheck: no input panics, and whatever is allowed is a URL under
// the one prefix in scheme, host, port and whole path segments.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"http://h:9001/v2/x", "http://h:9001/v2x", "http://h:9001/v2/../a", "http://a@h:9001/v2", "HTTP://H:9001/v2/%41"} {
		f.Add(s)
	}
	a, err := New([]string{"http://h:9001/v2"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if a.Check(s) != nil {
			return
		}
		p, err := parse(s)
		if err != nil {
			t.Fatalf("allowed but unparsable: %q", s)
		}
		if p.scheme != "http" || p.hostport != "h:9001" || !strings.HasPrefix(p.path, "/v2/") {
			t.Fatalf("allowed outside the prefix: %q -> %+v", s, p)
		}
	})
}
