package target

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// LiveRoot says why dir is the running system's own root directory — the
// same device and inode as /, whatever path names it (a symlink to /, a
// bind mount of it, /mnt/..) — or "" when it is not. A dir that cannot be
// stat'ed is "" too: the open that follows reports it.
func LiveRoot(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	root, err := os.Stat("/")
	if err != nil || !os.SameFile(fi, root) {
		return ""
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("device %d:%d inode %d, the same as /", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	}
	return "the same directory as /"
}

// RefuseLiveRoot refuses (exit 3) a root dir that is the running system's
// own root (LiveRoot): a command that edits an offline root must never edit
// the rescue system's files, nor those of a system running from that root.
// subject names dir as the user gave it ("--root /mnt/g"); what says what
// to give instead.
func RefuseLiveRoot(dir, subject, what string) error {
	why := LiveRoot(dir)
	if why == "" {
		return nil
	}
	return xerr.Refusedf("%s is the running system's own root (%s): %s; nothing was changed", subject, why, what)
}
