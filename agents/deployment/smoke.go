package deployment

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/gateway"
)

// SmokeResult is the candidate's first contact with requests.
type SmokeResult struct {
	Passed   bool    `json:"passed"`
	Requests int     `json:"requests"`
	Rows     int     `json:"rows"`
	Message  string  `json:"message"`
	P99Ms    float64 `json:"latency_p99_ms"`
}

type smokeParams struct {
	task  agents.Task
	state *State
	rows  int
}

// smoke sends up to p.rows holdout rows (without missing values) one by
// one to the candidate and checks each answer: status 200, a V2 body, one
// finite output per row, and for binary models a probability in [0, 1].
// Without holdout data it checks the server's readiness endpoint only.
func (a *Agent) smoke(ctx context.Context, p smokeParams) SmokeResult {
	st := p.state
	var rows [][]float64
	if h := p.task.Config.Data.Holdout; h != "" && p.rows > 0 {
		var err error
		_, rows, err = ReadRows(p.task.Path(h), p.task.Config.Label, p.rows)
		if err != nil {
			return SmokeResult{Message: err.Error()}
		}
	}
	send := func(method, path string, body []byte) (int, []byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if st.Stable == nil {
			// No route exists before a first version is promoted: call it directly.
			u := strings.TrimRight(st.Candidate.URL, "/") + path
			req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
			if err != nil {
				return 0, nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := noRedirects.Do(req)
			if err != nil {
				return 0, nil, err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
			return resp.StatusCode, b, err
		}
		// Through the gateway's preview route, in process: the same code
		// path clients will take, without opening a port.
		req := httptest.NewRequestWithContext(ctx, method, "/preview"+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.opts.Gateway.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes(), nil
	}
	name := st.Candidate.Name
	if name == "" {
		name = st.Model
	}
	if st.Stable != nil {
		name = st.Model // the gateway maps the route's model to the server's name
	}
	base := "/v2/models/" + url.PathEscape(name)
	if len(rows) == 0 {
		code, body, err := send(http.MethodGet, base+"/ready", nil)
		if err != nil || code != http.StatusOK {
			return SmokeResult{Requests: 1, Message: fmt.Sprintf("GET %s/ready: status %d %v %s", base, code, err, snippet(body))}
		}
		return SmokeResult{Passed: true, Requests: 1, Message: "no holdout data; the model server reports ready"}
	}
	binary := p.task.Config.Task == "binary"
	var lat []float64
	res := SmokeResult{}
	for i, row := range rows {
		t0 := time.Now()
		code, body, err := send(http.MethodPost, base+"/infer", gateway.EncodeRequest([][]float64{row}))
		lat = append(lat, float64(time.Since(t0).Microseconds())/1e3)
		res.Requests++
		if err != nil || code != http.StatusOK {
			res.Message = fmt.Sprintf("holdout row %d: status %d %v %s", i+1, code, errText(err), snippet(body))
			return res
		}
		out, err := gateway.ParseOutputs(body, nil)
		if err != nil {
			res.Message = fmt.Sprintf("holdout row %d: %v: %s", i+1, err, snippet(body))
			return res
		}
		if out.Rows != 1 {
			res.Message = fmt.Sprintf("holdout row %d: %d output rows for 1 input row", i+1, out.Rows)
			return res
		}
		for _, v := range out.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				res.Message = fmt.Sprintf("holdout row %d: non-finite output %v", i+1, v)
				return res
			}
			if binary && out.Width == 1 && (v < 0 || v > 1) {
				res.Message = fmt.Sprintf("holdout row %d: binary score %v is not a probability in [0, 1]", i+1, v)
				return res
			}
		}
		res.Rows++
	}
	slices.Sort(lat)
	res.P99Ms = gateway.Quantile(lat, 0.99)
	res.Passed = true
	res.Message = fmt.Sprintf("%d holdout rows answered with finite scores", res.Rows)
	return res
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// ReadRows reads up to max rows of a CSV file's numeric feature columns
// (every column but label), skipping rows with an empty field. Errors
// name the file, row and column.
func ReadRows(path, label string, max int) (features []string, rows [][]float64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read holdout: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("read holdout %s: header: %w", path, err)
	}
	keep := make([]int, 0, len(header))
	for i, h := range header {
		if h != label {
			keep = append(keep, i)
			features = append(features, h)
		}
	}
	for line := 2; max <= 0 || len(rows) < max; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read holdout %s: %w", path, err)
		}
		row := make([]float64, 0, len(keep))
		missing := false
		for _, i := range keep {
			s := strings.TrimSpace(rec[i])
			if s == "" {
				missing = true
				break
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("read holdout %s: row %d column %q: %q is not a number", path, line, header[i], s)
			}
			row = append(row, v)
		}
		if !missing {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return features, nil, fmt.Errorf("read holdout %s: no complete rows", path)
	}
	return features, rows, nil
}
