package bundle_test

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/release/bundle"
	"github.com/modelgate/modelgate/internal/store"
)

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// sample writes a bundle of one artifact, signed by a fresh key.
func sample(t testing.TB) ([]byte, ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	art := []byte(`{"learner":{"feature_names":["a","b"]}}`)
	var buf bytes.Buffer
	require.NoError(t, bundle.Write(&buf, bundle.WriteParams{Key: priv,
		Manifest: bundle.Manifest{Model: "fraud", Version: "v2", Digest: digest(art), RunID: "r1",
			Metrics: map[string]float64{"roc_auc": 0.93}, Lineage: &store.Lineage{Commit: "abc", Data: map[string]string{"reference": "sha256:r"}},
			Aliases: []string{"champion"}, CreatedAt: time.Unix(1700000000, 0).UTC(), ExportedAt: time.Unix(1700000100, 0).UTC()},
		Files: []bundle.File{{Name: "artifact", Size: int64(len(art)), SHA: digest(art),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(art)), nil }}}}))
	return buf.Bytes(), pub, priv
}

// rewrite copies a bundle, passing each member through edit.
func rewrite(t *testing.T, b []byte, edit func(name string, data []byte) []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		data = edit(h.Name, data)
		h.Size = int64(len(data))
		require.NoError(t, tw.WriteHeader(h))
		_, err = tw.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return out.Bytes()
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	b, pub, _ := sample(t)
	rd, err := bundle.ReadVerify(bytes.NewReader(b), bundle.ReadParams{Dir: t.TempDir(), PublicKey: pub})
	require.NoError(t, err)
	require.Equal(t, "fraud", rd.Manifest.Model)
	require.Equal(t, bundle.Format, rd.Manifest.Format)
	require.Equal(t, 0.93, rd.Manifest.Metrics["roc_auc"])
	require.Equal(t, "abc", rd.Manifest.Lineage.Commit)
	require.Equal(t, []string{"champion"}, rd.Manifest.Aliases)
	require.Len(t, rd.Manifest.Blobs, 1)
	require.Equal(t, rd.Manifest.Digest, rd.Manifest.Blobs[0].SHA256)
	require.Equal(t, bundle.KeyID(pub), rd.Signature.KeyID)
	require.FileExists(t, rd.Paths["artifact"])
}

// TestTampered: each way of changing a signed bundle is refused with
// ErrTampered and a message naming what changed.
func TestTampered(t *testing.T) {
	t.Parallel()
	b, pub, _ := sample(t)
	other, _, _ := sample(t) // same content, another key: its signature is a valid one of something else
	var otherSig []byte
	rewrite(t, other, func(name string, d []byte) []byte {
		if name == bundle.SignatureName {
			otherSig = d
		}
		return d
	})
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	cases := []struct {
		name string
		data []byte
		pub  ed25519.PublicKey
		want []string
	}{
		{"artifact byte flipped", rewrite(t, b, func(n string, d []byte) []byte {
			if n == "blobs/artifact" {
				d = append([]byte(nil), d...)
				d[3] ^= 0x01
			}
			return d
		}), pub, []string{"blob artifact changed"}},
		{"metric edited", rewrite(t, b, func(n string, d []byte) []byte {
			if n == bundle.ManifestName {
				return bytes.Replace(d, []byte("0.93"), []byte("0.99"), 1)
			}
			return d
		}), pub, []string{"manifest.sig does not match manifest.json", "changed after signing"}},
		{"signature swapped", rewrite(t, b, func(n string, d []byte) []byte {
			if n == bundle.SignatureName {
				return otherSig
			}
			return d
		}), pub, []string{"manifest.sig names key", "does not match manifest.json"}},
		{"another key", b, otherPub, []string{"verifying with key " + bundle.KeyID(otherPub)}},
		{"blob added", appendMember(t, b, "blobs/extra", []byte("x")), pub, []string{"blob extra is in the bundle but not in the signed manifest"}},
		{"signature not base64", rewrite(t, b, func(n string, d []byte) []byte {
			if n == bundle.SignatureName {
				return []byte(`{"algorithm":"ed25519","key_id":"00","signature":"%%%"}`)
			}
			return d
		}), pub, []string{"not an Ed25519 signature"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := bundle.ReadVerify(bytes.NewReader(c.data), bundle.ReadParams{Dir: t.TempDir(), PublicKey: c.pub})
			require.ErrorIs(t, err, bundle.ErrTampered)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func appendMember(t *testing.T, b []byte, name string, data []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.NoError(t, tw.WriteHeader(h))
		_, err = io.Copy(tw, tr)
		require.NoError(t, err)
	}
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))}))
	_, err := tw.Write(data)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	return out.Bytes()
}

// TestMalformed: input that is not a bundle is a plain error (exit 2),
// never ErrTampered, naming what is wrong.
func TestMalformed(t *testing.T) {
	t.Parallel()
	b, pub, _ := sample(t)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not a tar", []byte("hello, this is not a tar archive at all"), "not a tar archive"},
		{"truncated", b[:700], "bundle"},
		{"empty", nil, "no manifest.json"},
		{"path escape", appendMember(t, b, "blobs/../../etc/passwd", []byte("x")), "blob name"},
		{"unknown member", appendMember(t, b, "README", []byte("x")), `unexpected member "README"`},
		{"manifest twice", appendMember(t, b, "manifest.json", []byte("{}")), "appears twice"},
		{"manifest not json", rewrite(t, b, func(n string, d []byte) []byte {
			if n == bundle.ManifestName {
				return []byte("not json")
			}
			return d
		}), "manifest.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := bundle.ReadVerify(bytes.NewReader(c.data), bundle.ReadParams{Dir: t.TempDir(), PublicKey: pub})
			require.Error(t, err)
			require.False(t, errors.Is(err, bundle.ErrTampered), "%v", err)
			require.Contains(t, err.Error(), c.want)
		})
	}
}

// TestWriteRefusesWrongBytes: a bundle is never signed over bytes that
// are not the registered digest.
func TestWriteRefusesWrongBytes(t *testing.T) {
	t.Parallel()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	err = bundle.Write(io.Discard, bundle.WriteParams{Key: priv, Manifest: bundle.Manifest{Model: "m", Version: "1"},
		Files: []bundle.File{{Name: "artifact", Size: 3, SHA: digest([]byte("abc")),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("abd")), nil }}}})
	require.ErrorContains(t, err, "are not the registered")
}

func FuzzReadVerify(f *testing.F) {
	b, pub, _ := sample(f)
	f.Add(b)
	f.Add([]byte("not a tar"))
	f.Add(b[:1024])
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = bundle.ReadVerify(bytes.NewReader(data), bundle.ReadParams{Dir: t.TempDir(), PublicKey: pub, MaxBytes: 1 << 20})
	})
}
