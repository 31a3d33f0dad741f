// Package sign makes an artifact's supply chain checkable: a manifest of
// the SHA-256 digest and size of every file of a model (a file or a
// folder), its canonical JSON form, and a detached Ed25519 signature
// over those bytes. Verification says which files were added, removed or
// changed since signing. Keys are PEM (PKCS#8 private, PKIX public), the
// formats openssl genpkey -algorithm ed25519 uses, so keys can come from
// an existing key-management process.
package sign
