package agents

import (
	"context"
	"errors"
	"net"
)

// retriable marks an error that may go away if the stage is tried again
// (an upstream that is restarting, a timeout).
type retriable struct{ err error }

func (r retriable) Error() string { return r.err.Error() }
func (r retriable) Unwrap() error { return r.err }

// Retriable marks err as worth retrying. The coordinator retries such
// errors with backoff; every other error fails the stage at once, because
// retrying bad input only repeats the same failure more slowly.
func Retriable(err error) error {
	if err == nil {
		return nil
	}
	return retriable{err}
}

// IsRetriable reports whether err was marked Retriable, is a network
// error, or is an attempt's own deadline.
func IsRetriable(err error) bool {
	if err == nil {
		return false
	}
	var r retriable
	if errors.As(err, &r) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
