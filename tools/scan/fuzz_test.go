package scan_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelgate/modelgate/tools/scan"
)

// FuzzArchive feeds arbitrary bytes to the zip reader: every outcome is
// a verdict, never a panic, and an invalid verdict always says why.
func FuzzArchive(f *testing.F) {
	for _, glob := range []string{"../../testdata/scan/*/*/*.pt", "../../testdata/scan/*/*/*.zip",
		"../../testdata/scan/*/*/*.npz", "../../testdata/scan/*/*/*.keras",
		// issue 13: folder-named members, members by content, polyglots
		"../../testdata/scan/bypass/*.pt", "../../testdata/scan/bypass/*.zip", "../../testdata/scan/bypass/*.npz"} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res := scan.ScanArchive(bytes.NewReader(data), int64(len(data)), scan.Options{})
		switch res.Verdict {
		case scan.Safe, scan.Unsafe:
		case scan.Invalid:
			if len(res.Findings) == 0 {
				t.Fatal("invalid without a reason")
			}
		default:
			t.Fatalf("verdict %q", res.Verdict)
		}
	})
}

// FuzzFile drives format detection and every format reader (pickle,
// safetensors, numpy, ONNX, GGUF, zip, JSON) with arbitrary bytes.
func FuzzFile(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/scan/*/*/*")
	more, _ := filepath.Glob("../../testdata/scan/*/*") // real/ and bypass/ (issue 13)
	for _, p := range append(files, more...) {
		if data, err := os.ReadFile(p); err == nil && len(data) < 1<<16 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := scan.Reader(context.Background(), "fuzz", bytes.NewReader(data), int64(len(data)), scan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict == scan.Invalid && len(res.Findings) == 0 {
			t.Fatal("invalid without a reason")
		}
	})
}
