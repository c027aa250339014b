//go:build linux || darwin

package hostcheck

import (
	"io/fs"
	"syscall"
)

// stamp is what changes when an entry is added to, removed from or renamed
// in a folder, and that the box cannot set back: the folder's inode and
// ctime.
type stamp struct {
	Dev, Ino uint64
	Ctime    int64 // ns
}

func stampOf(fi fs.FileInfo) (stamp, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return stamp{}, false
	}
	return stamp{Dev: uint64(st.Dev), Ino: uint64(st.Ino), Ctime: ctimeNs(st)}, true
}
