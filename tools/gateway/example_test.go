package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/tools/gateway"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "gateway-example")
	defer os.RemoveAll(dir)
	st, _ := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	defer st.Close()

	// Two V2 model servers: stable answers 0.2, the candidate 0.3.
	v2 := func(score string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"outputs":[{"name":"predict","shape":[1],"datatype":"FP64","data":[`+score+`]}]}`)
		}))
	}
	stable, cand := v2("0.2"), v2("0.3")
	defer stable.Close()
	defer cand.Close()

	gw, _ := gateway.New(gateway.Options{Routes: st, StickyHeader: "X-Customer", Logger: log.New(io.Discard)})
	defer gw.Close()
	_ = gw.SetRoutes(ctx, "fraud", gateway.RouteTable{
		Model:           "fraud",
		Stable:          gateway.Backend{Version: "v1", URL: stable.URL},
		Candidate:       &gateway.Backend{Version: "v2", URL: cand.URL},
		CandidateWeight: 100, // everything to the candidate, for a predictable example
		Mode:            gateway.ModeCanary,
	})
	srv := httptest.NewServer(gw)
	defer srv.Close()

	resp, _ := http.Post(srv.URL+"/v2/models/fraud/infer", "application/json",
		strings.NewReader(string(gateway.EncodeRequest([][]float64{{1.5, 2}}))))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out, _ := gateway.ParseOutputs(body, nil)
	fmt.Println(resp.Header.Get("X-Modelgate-Version"), out.Values)

	s := gw.Stats("fraud", "v2", gateway.Mark{})
	fmt.Println("v2 requests:", s.Requests, "errors:", s.Errors)
	// Output:
	// v2 [0.3]
	// v2 requests: 1 errors: 0
}
