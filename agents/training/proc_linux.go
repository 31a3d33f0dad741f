package training

import (
	"os"
	"syscall"
)

// procAttr puts the command in its own process group and has the kernel
// kill it when the server dies, even by kill -9.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// treeAttr is procAttr for a command that runs outside bubblewrap: the
// command also becomes the first process of a PID namespace of its own.
// Pdeathsig reaches only the direct child; a worker a training script
// started would outlive a kill -9 of the server and keep writing into
// the artifact folder while the resumed attempt runs. When the first
// process of a PID namespace dies, the kernel kills every process in it,
// so the whole tree goes with the server. The user namespace maps the
// server's own uid and gid, so files the command writes stay the user's.
// bwrap does this itself (--unshare-pid, --die-with-parent).
func treeAttr() *syscall.SysProcAttr {
	a := procAttr()
	a.Cloneflags = syscall.CLONE_NEWPID | syscall.CLONE_NEWUSER
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
	a.GidMappingsEnableSetgroups = false
	return a
}
