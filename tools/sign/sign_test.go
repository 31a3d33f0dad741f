package sign_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/sign"
)

type bundle struct {
	dir, model, key, pub string
}

func setup(t *testing.T) bundle {
	t.Helper()
	dir := t.TempDir()
	b := bundle{dir: dir, model: filepath.Join(dir, "model"), key: filepath.Join(dir, "k")}
	require.NoError(t, os.MkdirAll(filepath.Join(b.model, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(b.model, "a.bin"), []byte("weights"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(b.model, "sub", "config.json"), []byte(`{"x":1}`), 0o644))
	pub, err := sign.GenerateKey(b.key)
	require.NoError(t, err)
	b.pub = pub
	return b
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tamper  func(b bundle)
		problem string
	}{
		{"untouched", func(bundle) {}, ""},
		{"changed", func(b bundle) { os.WriteFile(filepath.Join(b.model, "a.bin"), []byte("WEIGHTS"), 0o644) }, "a.bin changed"},
		{"added", func(b bundle) { os.WriteFile(filepath.Join(b.model, "evil.pkl"), []byte("x"), 0o644) }, "evil.pkl is not in the signed manifest"},
		{"removed", func(b bundle) { os.Remove(filepath.Join(b.model, "sub", "config.json")) }, "sub/config.json is signed but missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			m, err := sign.Build(ctx, sign.BuildParams{Root: b.model})
			require.NoError(t, err)
			require.Len(t, m.Files, 2)
			priv, err := sign.LoadPrivateKey(b.key)
			require.NoError(t, err)
			sigPath := sign.DefaultSignaturePath(b.model)
			require.NoError(t, sign.WriteSigned(sigPath, sign.Sign(m, priv)))
			tt.tamper(b)
			signed, err := sign.ReadSigned(sigPath)
			require.NoError(t, err)
			pub, err := sign.LoadPublicKey(b.pub)
			require.NoError(t, err)
			now, err := sign.Build(ctx, sign.BuildParams{Root: b.model})
			require.NoError(t, err)
			err = sign.Verify(signed, pub, now)
			if tt.problem == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, sign.ErrMismatch)
			require.ErrorContains(t, err, tt.problem)
		})
	}
}

func TestWrongKeyAndForgedManifest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m, err := sign.Build(ctx, sign.BuildParams{Root: b.model})
	require.NoError(t, err)
	priv, err := sign.LoadPrivateKey(b.key)
	require.NoError(t, err)
	s := sign.Sign(m, priv)

	other := setup(t)
	otherPub, err := sign.LoadPublicKey(other.pub)
	require.NoError(t, err)
	require.ErrorIs(t, sign.Verify(s, otherPub, m), sign.ErrMismatch)

	pub, _ := sign.LoadPublicKey(b.pub)
	forged := s
	forged.Manifest.Files = append([]sign.Entry(nil), s.Manifest.Files...)
	forged.Manifest.Files[0].SHA256 = "00" + forged.Manifest.Files[0].SHA256[2:]
	err = sign.Verify(forged, pub, forged.Manifest)
	require.ErrorContains(t, err, "does not match the manifest")
	forged.Signature = "!!"
	require.ErrorContains(t, sign.Verify(forged, pub, m), "not a base64")
}

func TestCanonical(t *testing.T) {
	t.Parallel()
	m, err := sign.NewManifest([]sign.Entry{{Path: "b<&>", SHA256: "02", Size: 2}, {Path: "a", SHA256: "01", Size: 1}})
	require.NoError(t, err)
	require.Equal(t, `{"files":[{"path":"a","sha256":"01","size":1},{"path":"b<&>","sha256":"02","size":2}]}`, string(m.Canonical()))
	_, err = sign.NewManifest([]sign.Entry{{Path: "a"}, {Path: "a"}})
	require.ErrorContains(t, err, "twice")
}

func TestBuildRefusesSymlinksAndExcludes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sig := filepath.Join(b.model, "model.sig")
	require.NoError(t, os.WriteFile(sig, []byte("{}"), 0o644))
	m, err := sign.Build(context.Background(), sign.BuildParams{Root: b.model, Exclude: []string{sig}})
	require.NoError(t, err)
	require.Len(t, m.Files, 2)
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(b.model, "link")))
	_, err = sign.Build(context.Background(), sign.BuildParams{Root: b.model})
	require.ErrorContains(t, err, "symbolic link")
}

func TestKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	st, err := os.Stat(b.key)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	_, err = sign.GenerateKey(b.key)
	require.Error(t, err, "keygen must not overwrite a key")
	_, err = sign.LoadPublicKey(b.key)
	require.ErrorContains(t, err, `want "PUBLIC KEY"`)
	_, err = sign.ReadSigned(b.pub)
	require.Error(t, err)
	require.False(t, errors.Is(err, sign.ErrMismatch))
}
