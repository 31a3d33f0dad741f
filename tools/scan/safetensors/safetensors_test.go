package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/scan/safetensors"
)

func file(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, header string
		data         int
		where, msg   string
	}{
		{"valid", `{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`, 16, "", ""},
		{"valid padded", `{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}    `, 2, "", ""},
		{"sub-byte dtype", `{"a":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}`, 2, "", ""},
		{"empty object", `{}`, 0, "", ""},
		{"tail bytes", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 3, "header", "cover 1 bytes but the data buffer holds 3"},
		{"gap", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2, `tensor "a"`, "gap of 1 bytes"},
		{"overlap", `{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, 3, `tensor "b"`, "overlap"},
		{"past end", `{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}`, 4, `tensor "a"`, "beyond the 4-byte data buffer"},
		{"shape mismatch", `{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8, `tensor "a"`, "needs 12"},
		{"unknown dtype", `{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, 1, `tensor "a"`, "unknown dtype"},
		{"negative shape", `{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, 1, `tensor "a"`, "non-negative"},
		{"reversed offsets", `{"a":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}}`, 2, `tensor "a"`, "after end"},
		{"overflow", `{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, 0, `tensor "a"`, "overflows"},
		{"metadata not string", `{"__metadata__":{"k":["x"]}}`, 0, "__metadata__", "only strings"},
		{"duplicate", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2, `tensor "a"`, "twice"},
		{"not object", `[]`, 0, "header", "start with '{'"},
		{"garbage after", `{} x`, 0, "header", "non-space"},
		{"bad utf8", "{\"\xff\":1}", 0, "header", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := file(tt.header, tt.data)
			_, err := safetensors.Validate(bytes.NewReader(b), int64(len(b)))
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			var fe *safetensors.FormatError
			require.True(t, errors.As(err, &fe), "want a FormatError, got %v", err)
			require.Equal(t, tt.where, fe.Where)
			require.Contains(t, fe.Msg, tt.msg)
		})
	}
}

func TestHeaderLength(t *testing.T) {
	t.Parallel()
	for _, n := range []uint64{0, safetensors.MaxHeader + 1, 1 << 63} {
		b := binary.LittleEndian.AppendUint64(nil, n)
		b = append(b, "{}"...)
		_, err := safetensors.Validate(bytes.NewReader(b), int64(len(b)))
		require.Error(t, err)
	}
	_, err := safetensors.Validate(bytes.NewReader([]byte{1, 2}), 2)
	require.ErrorContains(t, err, "shorter than the 8-byte")
}

func TestOracleFile(t *testing.T) {
	t.Parallel()
	p := "../../../testdata/scan/fixtures/benign/weights.safetensors"
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	st, _ := f.Stat()
	info, err := safetensors.Validate(f, st.Size())
	require.NoError(t, err)
	require.Len(t, info.Tensors, 2)
	require.Equal(t, map[string]string{"format": "pt"}, info.Metadata)
}

func FuzzValidateHeader(f *testing.F) {
	files, _ := filepath.Glob("../../../testdata/scan/*/*/*.safetensors")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err == nil && len(data) > 8 {
			n := binary.LittleEndian.Uint64(data)
			if n <= uint64(len(data)-8) {
				f.Add(data[8:8+n], uint64(len(data))-8-n)
			}
		}
	}
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`), uint64(4))
	f.Fuzz(func(t *testing.T, hdr []byte, data uint64) {
		if len(hdr) == 0 {
			return
		}
		info, err := safetensors.ValidateHeader(hdr, data)
		if err == nil {
			var sum uint64
			for _, ts := range info.Tensors {
				sum += ts.End - ts.Begin
			}
			if sum != data {
				t.Fatalf("valid header covers %d of %d data bytes", sum, data)
			}
		}
	})
}
