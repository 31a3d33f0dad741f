package config

import "github.com/modelgate/modelgate/tools/strictyaml"

// The strict decoder and its error types live in tools/strictyaml so that
// tools (the schema of tools/validate) can report YAML problems the same
// way without importing the config; these names keep config's callers
// reading as they did.
type (
	Position = strictyaml.Position
	Problem  = strictyaml.Problem
	Error    = strictyaml.Error
)

// DecodeStrict is strictyaml.Decode.
var DecodeStrict = strictyaml.Decode
