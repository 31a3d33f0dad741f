package training

import "syscall"

// procAttr puts the command in its own process group and has the kernel
// kill it when the server dies, even by kill -9.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
