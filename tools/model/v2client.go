package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/tools/oip"
)

// V2ClientOptions configures a client of a V2 inference endpoint.
type V2ClientOptions struct {
	// URL is the server's base URL (http://host:port), or the model's URL
	// (http://host:port/v2/models/NAME), which also sets Model.
	URL        string
	Model      string
	BatchSize  int           // rows per request; default 1000
	Timeout    time.Duration // per request attempt; default 30s
	Retries    int           // extra attempts on 5xx, 429 and connection errors; default 3, negative = none
	HTTPClient *http.Client
	// Kind says what the output means when the server does not say it
	// (modelgate's server does, in its metadata). Default: binary for [N]
	// outputs, multiclass for [N, K].
	Kind Kind
}

// V2Client is a Predictor backed by a remote V2 endpoint.
type V2Client struct {
	o         V2ClientOptions
	base      string // .../v2/models/NAME
	mu        sync.Mutex
	mdDone    bool
	infoTried atomic.Bool      // Info fetches metadata once, successful or not
	md        *V2ModelMetadata // nil when the server has no metadata endpoint
	backoff   time.Duration
}

// NewV2Client checks the options; it does not contact the server until
// the first Predict.
func NewV2Client(o V2ClientOptions) (Predictor, error) {
	return newV2Client(o)
}

