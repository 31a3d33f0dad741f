package deployment

import (
	"os/exec"
	"syscall"
)

// setParentDeath ends the model server with the coordinator: a restarted
// coordinator starts its own, so no orphan keeps a port or stale model.
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
