package client

import (
	"os"
	"syscall"
)

// changeTime is the file's ctime and inode: a write or a rename over the
// file changes one of them even when it keeps the size and mtime.
func changeTime(fi os.FileInfo) (int64, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Sec*1e9 + st.Ctim.Nsec, st.Ino
	}
	return 0, 0
}
