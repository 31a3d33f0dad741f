package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/charmbracelet/log"
)

// KeyFileName is the signing key inside a modelgate data directory; its
// public half is KeyFileName + ".pub".
const KeyFileName = "audit.key"

// KeyID names a public key in checkpoints: the first 16 hex digits of the
// SHA-256 of the raw 32-byte key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// LoadOrCreateKey reads the Ed25519 private key at path (PEM PKCS#8, or
// the raw 32-byte seed or 64-byte key), or creates one (PEM, mode 0600)
// when the file does not exist. Either way it makes sure path+".pub"
// holds the public key (PEM PKIX).
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	return loadOrCreateKey(path, log.Default())
}

// loadOrCreateKey is LoadOrCreateKey telling lg when it creates the key:
// the caller's logger, so that `run --local`, which makes a fresh data
// folder every time, does not announce a new key on every run.
func loadOrCreateKey(path string, lg *log.Logger) (ed25519.PrivateKey, error) {
	key, err := readPrivateKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		if key, err = createPrivateKey(path); err == nil {
			lg.Info("created audit signing key", "path", path, "key_id", KeyID(key.Public().(ed25519.PublicKey)))
		}
	}
	if err != nil {
		return nil, err
	}
	if err := writePublicKey(path+".pub", key.Public().(ed25519.PublicKey)); err != nil {
		return nil, err
	}
	return key, nil
}

func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit key %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("audit signing key is readable by others; chmod 600 it", "path", path, "mode", fi.Mode().Perm())
	}
	key, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	return key, nil
}

// ParsePrivateKey accepts PEM PKCS#8 ("PRIVATE KEY"), a raw 32-byte seed
// or a raw 64-byte Ed25519 private key.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\"", blk.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#8: %w", err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("PKCS#8 key is %T, want an Ed25519 key", k)
		}
		return ek, nil
	}
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		k := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if !bytes.Equal(k, b) {
			return nil, errors.New("raw 64-byte key: public half does not match the seed")
		}
		return k, nil
	}
	return nil, fmt.Errorf("not a PEM PKCS#8 Ed25519 key nor a raw 32- or 64-byte key (%d bytes)", len(b))
}

func createPrivateKey(path string) (ed25519.PrivateKey, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create directory for audit key %s: %w", path, err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate audit key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode audit key: %w", err)
	}
	// O_EXCL: when two processes start on a fresh data dir, one creates the
	// key and the other reads it instead of overwriting it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readPrivateKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create audit key %s: %w", path, err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write audit key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write audit key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write audit key %s: %w", path, err)
	}
	return key, nil
}

func encodePublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func writePublicKey(path string, pub ed25519.PublicKey) error {
	if b, err := os.ReadFile(path); err == nil {
		have, err := ParsePublicKey(b)
		if err != nil {
			return fmt.Errorf("audit public key %s: %w", path, err)
		}
		if !have.Equal(pub) {
			return fmt.Errorf("audit public key %s (key id %s) does not match the private key (key id %s); move one of them away",
				path, KeyID(have), KeyID(pub))
		}
		return nil
	}
	b, err := encodePublicKey(pub)
	if err != nil {
		return fmt.Errorf("encode audit public key: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write audit public key %s: %w", path, err)
	}
	return nil
}

// LoadPublicKey reads an Ed25519 public key file: PEM PKIX ("PUBLIC
// KEY"), the raw 32 bytes, or their base64 or hex text.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read public key %s: %w", path, err)
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}

// ParsePublicKey is LoadPublicKey on bytes.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\"", blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKIX: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("key is %T, want an Ed25519 public key", k)
		}
		return ek, nil
	}
	if len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(bytes.Clone(b)), nil
	}
	t := bytes.TrimSpace(b)
	if raw, err := hex.DecodeString(string(t)); err == nil && len(raw) == ed25519.PublicKeySize {
		return raw, nil
	}
	if raw, err := base64.StdEncoding.DecodeString(string(t)); err == nil && len(raw) == ed25519.PublicKeySize {
		return raw, nil
	}
	return nil, fmt.Errorf("not a PEM PKIX Ed25519 public key, nor 32 raw, hex or base64 bytes (%d bytes)", len(b))
}
