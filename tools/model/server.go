package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
)

// ServerOptions configures the V2 model server.
type ServerOptions struct {
	Models       map[string]Predictor // by the name in URLs
	MaxBodyBytes int64                // request body limit; default 32 MiB
	Registry     prometheus.Registerer
	Logger       *log.Logger
	Version      string // reported by GET /v2
	// Versions gives the version each model is served as (a registry
	// version); /v2/models/{name}/versions/{v} answers only for it, and a
	// model without one answers no version path (404, as the protocol
	// says for an unknown version).
	Versions map[string]string
}

// DefaultMaxBodyBytes is the default request size limit of the server.
const DefaultMaxBodyBytes = 32 << 20

type server struct {
	models  map[string]Predictor
	meta    map[string][]byte // GET /v2/models/{name}, prebuilt
	maxBody int64
	log     *log.Logger
	version string
	mver    map[string]string
	reqs    *prometheus.CounterVec
	dur     *prometheus.HistogramVec
	rows    *prometheus.CounterVec
	hot     map[string]modelMetrics // per-model handles of the success path, resolved once
	bufs    sync.Pool
}

type modelMetrics struct {
	ok   prometheus.Counter
	dur  prometheus.Observer
	rows prometheus.Counter
}

// NewServer returns the Open Inference Protocol V2 REST handler serving
// the models: GET /v2, /v2/health/live, /v2/health/ready,
// /v2/models/{name}, /v2/models/{name}/ready, and POST
// /v2/models/{name}/infer (also under /versions/{version}/). Errors are
// {"error": "..."} with 400 (bad request), 404 (unknown model), 413 (body
// too large) or 500.
func NewServer(o ServerOptions) http.Handler {
	s := &server{models: o.Models, meta: map[string][]byte{}, maxBody: o.MaxBodyBytes, log: o.Logger, version: o.Version, mver: o.Versions}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.log == nil {
		s.log = log.Default()
	}
	if s.version == "" {
		s.version = "dev"
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	for name, p := range o.Models {
		s.meta[name] = metadata(name, o.Versions[name], p)
	}
	if o.Registry != nil {
		s.reqs = register(o.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modelgate_model_requests_total", Help: "V2 infer requests by model and HTTP status code.",
		}, []string{"model", "code"}))
		s.dur = register(o.Registry, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "modelgate_model_request_duration_seconds", Help: "V2 infer request latency.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"model"}))
		s.rows = register(o.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modelgate_model_rows_total", Help: "Rows scored by model.",
		}, []string{"model"}))
		s.hot = map[string]modelMetrics{}
		for name := range o.Models {
			s.hot[name] = modelMetrics{ok: s.reqs.WithLabelValues(name, "200"), dur: s.dur.WithLabelValues(name), rows: s.rows.WithLabelValues(name)}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2", s.serverMeta)
	mux.HandleFunc("GET /v2/health/live", s.ok(`{"live":true}`))
	mux.HandleFunc("GET /v2/health/ready", s.ok(`{"ready":true}`))
	mux.HandleFunc("/v2", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/v2/health/live", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/v2/health/ready", methodNotAllowed("GET, HEAD"))
	for _, prefix := range []string{"/v2/models/{name}", "/v2/models/{name}/versions/{version}"} {
		mux.HandleFunc("GET "+prefix, s.modelMeta)
		mux.HandleFunc("GET "+prefix+"/ready", s.modelReady)
		mux.HandleFunc("POST "+prefix+"/infer", s.infer)
		// The method-less patterns catch the other methods: 405 with
		// Allow, as HTTP and the protocol's REST binding expect, in the
		// JSON error shape (the catch-all "/" would say 404).
		mux.HandleFunc(prefix, methodNotAllowed("GET, HEAD"))
		mux.HandleFunc(prefix+"/ready", methodNotAllowed("GET, HEAD"))
		mux.HandleFunc(prefix+"/infer", methodNotAllowed("POST"))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// register adds c to r, or returns the collector already registered
// under the same name (several servers in one process share metrics).
func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		log.Warn("model server metrics not registered", "err", err)
	}
	return c
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path+" (allowed: "+allow+")")
	}
}

// lookup finds the model a request names, and checks the version in its
// path: an unknown model or version is 404 with a message saying which.
func (s *server) lookup(w http.ResponseWriter, r *http.Request) (string, Predictor, bool) {
	name := r.PathValue("name")
	p, ok := s.models[name]
	if !ok {
		writeError(w, http.StatusNotFound, "unknown model "+strconv.Quote(name))
		return name, nil, false
	}
	if v := r.PathValue("version"); v != "" && v != s.mver[name] {
		msg := "model " + strconv.Quote(name) + " has no version " + strconv.Quote(v)
		if sv := s.mver[name]; sv != "" {
			msg += " (served version: " + strconv.Quote(sv) + ")"
		} else {
			msg += " (it is served without versions: use /v2/models/" + name + ")"
		}
		writeError(w, http.StatusNotFound, msg)
		return name, nil, false
	}
	return name, p, true
}

