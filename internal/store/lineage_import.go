package store

import "time"

// LineageImport marks a version that came from another registry in a
// signed bundle: where it was exported, the key that signed it, and
// what it was there (its run, its aliases), since none of that names
// anything in this registry.
type LineageImport struct {
	Source     string    `json:"source,omitempty"` // the exporter as the bundle names it
	KeyID      string    `json:"key_id"`           // the Ed25519 key that signed the manifest
	Manifest   string    `json:"manifest"`         // sha256 of manifest.json as signed
	RunID      string    `json:"run_id,omitempty"` // the producing run, in the source registry
	Aliases    []string  `json:"aliases,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	ExportedAt time.Time `json:"exported_at,omitzero"`
	ImportedBy string    `json:"imported_by"`
	ImportedAt time.Time `json:"imported_at"`
}
