package model

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

type serverSetup struct {
	srv      *httptest.Server
	reg      *prometheus.Registry
	cand     Predictor
	holdout  Batch
	multi    Predictor
	multiBat Batch
}

func setupServer(t *testing.T) serverSetup {
	t.Helper()
	cand, err := Load(filepath.Join(testdata, "binary-breast-cancer", "model-candidate.json"))
	require.NoError(t, err)
	wine, err := Load(filepath.Join(testdata, "multiclass-wine", "model.json"))
	require.NoError(t, err)
	hold := readFrame(t, filepath.Join(testdata, "binary-breast-cancer", "holdout.csv"))
	b, err := BatchFromFrame(hold, cand.Info().Features)
	require.NoError(t, err)
	wh := readFrame(t, filepath.Join(testdata, "multiclass-wine", "holdout.csv"))
	wb, err := BatchFromFrame(wh, wine.Info().Features)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	h := NewServer(ServerOptions{Models: map[string]Predictor{"fraud": cand, "wine": wine}, Registry: reg, MaxBodyBytes: 1 << 20})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return serverSetup{srv: srv, reg: reg, cand: cand, holdout: b, multi: wine, multiBat: wb}
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServerEndpoints(t *testing.T) {
	t.Parallel()
	s := setupServer(t)
	for _, c := range []struct{ path, want string }{
		{"/v2/health/live", `{"live":true}`},
		{"/v2/health/ready", `{"ready":true}`},
		{"/v2/models/fraud/ready", `{"name":"fraud","ready":true}`},
	} {
		resp, err := http.Get(s.srv.URL + c.path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.JSONEq(t, c.want, string(b))
	}
	resp, err := http.Get(s.srv.URL + "/v2/models/wine")
	require.NoError(t, err)
	var md V2ModelMetadata
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&md))
	resp.Body.Close()
	require.Equal(t, "wine", md.Name)
	require.Len(t, md.Inputs, 13)
	require.Equal(t, []int64{-1, 3}, md.Outputs[0].Shape)
	require.Equal(t, Multiclass, md.Params.Kind)
	resp, err = http.Get(s.srv.URL + "/v2/models/nope")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 404, resp.StatusCode)
}

