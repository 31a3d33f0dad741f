// Package policies holds modelgate's default Rego bundle: promotion.rego
// decides whether a candidate may be promoted and who must approve it,
// authz.rego decides who may do what, and the _test.rego files are the
// bundle's own tests, which the oversight engine runs before it accepts a
// bundle. A pipeline replaces the bundle with a folder of its own
// (policy.bundle in modelgate.yaml, or --bundle on the CLI).
package policies

import "embed"

// FS is the default bundle, embedded in the binary.
//
//go:embed *.rego
var FS embed.FS
