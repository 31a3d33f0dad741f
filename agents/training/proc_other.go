//go:build !linux

package training

import "syscall"

// procAttr puts the command in its own process group; only Linux can tie
// its life to the server's.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// treeAttr is procAttr: without PID namespaces there is no way to take a
// command's whole tree down with the server.
func treeAttr() *syscall.SysProcAttr { return procAttr() }
