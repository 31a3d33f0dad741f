// Package audit is modelgate's tamper-evident audit trail: every run
// transition, decision, approval and rollout step is appended here before
// it takes effect, and anyone holding the public key can later prove that
// nothing was changed, removed, reordered or cut off.
//
// Entries form a hash chain over their RFC 8785 canonical JSON:
//
//	leaf_i = SHA-256(0x00 || canonical(entry_i without hash))
//	h_i    = SHA-256(0x01 || h_{i-1} || leaf_i),  h_0 = 32 zero bytes
//
// with seq numbers gap-free from 1 (the store refuses any other seq). A
// Trail signs the head with Ed25519 every CheckpointEvery entries, every
// CheckpointInterval, on demand and on Close; a signed checkpoint fixes
// every entry up to it. Verify streams the trail (from a store or an
// export file), recomputes the chain, checks every checkpoint, and names
// the first bad entry. docs/audit.md states the scheme byte for byte.
//
// A Trail writes through one goroutine that owns the chain head. Appends
// arriving while a transaction is in flight queue up and are written
// together in the next one (group commit):
//
//	Append ──► reqs ──► loop: take 1, drain the waiting ones ──► sequence + hash ──► one transaction
//	                     ▲                                           │ ErrConflict (another process)
//	                     └──────────── re-read head, re-sequence ◄───┘
package audit
