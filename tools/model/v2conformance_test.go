package model

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestV2Conformance checks the cases of the Open Inference Protocol (REST)
// that issue 14 found answered wrongly: unknown requested outputs, unknown
// versions, empty batches, the binary tensor extension, wrong methods and
// the datatype error.
func TestV2Conformance(t *testing.T) {
	t.Parallel()
	m, err := Load(filepath.Join(numbers, "early.json"))
	require.NoError(t, err)
	wine, err := Load(filepath.Join(testdata, "multiclass-wine", "model.json"))
	require.NoError(t, err)
	srv := httptest.NewServer(NewServer(ServerOptions{Models: map[string]Predictor{"m": m, "wine": wine}, Versions: map[string]string{"m": "3"}}))
	t.Cleanup(srv.Close)
	row := `{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}`
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		code                     int
		want                     []string
		allow                    string
	}{
		{name: "requested output exists", method: "POST", path: "/v2/models/m/infer",
			body: `{"inputs":[` + row + `],"outputs":[{"name":"predict"}]}`, code: 200, want: []string{`"name":"predict"`, `"datatype":"FP32"`}},
		{name: "unknown requested outputs are named", method: "POST", path: "/v2/models/m/infer",
			body: `{"inputs":[` + row + `],"outputs":[{"name":"predict"},{"name":"logits"},{"name":"leaf"}]}`, code: 400,
			want: []string{`unknown requested output(s) \"logits\", \"leaf\"`, `only \"predict\"`}},
		{name: "served version", method: "POST", path: "/v2/models/m/versions/3/infer", body: `{"inputs":[` + row + `]}`, code: 200},
		{name: "unknown version is 404", method: "POST", path: "/v2/models/m/versions/9/infer", body: `{"inputs":[` + row + `]}`, code: 404,
			want: []string{`has no version \"9\"`, `served version: \"3\"`}},
		{name: "unknown version metadata is 404", method: "GET", path: "/v2/models/wine/versions/1", code: 404, want: []string{"served without versions"}},
		{name: "unknown version ready is 404", method: "GET", path: "/v2/models/m/versions/2/ready", code: 404},
		{name: "metadata lists the version", method: "GET", path: "/v2/models/m", code: 200, want: []string{`"versions":["3"]`}},
		{name: "empty batch [0, N]", method: "POST", path: "/v2/models/m/infer",
			body: `{"inputs":[{"name":"input-0","shape":[0,4],"datatype":"FP64","data":[]}]}`, code: 200, want: []string{`"shape":[0]`, `"data":[]`}},
		{name: "empty multiclass batch", method: "POST", path: "/v2/models/wine/infer",
			body: `{"inputs":[{"name":"input-0","shape":[0,13],"datatype":"FP64","data":[ ]}]}`, code: 200, want: []string{`"shape":[0,3]`, `"data":[]`}},
		{name: "binary tensor extension refused", method: "POST", path: "/v2/models/m/infer", body: `{"inputs":[]}` + "\x00\x00",
			header: map[string]string{"Inference-Header-Content-Length": "13"}, code: 400, want: []string{"binary tensor data extension", "not supported"}},
		{name: "GET on infer is 405", method: "GET", path: "/v2/models/m/infer", code: 405, allow: "POST", want: []string{"not allowed"}},
		{name: "DELETE on metadata is 405", method: "DELETE", path: "/v2/models/m", code: 405, allow: "GET, HEAD"},
		{name: "POST on health is 405", method: "POST", path: "/v2/health/ready", code: 405, allow: "GET, HEAD"},
		{name: "PUT on a version's infer is 405", method: "PUT", path: "/v2/models/m/versions/3/infer", code: 405, allow: "POST"},
		{name: "datatype error lists the accepted types", method: "POST", path: "/v2/models/m/infer",
			body: `{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"BYTES","data":["a","b","c","d"]}]}`, code: 400,
			want: []string{"accepted: BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64"}},
		{name: "unknown path is still 404", method: "GET", path: "/v2/nothing", code: 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			require.NoError(t, err)
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, c.code, resp.StatusCode, string(b))
			for _, w := range c.want {
				require.Contains(t, string(b), w)
			}
			if c.allow != "" {
				require.Equal(t, c.allow, resp.Header.Get("Allow"))
			}
			if c.code != 200 {
				require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				require.Contains(t, string(b), `"error"`)
			}
		})
	}
}
