package target

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/flock"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// LockOptions ask Open to take the target's writer lock: one xsrescue at a
// time may plan and apply changes to one target, whatever journal it uses.
// The lock is held from before the first file is read for the plan until
// Close, so what was planned is what is applied.
type LockOptions struct {
	// Dir holds the lock files; "" is LockDir().
	Dir string
	// Wait is how long to wait for another xsrescue holding the lock
	// before refusing (exit 3, naming it); 0 tries once.
	Wait time.Duration
}

// LockDirEnv overrides where lock files live (tests, or a rescue system
// whose /run is read-only).
const LockDirEnv = "XSRESCUE_LOCK_DIR"

// DefaultLockDir is where lock files live: /run is a tmpfs on every live
// system, so a lock file never touches a disk and is gone after a reboot.
const DefaultLockDir = "/run/xsrescue"

// LockDir is $XSRESCUE_LOCK_DIR, or /run/xsrescue.
func LockDir() string {
	if d := os.Getenv(LockDirEnv); d != "" {
		return d
	}
	return DefaultLockDir
}

// ErrLocked is wrapped by the refusal given when another xsrescue still
// holds the target's lock after the wait.
var ErrLocked = errors.New("in use by another xsrescue")

// Lock keys. They name the target by what cannot change while it is being
// edited, never by a path a symlink or bind mount could alias:
//
//	disk partition  fs-UUID                     (the filesystem's UUID)
//	                disk-RDEV-pN / disk-DEV-INO-pN   (no UUID: the disk and partition number)
//	--root DIR      dir-DEV-INO                 (the directory's device and inode)
//	FILE            file-DEV-INO-NAMEHASH       (its directory and name: the journal
//	                                             replaces the file by rename, so its own
//	                                             inode changes with every edit)
func dirKey(fi os.FileInfo) string {
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("dir-%x-%d", uint64(st.Dev), st.Ino)
}

func fileKey(dir os.FileInfo, name string) string {
	st := dir.Sys().(*syscall.Stat_t)
	h := sha256.Sum256([]byte(name))
	return fmt.Sprintf("file-%x-%d-%s", uint64(st.Dev), st.Ino, hex.EncodeToString(h[:8]))
}

func diskKey(uuid string, disk os.FileInfo, isBlock bool, n int) string {
	if uuid != "" && strings.Trim(uuid, "0123456789abcdefABCDEF-") == "" {
		return "fs-" + strings.ToLower(uuid)
	}
	if uuid != "" {
		h := sha256.Sum256([]byte(uuid))
		return "fs-" + hex.EncodeToString(h[:16])
	}
	st := disk.Sys().(*syscall.Stat_t)
	if isBlock {
		return fmt.Sprintf("disk-%x-p%d", uint64(st.Rdev), n)
	}
	return fmt.Sprintf("disk-%x-%d-p%d", uint64(st.Dev), st.Ino, n)
}

// lock is a held writer lock.
type lock struct {
	f    *os.File
	path string
}

// takeLock waits (o.Wait at most) for the lock key; name is how messages
// name the target. A refusal is exit 3 and names the holder's pid and
// command line.
func takeLock(ctx context.Context, o *LockOptions, key, name string) (*lock, error) {
	var f *os.File
	var p string
	var err error
	if dir := o.Dir; dir != "" || os.Getenv(LockDirEnv) != "" {
		if dir == "" {
			dir = LockDir()
		}
		f, p, err = openLockFile(dir, key, false)
	} else {
		f, p, err = openDefaultLock(key)
	}
	if err != nil {
		return nil, fmt.Errorf("lock for %s: %w", name, err)
	}
	err = flock.Wait(ctx, f, o.Wait)
	if be := (*flock.BusyError)(nil); errors.As(err, &be) {
		f.Close()
		return nil, xerr.Refusedf("%s is %w (%s; waited %s): nothing was changed; run the command again once it has finished, or give --wait a longer DURATION (lock %s)",
			name, ErrLocked, be.Holder, be.Waited, p)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &lock{f: f, path: p}, nil
}

// defaultRunDir is DefaultLockDir (a variable for the tests).
var defaultRunDir = DefaultLockDir

// openDefaultLock opens the lock file of key in the default directory.
// root: /run/xsrescue (or, where /run cannot hold it, a root-only
// directory in $TMPDIR). Anyone else: a directory of their own
// ($XDG_RUNTIME_DIR/xsrescue, else $TMPDIR/xsrescue-locks-UID): they can
// only write their own files, so they need no lock root honours, and a
// shared world-writable directory would let any user block root.
func openDefaultLock(key string) (*os.File, string, error) {
	uid := os.Geteuid()
	var dirs []string
	if uid == 0 {
		dirs = []string{defaultRunDir}
	} else if rt := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(rt) {
		dirs = []string{filepath.Join(rt, "xsrescue")}
	}
	dirs = append(dirs, filepath.Join(os.TempDir(), fmt.Sprintf("xsrescue-locks-%d", uid)))
	var f *os.File
	var p string
	var err error
	for i, dir := range dirs {
		f, p, err = openLockFile(dir, key, true)
		// A minimal initramfs has no /run (found by scripts/vmtest.sh); a
		// rescue system may have it read-only.
		if err == nil || i == len(dirs)-1 || !(errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EROFS) || errors.Is(err, os.ErrNotExist)) {
			break
		}
	}
	return f, p, err
}

