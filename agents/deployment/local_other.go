//go:build !linux

package deployment

import "os/exec"

// setParentDeath has no portable equivalent outside Linux; Close stops
// the servers on an orderly shutdown.
func setParentDeath(cmd *exec.Cmd) {}
