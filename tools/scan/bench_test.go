package scan_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/tools/scan"
)

// BenchmarkSafetensors measures validate+hash throughput (bytes/s) on a
// 64 MiB file; bench/scan/run.sh compares the 1 GiB case with sha256sum.
func BenchmarkSafetensors(b *testing.B) {
	const n, size = 16, 4 << 20
	var hdr strings.Builder
	hdr.WriteString("{")
	for i := range n {
		if i > 0 {
			hdr.WriteString(",")
		}
		fmt.Fprintf(&hdr, `"t%d":{"dtype":"F32","shape":[%d],"data_offsets":[%d,%d]}`, i, size/4, i*size, (i+1)*size)
	}
	hdr.WriteString("}")
	p := filepath.Join(b.TempDir(), "w.safetensors")
	data := binary.LittleEndian.AppendUint64(nil, uint64(hdr.Len()))
	data = append(data, hdr.String()...)
	data = append(data, make([]byte, n*size)...)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		res, err := scan.File(context.Background(), p, scan.Options{})
		if err != nil || res.Verdict != scan.Safe {
			b.Fatal(err, res.Findings)
		}
	}
}

// BenchmarkPickleSklearn measures the walker on a real scikit-learn pipeline.
func BenchmarkPickleSklearn(b *testing.B) {
	p := "../../testdata/scan/corpus/benign/sklearn-pipeline-p4.pkl"
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		res, err := scan.File(context.Background(), p, scan.Options{})
		if err != nil || res.Verdict != scan.Safe {
			b.Fatal(err, res.Findings)
		}
	}
}
