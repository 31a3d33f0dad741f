package pickle_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/scan/pickle"
)

func walk(data []byte) (pickle.Result, error) {
	return pickle.Walk(bufio.NewReader(bytes.NewReader(data)), 0, pickle.Options{})
}

func TestPolicyCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		module, name string
		want         pickle.Severity
	}{
		{"collections", "OrderedDict", pickle.Info},
		{"numpy.core.multiarray", "_reconstruct", pickle.Info},
		{"torch._utils", "_rebuild_tensor_v2", pickle.Info},
		{"sklearn.linear_model._logistic", "LogisticRegression", pickle.Info},
		{"sklearn.utils._testing", "os.system", pickle.Critical},
		{"sklearn.model_selection._validation", "partial", pickle.Critical},
		{"sklearn.pipeline", "Pipeline.__init__", pickle.Critical},
		{"sklearn.pipeline", "Pipeline.fit", pickle.High},
		{"builtins", "eval", pickle.Critical},
		{"__builtin__", "eval", pickle.Critical},
		{"builtins", "dict", pickle.Info},
		{"posix", "system", pickle.Critical},
		{"os.path", "join", pickle.Critical},
		{"numpy", "__builtins__", pickle.Critical},
		{"numpy.testing._private.utils", "runstring", pickle.Critical},
		{"operator", "attrgetter", pickle.Critical},
		{"operator", "add", pickle.Critical}, // fickling lists operator whole
		{"functools", "partial", pickle.Critical},
		{"importlib", "import_module", pickle.Critical},
		{"webbrowser", "open", pickle.Critical},
		{"requests.api", "get", pickle.Critical},
		{"http.client", "HTTPConnection", pickle.Critical},
		{"mypkg", "Model", pickle.High},
		{"mypkg", "system", pickle.High},
		{"", "x", pickle.Critical},
		// issue 13: re-exports and wrappers judged by what they are
		{"sklearn.utils._testing", "assert_run_python_script", pickle.Critical},
		{"sklearn.datasets._base", "urlretrieve", pickle.Critical},
		{"sklearn.utils.validation", "np.load", pickle.Critical},
		{"sklearn.utils.validation", "np.ndarray", pickle.Info},
		{"sklearn.linear_model", "LogisticRegression", pickle.Info},
		{"numpy.core", "_ufunc_reconstruct", pickle.Critical},
		{"sklearn.utils", "Bunch", pickle.Info},
		{"sklearn.base", "clone", pickle.High},
		{"sklearn.datasets._base", "fetch_file", pickle.High},
		// issue 13: benign reconstructors that were false alarms
		{"__builtin__", "bytes", pickle.Info},
		{"__builtin__", "set", pickle.Info},
		{"__future__", "annotations", pickle.Info},
		{"builtins", "len", pickle.Info},
		{"collections.abc", "Iterable", pickle.Info},
		{"__builtin__", "apply", pickle.Critical},
		{"copy_reg", "_reconstructor", pickle.Info},
		{"numpy.core._multiarray_umath", "log1p", pickle.Info},
		{"pandas._libs.internals", "_unpickle_block", pickle.Info},
		{"xgboost.sklearn", "XGBClassifier", pickle.Info},
		{"xgboost.core", "DMatrix", pickle.High},
		{"joblib.numpy_pickle", "NumpyArrayWrapper", pickle.Info},
		{"joblib", "load", pickle.Critical},
		{"uuid", "UUID", pickle.Critical},
		{"numpy.core.memmap", "memmap", pickle.High},
		{"a..b", "x", pickle.Critical},
	}
	for _, tt := range tests {
		t.Run(tt.module+"."+tt.name, func(t *testing.T) {
			t.Parallel()
			got, why := pickle.Default.Check(tt.module, tt.name)
			require.Equal(t, tt.want, got, why)
			if got != pickle.Info {
				require.NotEmpty(t, why)
			}
		})
	}
}

func TestPolicyParams(t *testing.T) {
	t.Parallel()
	_, err := pickle.NewPolicy(pickle.PolicyParams{Allow: []string{"nodot"}})
	require.ErrorContains(t, err, "nodot")
	_, err = pickle.NewPolicy(pickle.PolicyParams{Deny: []string{"a b.c"}})
	require.ErrorContains(t, err, "deny list")
	_, err = pickle.NewPolicy(pickle.PolicyParams{Allow: []string{"mypkg.*"}})
	require.ErrorContains(t, err, "exact names")
	p := pickle.MustPolicy(pickle.PolicyParams{Allow: []string{"os.getcwd"}, Deny: []string{"sklearn.tree.*"}})
	sev, why := p.Check("os", "getcwd")
	require.Equal(t, pickle.Info, sev, "an exact user allow wins over the denylist")
	require.Equal(t, pickle.ExtensionReason, why)
	require.Equal(t, []string{"os.getcwd"}, p.Extensions())
	sev, _ = p.Check("sklearn.tree._classes", "DecisionTreeClassifier")
	require.Equal(t, pickle.Critical, sev, "a user deny wins over a default prefix allow")
	p = pickle.MustPolicy(pickle.PolicyParams{NoDefaults: true})
	sev, _ = p.Check("collections", "OrderedDict")
	require.Equal(t, pickle.High, sev)
}

