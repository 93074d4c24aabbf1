package odm

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// CheckNotLiveDev refuses (exit 3) a dev directory dir of root that is the
// running system's own /dev, whatever its path: a bind mount of /dev (the
// usual chroot preparation), a symlink to it, a subdirectory of it, a second
// devtmpfs mount (the kernel has one devtmpfs, shared by every mount of it),
// or a devpts. The directory checked is the one ScanDev lists and a purge
// changes: dir resolved chroot-style inside root.
func CheckNotLiveDev(root *target.Root, dir string) error {
	resolved, err := root.Resolve(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", path.Join(root.Dir(), dir), err)
	}
	fi, err := root.Stat(resolved)
	if err != nil {
		return fmt.Errorf("%s: %w", path.Join(root.Dir(), dir), err)
	}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer mi.Close()
	why, err := liveDev(fi, "/dev", mi)
	if err != nil || why == "" {
		return err
	}
	return xerr.Refusedf("--dev %s is the rescue system's own /dev (%s): give the dev directory of the mounted AIX root; nothing was changed", path.Join(root.Dir(), dir), why)
}

// liveDev says why the directory fi is the live dev directory dev, or "".
// When dev is a filesystem of its own (a devtmpfs, as on every live USB),
// anything on it is; when it is a plain directory of its parent's
// filesystem, only that directory itself (device and inode) is. Any
// devtmpfs or devpts is, from mountinfo (the fstype of fi's device).
func liveDev(fi os.FileInfo, dev string, mountinfo io.Reader) (string, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("%s: no device number", fi.Name())
	}
	var live, parent syscall.Stat_t
	if err := syscall.Stat(dev, &live); err != nil {
		return "", err
	}
	if err := syscall.Stat(path.Dir(dev), &parent); err != nil {
		return "", err
	}
	devno := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	switch {
	case st.Dev == live.Dev && st.Ino == live.Ino:
		return fmt.Sprintf("the same directory as %s, device %s inode %d", dev, devno, st.Ino), nil
	case st.Dev == live.Dev && live.Dev != parent.Dev:
		return fmt.Sprintf("on the filesystem mounted on %s, device %s", dev, devno), nil
	}
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 1 || f[2] != devno {
			continue
		}
		if g[0] == "devtmpfs" || g[0] == "devpts" {
			return fmt.Sprintf("a %s, device %s, mounted on %s", g[0], devno, f[4]), nil
		}
	}
	return "", sc.Err()
}
