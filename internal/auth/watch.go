package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"time"
)

// Watch reloads the tokens file into a whenever its content changes,
// checking every interval until ctx ends, so that removing a person from
// the file revokes them without a restart. It compares content digests
// rather than modification times: an editor's rename, a coarse mtime or a
// file rewritten within one second are all seen. A file that does not
// parse keeps the identities as they were, and onErr hears about it (once
// per change). It returns at once: the file as it is now is the baseline,
// and the watching goroutine stops when ctx ends.
func Watch(ctx context.Context, a *Authenticator, path string, interval time.Duration, onErr func(error), onReload func()) {
	if interval <= 0 {
		return
	}
	// The baseline is taken before returning, so a change made right after
	// the call is never mistaken for the starting content.
	last := digestFile(path)
	go watch(ctx, a, path, interval, last, onErr, onReload)
}

func watch(ctx context.Context, a *Authenticator, path string, interval time.Duration, last []byte, onErr func(error), onReload func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d := digestFile(path)
		if d == nil || bytes.Equal(d, last) {
			continue // unreadable for a moment (being replaced) or unchanged
		}
		last = d
		if err := a.Reload(path); err != nil {
			if onErr != nil {
				onErr(err)
			}
			continue
		}
		if onReload != nil {
			onReload()
		}
	}
}

func digestFile(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(b)
	return sum[:]
}