func TestWalkerModel(t *testing.T) {
	t.Parallel()
	su := func(s string) []byte { return append([]byte{0x8c, byte(len(s))}, s...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name     string
		data     []byte
		globals  []string
		codes    []string
		errorMsg string
	}{
		{"memo strings", cat([]byte("\x80\x04"), su("os"), []byte("q\x01"), su("system"), []byte("q\x020h\x01h\x02\x93N\x85R.")),
			[]string{"os.system"}, []string{"scan.pickle.global"}, ""},
		{"protocol 0 GLOBAL with CRLF", []byte("cposix\r\nsystem\r\n(S'x'\ntR."), []string{"posix.system"}, []string{"scan.pickle.global"}, ""},
		{"unicode escape operand", []byte("V\\u006fs\nVsystem\n\x93."), []string{"os.system"}, []string{"scan.pickle.global"}, ""},
		{"call of call", cat([]byte("\x80\x02cbuiltins\nlist\n)R)R.")), []string{"builtins.list"}, []string{"scan.pickle.indirect_call"}, ""},
		{"reduce on a string", []byte("\x80\x02X\x01\x00\x00\x00a)R."), nil, []string{"scan.pickle.unresolved"}, ""},
		{"benign dict", []byte("\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s."), nil, nil, ""},
		{"pop mark", []byte("\x80\x02(0N."), nil, nil, ""},
		{"truncated", []byte("\x80\x02}"), nil, nil, "truncated"},
		{"empty", nil, nil, nil, "empty stream"},
		{"no mark", []byte("\x80\x02t."), nil, nil, "no MARK"},
		{"odd setitems", []byte("\x80\x02}(Nu."), nil, nil, "odd number"},
		{"bad int", []byte("Iabc\n."), nil, nil, "not an integer"},
		{"unknown opcode", []byte("\x80\x02\xf0."), nil, nil, "unknown opcode 0xf0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := walk(tt.data)
			if tt.errorMsg != "" {
				var fe *pickle.FormatError
				require.True(t, errors.As(err, &fe), "want a FormatError, got %v", err)
				require.Contains(t, fe.Msg, tt.errorMsg)
				return
			}
			require.NoError(t, err)
			var gs []string
			for _, g := range res.Globals {
				gs = append(gs, g.Module+"."+g.Name)
			}
			require.Equal(t, tt.globals, gs)
			var cs []string
			for _, f := range res.Findings {
				cs = append(cs, f.Code)
			}
			for _, c := range tt.codes {
				require.Contains(t, cs, c)
			}
			if tt.codes == nil {
				require.Empty(t, res.Findings)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	o := pickle.Options{Limits: pickle.Limits{MaxMemo: 4, MaxStack: 8, MaxOps: 100}}
	run := func(data []byte) error {
		_, err := pickle.Walk(bufio.NewReader(bytes.NewReader(data)), 0, o)
		return err
	}
	require.ErrorContains(t, run([]byte("\x80\x04N\x94\x94\x94\x94\x94.")), "memo larger than 4")
	require.ErrorContains(t, run([]byte("\x80\x04NNNNNNNNNN.")), "stack deeper than 8")
	require.ErrorContains(t, run(append([]byte("\x80\x04"), bytes.Repeat([]byte("N0"), 60)...)), "more than 100 opcodes")
}

// FuzzWalk: no input may panic, hang or allocate without bound.
func FuzzWalk(f *testing.F) {
	for _, glob := range []string{"../../../testdata/scan/fixtures/*/*.pkl", "../../../testdata/scan/corpus/*/*.pkl"} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("\x80\x02cposix\nsystem\nq\x00X\x01\x00\x00\x00aq\x01\x85R."))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := pickle.Walk(bufio.NewReader(bytes.NewReader(data)), 0, pickle.Options{})
		if err == nil && res.End > int64(len(data)) {
			t.Fatalf("End %d past input of %d bytes", res.End, len(data))
		}
	})
}

// A dunder key hidden behind many ordinary keys is still seen: the
// walker keeps only a few keys per dict but checks them all.
func TestBuildDunderAfterManyKeys(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	b.WriteString("\x80\x02ccollections\nOrderedDict\n)R}(")
	for i := range 100 {
		b.WriteString("X\x03\x00\x00\x00k")
		b.WriteByte(byte('A' + i%26))
		b.WriteByte(byte('a' + i/26))
		b.WriteString("N")
	}
	b.WriteString("X\x0a\x00\x00\x00__reduce__Nub.")
	res, err := walk(b.Bytes())
	require.NoError(t, err)
	require.Len(t, res.Findings, 1)
	require.Equal(t, "scan.pickle.build", res.Findings[0].Code)
	require.Contains(t, res.Findings[0].Message, "__reduce__")
}
