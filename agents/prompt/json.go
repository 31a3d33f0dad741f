package prompt

import "encoding/json"

// mustJSON encodes a details value; the types here hold only strings,
// numbers and slices, so an error is a programming mistake shown as null.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