func TestServerInferLayoutsAndErrors(t *testing.T) {
	t.Parallel()
	s := setupServer(t)
	row := s.holdout.Row(0)
	want, err := s.cand.Predict(context.Background(), Batch{Features: s.holdout.Features, Rows: 1, Values: row})
	require.NoError(t, err)
	matrix, _ := json.Marshal(map[string]any{"id": "r1", "inputs": []any{map[string]any{"name": "x", "shape": []int{1, 30}, "datatype": "FP32", "data": row}}})
	var perFeature []any
	for j, f := range s.holdout.Features {
		perFeature = append(perFeature, map[string]any{"name": f, "shape": []int{1}, "datatype": "FP64", "data": []float64{row[j]}})
	}
	// Reverse the order: per-feature tensors are matched by name.
	for i, j := 0, len(perFeature)-1; i < j; i, j = i+1, j-1 {
		perFeature[i], perFeature[j] = perFeature[j], perFeature[i]
	}
	pf, _ := json.Marshal(map[string]any{"inputs": perFeature})
	for name, body := range map[string]string{"matrix": string(matrix), "per-feature": string(pf)} {
		code, out := post(t, s.srv.URL+"/v2/models/fraud/infer", body)
		require.Equal(t, 200, code, name+": "+out)
		var resp V2InferResponse
		require.NoError(t, json.Unmarshal([]byte(out), &resp))
		require.Equal(t, "fraud", resp.ModelName)
		require.Equal(t, "predict", resp.Outputs[0].Name)
		require.Equal(t, []int64{1}, resp.Outputs[0].Shape)
		var data []float64
		require.NoError(t, json.Unmarshal(resp.Outputs[0].Data, &data))
		require.Equal(t, want.Values, data, name)
	}
	cases := []struct {
		name, body string
		code       int
		want       string
	}{
		{"not json", "nope", 400, "not a V2 infer request"},
		{"no inputs", `{"inputs":[]}`, 400, `is empty: give one [N, F] tensor`},
		{"wrong width", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}`, 400, "has 3 columns, the model has 30 features"},
		{"short data", `{"inputs":[{"name":"x","shape":[2,30],"datatype":"FP64","data":[1,2]}]}`, 400, "data has 2 values, the shape needs 60"},
		{"bytes", `{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a"]}]}`, 400, `datatype "BYTES" is not supported (accepted: BOOL, UINT8`},
		{"missing feature", `{"inputs":[{"name":"mean_radius","shape":[1],"datatype":"FP64","data":[1]},{"name":"b","shape":[1],"datatype":"FP64","data":[1]}]}`, 400, "no column for model feature(s) mean_texture"},
		{"huge shape", `{"inputs":[{"name":"x","shape":[100000000000,30],"datatype":"FP64","data":[]}]}`, 400, "larger than"},
		{"too large", `{"inputs":[{"name":"x","shape":[1,30],"datatype":"FP64","data":[` + strings.Repeat("1,", 1<<20) + `1]}]}`, 413, "larger than 1048576 bytes"},
	}
	for _, c := range cases {
		code, out := post(t, s.srv.URL+"/v2/models/fraud/infer", c.body)
		require.Equal(t, c.code, code, c.name+": "+out)
		var e struct{ Error string }
		require.NoError(t, json.Unmarshal([]byte(out), &e))
		require.Contains(t, e.Error, c.want, c.name)
	}
	code, _ := post(t, s.srv.URL+"/v2/models/nope/infer", string(matrix))
	require.Equal(t, 404, code)
	require.Equal(t, 2.0, counterValue(t, s.reg, "modelgate_model_requests_total", map[string]string{"model": "fraud", "code": "200"}))
	require.Equal(t, 7.0, counterValue(t, s.reg, "modelgate_model_requests_total", map[string]string{"model": "fraud", "code": "400"}))
	require.Equal(t, 1.0, counterValue(t, s.reg, "modelgate_model_requests_total", map[string]string{"model": "fraud", "code": "413"}))
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestClientAgainstServerMatchesNative(t *testing.T) {
	t.Parallel()
	s := setupServer(t)
	for _, c := range []struct {
		model string
		p     Predictor
		b     Batch
	}{{"fraud", s.cand, s.holdout}, {"wine", s.multi, s.multiBat}} {
		cl, err := NewV2Client(V2ClientOptions{URL: s.srv.URL + "/v2/models/" + c.model, BatchSize: 50})
		require.NoError(t, err)
		got, err := cl.Predict(context.Background(), c.b)
		require.NoError(t, err)
		want, err := c.p.Predict(context.Background(), c.b)
		require.NoError(t, err)
		require.Equal(t, want, got, c.model)
		require.Equal(t, c.p.Info().Kind, cl.Info().Kind)
	}
}

func TestClientRetriesAndFailsClearly(t *testing.T) {
	t.Parallel()
	s := setupServer(t)
	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && calls.Add(1) <= 2 {
			http.Error(w, `{"error":"warming up"}`, 503)
			return
		}
		// proxy to the real server
		req, _ := http.NewRequest(r.Method, s.srv.URL+r.URL.Path, r.Body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer flaky.Close()
	cl, err := newV2Client(V2ClientOptions{URL: flaky.URL, Model: "fraud", Retries: 3})
	require.NoError(t, err)
	cl.backoff = time.Millisecond
	_, err = cl.Predict(context.Background(), s.holdout)
	require.NoError(t, err)
	require.Equal(t, int32(3), calls.Load())

	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := "http://" + l.Addr().String()
	l.Close()
	cl, _ = newV2Client(V2ClientOptions{URL: down + "/v2/models/m", Retries: 1})
	cl.backoff = time.Millisecond
	_, err = cl.Predict(context.Background(), s.holdout)
	require.ErrorContains(t, err, "after 2 attempts")
	require.ErrorContains(t, err, "connection refused")

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer slow.Close()
	cl, _ = newV2Client(V2ClientOptions{URL: slow.URL + "/v2/models/m", Timeout: 50 * time.Millisecond, Retries: -1})
	_, err = cl.Predict(context.Background(), s.holdout)
	require.ErrorContains(t, err, "no answer within 50ms")

	for name, body := range map[string]string{
		"wrong rows": `{"model_name":"m","outputs":[{"name":"predict","shape":[3],"datatype":"FP64","data":[0.1,0.2,0.3]}]}`,
		"short data": `{"model_name":"m","outputs":[{"name":"predict","shape":[171],"datatype":"FP64","data":[0.1]}]}`,
		"no outputs": `{"model_name":"m","outputs":[]}`,
		"not json":   `<html>`,
		"bytes":      `{"model_name":"m","outputs":[{"name":"predict","shape":[171],"datatype":"BYTES","data":[]}]}`,
	} {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, body)
		}))
		cl, _ := NewV2Client(V2ClientOptions{URL: bad.URL + "/v2/models/m"})
		_, err := cl.Predict(context.Background(), s.holdout)
		require.Error(t, err, name)
		bad.Close()
	}

	_, err = NewV2Client(V2ClientOptions{URL: "ftp://x"})
	require.ErrorContains(t, err, "want an http:// or https:// URL")
	_, err = NewV2Client(V2ClientOptions{URL: "http://x:1"})
	require.ErrorContains(t, err, "no model name")
}

