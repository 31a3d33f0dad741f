package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// BenchmarkServeHTTP measures the gateway's own cost per request (the
// upstreams are loopback servers answering a fixed V2 body).
func BenchmarkServeHTTP(b *testing.B) {
	for _, mode := range []string{"stable", "canary-10", "shadow-100"} {
		b.Run(mode, func(b *testing.B) {
			body := []byte(`{"outputs":[{"name":"predict","shape":[1],"datatype":"FP64","data":[0.25]}]}`)
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = w.Write(body)
			}))
			defer up.Close()
			st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "gw.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			gw, err := New(Options{Routes: st, Logger: log.New(io.Discard), ShadowQueue: 1 << 16})
			if err != nil {
				b.Fatal(err)
			}
			defer gw.Close()
			t := RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: up.URL}, Mode: ModeStable}
			switch mode {
			case "canary-10":
				t.Candidate, t.CandidateWeight, t.Mode = &Backend{Version: "v2", URL: up.URL}, 10, ModeCanary
			case "shadow-100":
				t.Candidate, t.ShadowShare, t.Mode = &Backend{Version: "v2", URL: up.URL}, 1, ModeShadow
			}
			if err := gw.SetRoutes(context.Background(), "m", t); err != nil {
				b.Fatal(err)
			}
			req := EncodeRequest([][]float64{{1.5, 2.25, 0.125, 40}})
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodPost, "/v2/models/m/infer", bytes.NewReader(req))
					w := httptest.NewRecorder()
					gw.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
