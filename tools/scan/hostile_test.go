package scan_test

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/scan"
)

// The hostile inputs too big to commit are built here. Each must end as
// invalid with a reason, within the walker's limits, without a panic.
func TestHostileInputs(t *testing.T) {
	t.Parallel()
	zipOf := func(members map[string][]byte, method uint16) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for name, data := range members {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
			require.NoError(t, err)
			_, err = w.Write(data)
			require.NoError(t, err)
		}
		require.NoError(t, zw.Close())
		return b.Bytes()
	}
	many := map[string][]byte{}
	for i := range 10000 {
		many[fmt.Sprintf("m%d.txt", i)] = nil
	}
	var zbomb bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&zbomb, 9)
	zw.Write([]byte("\x80\x02"))
	zw.Write(bytes.Repeat([]byte("N0"), 20<<20)) // 40 MB of NONE, POP from ~40 KB
	zw.Write([]byte("N."))
	zw.Close()

	tests := []struct {
		name, file string
		data       []byte
		reason     string
	}{
		{"huge memo", "memo.pkl", append(append([]byte("\x80\x04N"), bytes.Repeat([]byte{0x94}, 1<<20+1)...), '.'), "memo larger than"},
		{"deep nesting", "deep.pkl", append(append([]byte("\x80\x02"), bytes.Repeat([]byte("("), 1<<20+10)...), '.'), "stack deeper than"},
		{"deep lists", "lists.pkl", append(append([]byte("\x80\x02"), bytes.Repeat([]byte("]"), 1<<20+10)...), '.'), "stack deeper than"},
		{"10,000 members", "many.zip", zipOf(many, zip.Store), "10000 members"},
		{"1000:1 member", "bomb.zip", zipOf(map[string][]byte{"z.bin": make([]byte, 8<<20)}, zip.Deflate), "expands"},
		{"nested zip", "nested.zip", zipOf(map[string][]byte{"in.zip": zipOf(map[string][]byte{"a.pkl": []byte("\x80\x02N.")}, zip.Store)}, zip.Store), "archive inside an archive"},
		{"zlib bomb", "bomb.joblib", zbomb.Bytes(), "compression bomb"},
		{"empty", "empty.pt", nil, "empty"},
		{"truncated frame", "frame.pkl", []byte("\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f"), "truncated"},
		{"unset slot", "get.pkl", []byte("\x80\x02j\x00\x00\x00\x80."), "never set"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(dir, tt.file)
			require.NoError(t, os.WriteFile(p, tt.data, 0o644))
			res, err := scan.File(context.Background(), p, scan.Options{})
			require.NoError(t, err)
			require.Equal(t, scan.Invalid, res.Verdict, "%+v", res.Findings)
			require.Contains(t, res.Findings[0].Message, tt.reason)
		})
	}
}

// TestTwoGigabyteFile scans a sparse 2 GiB file: a pickle whose
// BINBYTES8 claims 2 GiB and is followed by zeros, without STOP. It
// takes a few seconds of hashing, so it runs only with
// MODELGATE_SCAN_BIG=1.
func TestTwoGigabyteFile(t *testing.T) {
	if os.Getenv("MODELGATE_SCAN_BIG") == "" {
		t.Skip("set MODELGATE_SCAN_BIG=1 to scan a sparse 2 GiB file")
	}
	p := filepath.Join(t.TempDir(), "big.pkl")
	f, err := os.Create(p)
	require.NoError(t, err)
	hdr := []byte("\x80\x04\x8e")
	hdr = binary.LittleEndian.AppendUint64(hdr, 2<<30)
	_, err = f.Write(hdr)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(2<<30))
	require.NoError(t, f.Close())
	res, err := scan.File(context.Background(), p, scan.Options{})
	require.NoError(t, err)
	require.Equal(t, scan.Invalid, res.Verdict)
	require.True(t, strings.Contains(res.Findings[0].Message, "truncated"), "%+v", res.Findings)
}