func FuzzDecodeInferRequest(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,null]}]}`), 2)
	f.Add([]byte(`{"inputs":[{"name":"a","shape":[2],"datatype":"FP64","data":[1,2]},{"name":"b","shape":[2,1],"datatype":"INT64","data":[[3],[4]]}]}`), 2)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP64","data":[[1,2],[3,true]]}]}`), 2)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[-1],"datatype":"FP64","data":[]}]}`), 1)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[0,3],"datatype":"FP64","data":[ ]}]}`), 3)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[0,3],"datatype":"FP64","data":[[]]}]}`), 3)
	f.Fuzz(func(t *testing.T, body []byte, nf int) {
		if nf < 0 || nf > 64 {
			return
		}
		var features []string
		if nf%2 == 0 && nf > 0 {
			features = []string{"a", "b"}[:min(nf, 2)]
		}
		b, err := DecodeInferRequest(body, features, nf)
		if err != nil {
			return
		}
		if err := b.Check(); err != nil {
			t.Fatalf("decoded an inconsistent batch: %v", err)
		}
	})
}

func FuzzParseInferResponse(f *testing.F) {
	f.Add([]byte(`{"model_name":"m","outputs":[{"name":"predict","shape":[2],"datatype":"FP64","data":[0.1,0.9]}]}`), 2, 0)
	f.Add([]byte(`{"model_name":"m","outputs":[{"name":"predict_proba","shape":[2,3],"datatype":"FP32","data":[[0.1,0.2,0.7],[1,0,0]]}]}`), 2, 1)
	f.Add([]byte(`{"outputs":[{"name":"x","shape":[1,2],"datatype":"FP64","data":[0.3,0.7]}]}`), 1, 0)
	kinds := []Kind{Binary, Multiclass, Regression}
	f.Fuzz(func(t *testing.T, body []byte, rows, kind int) {
		if rows < 0 || rows > 1000 || kind < 0 || kind >= len(kinds) {
			return
		}
		p, err := parseInferResponse(body, rows, Info{Kind: kinds[kind]})
		if err != nil {
			return
		}
		if p.Rows != rows || len(p.Values) != rows*p.Width() {
			t.Fatalf("inconsistent predictions: %d rows, %d values, width %d", p.Rows, len(p.Values), p.Width())
		}
	})
}
