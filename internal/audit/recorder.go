package audit

import "context"

// Recorder writes an event to the audit trail. *Trail implements it; the
// layers above take a Recorder so that their tests can use
// audittest.Recorder instead of a database.
type Recorder interface {
	Record(ctx context.Context, typ, runID, actor string, data any) error
}