func metadata(name, version string, p Predictor) []byte {
	info := p.Info()
	md := V2ModelMetadata{Name: name, Platform: "xgboost_json", Params: &V2ModelParams{Kind: info.Kind, Classes: info.Classes}}
	if version != "" {
		md.Versions = []string{version}
	}
	if _, ok := p.(*XGBoost); !ok {
		md.Platform = "modelgate"
	}
	if len(info.Features) > 0 {
		for _, f := range info.Features {
			md.Inputs = append(md.Inputs, V2TensorMeta{Name: f, Datatype: "FP64", Shape: []int64{-1}})
		}
	} else {
		md.Inputs = []V2TensorMeta{{Name: "input-0", Datatype: "FP64", Shape: []int64{-1, int64(numFeatures(p))}}}
	}
	out := "FP64"
	if _, ok := p.(*XGBoost); ok {
		out = "FP32" // XGBoost computes in float32; Predict marks its output so
	}
	if info.Kind == Multiclass {
		md.Outputs = []V2TensorMeta{{Name: OutputPredictProba, Datatype: out, Shape: []int64{-1, int64(info.Classes)}}}
	} else {
		md.Outputs = []V2TensorMeta{{Name: OutputPredict, Datatype: out, Shape: []int64{-1}}}
	}
	b, _ := json.Marshal(md)
	return b
}

func numFeatures(p Predictor) int {
	if n, ok := p.(interface{ NumFeatures() int }); ok {
		return n.NumFeatures()
	}
	return len(p.Info().Features)
}

func (s *server) ok(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

func (s *server) serverMeta(w http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(s.models))
	for n := range s.models {
		names = append(names, n)
	}
	sort.Strings(names)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"name": "modelgate", "version": s.version, "extensions": []string{}, "models": names})
}

func (s *server) modelMeta(w http.ResponseWriter, r *http.Request) {
	name, _, ok := s.lookup(w, r)
	if !ok {
		return
	}
	b := s.meta[name]
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (s *server) modelReady(w http.ResponseWriter, r *http.Request) {
	name, _, ok := s.lookup(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"name":`+strconv.Quote(name)+`,"ready":true}`)
}

func (s *server) infer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("name")
	code := s.serveInfer(w, r, name)
	if s.reqs == nil {
		return
	}
	if h, ok := s.hot[name]; ok {
		if code == http.StatusOK {
			h.ok.Inc()
		} else {
			s.reqs.WithLabelValues(name, strconv.Itoa(code)).Inc()
		}
		h.dur.Observe(time.Since(start).Seconds())
		return
	}
	// Unknown names share one label value: a scanner must not be able to
	// create a time series per URL it tries.
	s.reqs.WithLabelValues("(unknown)", strconv.Itoa(code)).Inc()
}

func (s *server) serveInfer(w http.ResponseWriter, r *http.Request, name string) int {
	if _, ok := s.models[name]; !ok {
		return writeError(w, http.StatusNotFound, "unknown model "+strconv.Quote(name))
	}
	_, p, ok := s.lookup(w, r)
	if !ok {
		return http.StatusNotFound
	}
	if r.Header.Get("Inference-Header-Content-Length") != "" {
		// The binary tensor data extension puts raw tensors after a JSON
		// header; reading that body as JSON would fail with a parse error
		// that hides the cause.
		return writeError(w, http.StatusBadRequest, "the binary tensor data extension (Inference-Header-Content-Length) is not supported by this server: send tensors as JSON \"data\" arrays")
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	defer s.bufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.maxBody)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return writeError(w, http.StatusRequestEntityTooLarge, "request body larger than "+strconv.FormatInt(s.maxBody, 10)+" bytes")
		}
		return writeError(w, http.StatusBadRequest, "read request: "+err.Error())
	}
	var req V2InferRequest
	if err := json.Unmarshal(buf.Bytes(), &req); err != nil {
		return writeError(w, http.StatusBadRequest, "request is not a V2 infer request: "+err.Error())
	}
	if msg := unknownOutputs(&req, p.Info()); msg != "" {
		return writeError(w, http.StatusBadRequest, msg)
	}
	b, err := requestBatch(&req, p.Info().Features, numFeatures(p))
	if err != nil {
		return writeError(w, http.StatusBadRequest, err.Error())
	}
	preds, err := p.Predict(r.Context(), b)
	if err != nil {
		var mf *MissingFeatureError
		var ve *ValueError
		if errors.As(err, &mf) || errors.As(err, &ve) {
			return writeError(w, http.StatusBadRequest, err.Error())
		}
		s.log.Error("predict failed", "model", name, "err", err)
		return writeError(w, http.StatusInternalServerError, "predict: "+err.Error())
	}
	if h, ok := s.hot[name]; ok {
		h.rows.Add(float64(b.Rows))
	}
	out := AppendInferResponse(buf.Bytes()[:0], name, req.ID, preds)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
	// The response was built in the pooled buffer's array; hand the
	// (possibly grown) array back to the pool.
	*buf = *bytes.NewBuffer(out[:0])
	return http.StatusOK
}

// unknownOutputs names requested outputs the model does not have; the
// protocol answers those with an error rather than silently returning
// another tensor.
func unknownOutputs(req *V2InferRequest, info Info) string {
	have := OutputPredict
	if info.Kind == Multiclass {
		have = OutputPredictProba
	}
	var bad []string
	for _, o := range req.Outputs {
		if o.Name != have {
			bad = append(bad, strconv.Quote(o.Name))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return "unknown requested output(s) " + strings.Join(bad, ", ") + ": this model has only " + strconv.Quote(have)
}

func writeError(w http.ResponseWriter, code int, msg string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Write(b)
	return code
}
