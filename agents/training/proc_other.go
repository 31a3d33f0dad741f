//go:build !linux

package training

import "syscall"

// procAttr puts the command in its own process group; only Linux can tie
// its life to the server's.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
