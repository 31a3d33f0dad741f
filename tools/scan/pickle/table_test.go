package pickle_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/scan/pickle"
)

// TestAllowlistTable: the embedded table says which library versions it
// was generated from, and its rows are what the generator promises.
func TestAllowlistTable(t *testing.T) {
	t.Parallel()
	h := strings.Join(pickle.TableHeader(), "\n")
	for _, lib := range []string{"scikit-learn=", "xgboost=", "pandas=", "numpy=", "scipy=", "joblib=", "python="} {
		require.Contains(t, h, lib)
	}
	tests := []struct {
		module, qual, kind string
		ok                 bool
	}{
		{"sklearn.ensemble._forest", "RandomForestClassifier", "class", true},
		{"numpy.core.multiarray", "_reconstruct", "reconstructor", true},
		{"numpy.core._multiarray_umath", "log1p", "ufunc", true},
		{"builtins", "len", "builtin", true},
		{"torch._utils", "_rebuild_tensor_v2", "manual", true},
		{"sklearn.utils._testing", "assert_run_python_script", "", false},
		{"sklearn", "LogisticRegression", "", false}, // an alias, not an allow row
	}
	for _, tt := range tests {
		t.Run(tt.module+"."+tt.qual, func(t *testing.T) {
			t.Parallel()
			kind, ok := pickle.Allowed(tt.module, tt.qual)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.kind, kind)
		})
	}
}