// openLockFile opens (creating) DIR/KEY.lock, never through a symlink.
// The directory is made mode 0755 by root, 0700 by anyone else; the file
// 0600: flock needs no more than a read descriptor, so a lock file anyone
// could open is a lock anyone could hold. A lock file owned by another
// user is refused (planted, or left by an xsrescue that shared a
// world-writable directory): never trusted, never removed from under a
// holder. With owned, the directory must be the caller's and writable by
// no one else (an old world-writable /run/xsrescue of root's is repaired).
func openLockFile(dir, key string, owned bool) (*os.File, string, error) {
	uid := os.Geteuid()
	mode := os.FileMode(0o700)
	if uid == 0 {
		mode = 0o755
	}
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, "", err
	}
	if !fi.IsDir() {
		return nil, "", fmt.Errorf("%s is not a directory", dir)
	}
	if st := fi.Sys().(*syscall.Stat_t); owned && (int(st.Uid) != uid || fi.Mode().Perm()&0o022 != 0) {
		if int(st.Uid) != uid {
			return nil, "", xerr.Refusedf("lock directory %s is owned by uid %d, not by this user (%d): its locks cannot be trusted; remove it (rm -r %s)", dir, st.Uid, uid, dir)
		}
		// Ours, but others may write to it (made 1777 by an older
		// xsrescue): close it.
		if err := os.Chmod(dir, mode); err != nil {
			return nil, "", err
		}
	}
	p := filepath.Join(dir, key+".lock")
	// Without O_CREAT first: fs.protected_regular refuses O_CREAT on
	// another user's file in a sticky directory, even when it exists.
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	fd, err := unix.Open(p, flags, 0)
	if errors.Is(err, unix.ENOENT) {
		fd, err = unix.Open(p, flags|unix.O_CREAT, 0o600)
	}
	if err != nil {
		return nil, "", &os.PathError{Op: "open", Path: p, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, "", fmt.Errorf("%s is not a regular file", p)
	}
	if int(st.Uid) != uid {
		unix.Close(fd)
		return nil, "", xerr.Refusedf("lock file %s is owned by uid %d, not by this user (%d): whoever made it could hold it and block this command; remove it (rm %s) and run the command again", p, st.Uid, uid, p)
	}
	if st.Mode&0o077 != 0 {
		// Made 0644 by an older xsrescue.
		if err := unix.Fchmod(fd, 0o600); err != nil {
			unix.Close(fd)
			return nil, "", &os.PathError{Op: "chmod", Path: p, Err: err}
		}
	}
	return os.NewFile(uintptr(fd), p), p, nil
}

func (l *lock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	// The file stays: removing it would let a waiter that opened it lock
	// an inode nobody else can find, while a third xsrescue creates and
	// locks a new one: two writers. /run is emptied at boot, and an empty
	// file costs an inode.
	err := l.f.Close()
	l.f = nil
	return err
}

// LockPartition takes the writer lock of partition n of disk, the one a
// --disk target of that partition takes, for commands that read or write
// a partition without mounting it (disk save-partition, restore-partition):
// none of them runs while an xsrescue plans or applies changes on it. uuid
// is the partition's filesystem UUID ("" when it has none). The returned
// func releases the lock.
func LockPartition(ctx context.Context, o *LockOptions, disk string, n int, uuid string) (release func() error, err error) {
	abs, err := filepath.Abs(disk)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	isBlock := st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0
	l, err := takeLock(ctx, o, diskKey(uuid, st, isBlock, n), fmt.Sprintf("%s partition %d", abs, n))
	if err != nil {
		return nil, err
	}
	return l.release, nil
}