func newV2Client(o V2ClientOptions) (*V2Client, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want an http:// or https:// URL", o.URL)
	}
	path := strings.TrimRight(u.Path, "/")
	if i := strings.Index(path, "/v2/models/"); i >= 0 {
		rest := strings.TrimSuffix(path[i+len("/v2/models/"):], "/infer")
		name, _, _ := strings.Cut(rest, "/")
		if o.Model == "" {
			o.Model = name
		}
		path = path[:i]
	}
	if o.Model == "" {
		return nil, fmt.Errorf("endpoint %q: no model name (give http://host/v2/models/NAME)", o.URL)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Retries == 0 {
		o.Retries = 3
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.HTTPClient == nil {
		o.HTTPClient = noRedirects
	}
	u.Path = path + "/v2/models/" + url.PathEscape(o.Model)
	u.RawQuery, u.Fragment = "", ""
	return &V2Client{o: o, base: u.String(), backoff: 100 * time.Millisecond}, nil
}

// Info describes the remote model as far as its metadata tells. The
// first call fetches the metadata (errors surface in Predict).
func (c *V2Client) Info() Info {
	if c.infoTried.CompareAndSwap(false, true) {
		_ = c.metadata(context.Background())
	}
	info := Info{Name: c.o.Model, Kind: c.o.Kind}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.md != nil {
		if c.md.Params != nil && info.Kind == "" {
			info.Kind, info.Classes = c.md.Params.Kind, c.md.Params.Classes
		}
		if len(c.md.Inputs) > 1 {
			for _, in := range c.md.Inputs {
				info.Features = append(info.Features, in.Name)
			}
		}
	}
	if info.Kind == "" {
		info.Kind = Binary
	}
	return info
}

// Endpoint is the model's URL.
func (c *V2Client) Endpoint() string { return c.base }

// metadata fetches the model's metadata once. A server that is down is
// retried like an infer request and not remembered, so a later call can
// succeed; a server without a metadata endpoint is remembered as such.
func (c *V2Client) metadata(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mdDone {
		return nil
	}
	body, status, err := c.retry(ctx, http.MethodGet, c.base, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", c.base, err)
	}
	switch {
	case status == http.StatusOK:
		var md V2ModelMetadata
		if json.Unmarshal(body, &md) == nil {
			c.md = &md
		}
	case status == http.StatusNotFound && strings.Contains(errorText(body), "unknown model"):
		return fmt.Errorf("%s: model not found (404): %s", c.base, errorText(body))
	}
	c.mdDone = true
	return nil
}

// Predict sends the batch in requests of BatchSize rows and checks every
// answer's shape.
func (c *V2Client) Predict(ctx context.Context, b Batch) (Predictions, error) {
	if err := b.Check(); err != nil {
		return Predictions{}, err
	}
	if err := c.metadata(ctx); err != nil {
		return Predictions{}, err
	}
	// When the server names its inputs one per feature, send it exactly
	// those, by name; otherwise one [N, F] tensor of the batch's columns.
	cols := make([]int, len(b.Features))
	for i := range cols {
		cols[i] = i
	}
	perFeature := false
	if c.md != nil && len(c.md.Inputs) > 1 {
		idx := map[string]int{}
		for i, f := range b.Features {
			idx[f] = i
		}
		cols = cols[:0]
		var missing []string
		for _, in := range c.md.Inputs {
			j, ok := idx[in.Name]
			if !ok {
				missing = append(missing, in.Name)
			}
			cols = append(cols, j)
		}
		if len(missing) > 0 {
			return Predictions{}, fmt.Errorf("%s: %w", c.base, &MissingFeatureError{Missing: missing})
		}
		perFeature = true
	}
	info := c.Info()
	var out Predictions
	for lo := 0; lo < b.Rows; lo += c.o.BatchSize {
		hi := min(lo+c.o.BatchSize, b.Rows)
		body := c.request(b, cols, perFeature, lo, hi)
		p, err := c.inferOnce(ctx, body, hi-lo, info)
		if err != nil {
			return Predictions{}, fmt.Errorf("%s rows %d-%d: %w", c.base+"/infer", lo, hi-1, err)
		}
		if lo == 0 {
			out = Predictions{Kind: p.Kind, Classes: p.Classes, Values: make([]float64, 0, b.Rows*p.Width()), Float32: p.Float32}
		} else if p.Kind != out.Kind || p.Classes != out.Classes {
			return Predictions{}, fmt.Errorf("%s: output shape changed between requests", c.base)
		}
		out.Values = append(out.Values, p.Values...)
		out.Rows += p.Rows
		out.Float32 = out.Float32 && p.Float32
	}
	if b.Rows == 0 {
		out.Kind = info.Kind
	}
	return out, nil
}

func (c *V2Client) request(b Batch, cols []int, perFeature bool, lo, hi int) []byte {
	nf := len(b.Features)
	var buf bytes.Buffer
	buf.WriteString(`{"inputs":[`)
	appendVal := func(v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			buf.WriteString("null")
			return
		}
		buf.Write(strconv.AppendFloat(buf.AvailableBuffer(), v, 'g', -1, 64))
	}
	if perFeature {
		for k, j := range cols {
			if k > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"name":%s,"shape":[%d],"datatype":"FP64","data":[`, strconv.Quote(c.md.Inputs[k].Name), hi-lo)
			for r := lo; r < hi; r++ {
				if r > lo {
					buf.WriteByte(',')
				}
				appendVal(b.Values[r*nf+j])
			}
			buf.WriteString("]}")
		}
	} else {
		name := "input-0"
		if c.md != nil && len(c.md.Inputs) == 1 {
			name = c.md.Inputs[0].Name
		}
		fmt.Fprintf(&buf, `{"name":%s,"shape":[%d,%d],"datatype":"FP64","data":[`, strconv.Quote(name), hi-lo, nf)
		for r := lo; r < hi; r++ {
			for j := 0; j < nf; j++ {
				if r > lo || j > 0 {
					buf.WriteByte(',')
				}
				appendVal(b.Values[r*nf+j])
			}
		}
		buf.WriteString("]}")
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

// StatusError is a non-2xx answer from an endpoint.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body)
}

func (c *V2Client) inferOnce(ctx context.Context, body []byte, rows int, info Info) (Predictions, error) {
	resp, status, err := c.retry(ctx, http.MethodPost, c.base+"/infer", body)
	if err != nil {
		return Predictions{}, err
	}
	if status != http.StatusOK {
		return Predictions{}, &StatusError{Code: status, Body: errorText(resp)}
	}
	return parseInferResponse(resp, rows, info)
}

// retry sends a request until it gets an answer that is not a 5xx or 429,
// with exponential backoff between attempts. It returns the last answer
// (any status) or the last connection error.
func (c *V2Client) retry(ctx context.Context, method, u string, body []byte) ([]byte, int, error) {
	var lastErr error
	for attempt := 0; attempt <= c.o.Retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(c.backoff << (attempt - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, 0, fmt.Errorf("%w (last error: %v)", ctx.Err(), lastErr)
			case <-t.C:
			}
		}
		resp, status, err := c.do(ctx, method, u, body)
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, err
			}
			lastErr = err
			continue // connection refused, reset, attempt timeout
		}
		if status >= 500 || status == http.StatusTooManyRequests {
			lastErr = &StatusError{Code: status, Body: errorText(resp)}
			if attempt == c.o.Retries {
				break
			}
			continue
		}
		return resp, status, nil
	}
	return nil, 0, fmt.Errorf("after %d attempts: %w", c.o.Retries+1, lastErr)
}

func (c *V2Client) do(ctx context.Context, method, u string, body []byte) ([]byte, int, error) {
	actx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, u, rd)
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, 0, fmt.Errorf("no answer within %s: %w", c.o.Timeout, err)
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, 0, fmt.Errorf("read answer: %w", err)
	}
	return data, resp.StatusCode, nil
}

func errorText(body []byte) string {
	var e struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != nil {
		if s, ok := e.Error.(string); ok {
			return s
		}
		b, _ := json.Marshal(e.Error)
		return string(b)
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// parseInferResponse picks the output (predict_proba, then predict, then
// the only one) and checks it has one row per input row.
func parseInferResponse(body []byte, rows int, info Info) (Predictions, error) {
	var resp V2InferResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return Predictions{}, fmt.Errorf("answer is not a V2 infer response: %w", err)
	}
	if len(resp.Outputs) == 0 {
		return Predictions{}, errors.New(`answer has no "outputs"`)
	}
	t := &resp.Outputs[0]
	for i := range resp.Outputs {
		if resp.Outputs[i].Name == OutputPredictProba || (resp.Outputs[i].Name == OutputPredict && t.Name != OutputPredictProba) {
			t = &resp.Outputs[i]
		}
	}
	if !oip.Numeric(t.Datatype) {
		return Predictions{}, fmt.Errorf("output %q: datatype %q is not numeric", t.Name, t.Datatype)
	}
	if err := oip.CheckTensor(t); err != nil {
		return Predictions{}, fmt.Errorf("answer %w", err)
	}
	if len(t.Shape) == 0 || t.Shape[0] != int64(rows) {
		return Predictions{}, fmt.Errorf("output %q has shape %v for %d rows sent", t.Name, t.Shape, rows)
	}
	width := int64(1)
	switch len(t.Shape) {
	case 1:
	case 2:
		width = t.Shape[1]
	default:
		return Predictions{}, fmt.Errorf("output %q has shape %v: want [N] or [N, K]", t.Name, t.Shape)
	}
	vals, err := oip.Numbers(t.Data, rows*int(width))
	if err != nil {
		return Predictions{}, fmt.Errorf("output %q: %w", t.Name, err)
	}
	kind := info.Kind
	f32 := t.Datatype == "FP32" || t.Datatype == "FP16"
	switch {
	case width == 1 && kind == Multiclass:
		return Predictions{}, fmt.Errorf("output %q has shape %v: a multiclass model must return [N, K] probabilities", t.Name, t.Shape)
	case width == 2 && kind == Binary:
		// [N, 2] class probabilities (sklearn's predict_proba): keep class 1.
		p := make([]float64, rows)
		for i := range p {
			p[i] = vals[2*i+1]
		}
		return Predictions{Kind: Binary, Rows: rows, Values: p, Float32: f32}, nil
	case width > 1 && kind != Multiclass && info.Classes == 0 && kind != Regression:
		return Predictions{Kind: Multiclass, Classes: int(width), Rows: rows, Values: vals, Float32: f32}, nil
	case width > 1 && kind == Multiclass:
		return Predictions{Kind: Multiclass, Classes: int(width), Rows: rows, Values: vals, Float32: f32}, nil
	case width > 1:
		return Predictions{}, fmt.Errorf("output %q has shape %v: a %s model must return one value per row", t.Name, t.Shape, kind)
	}
	return Predictions{Kind: kind, Rows: rows, Values: vals, Float32: f32}, nil
}

// noRedirects is the default client: a model server answers where it was
// asked, and following a redirect would let an allowed endpoint send the
// server's requests to an address nobody allowed (see internal/egress).
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
