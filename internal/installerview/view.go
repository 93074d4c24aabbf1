// Package installerview resolves paths of an offline XenServer root as the
// host installer's kernel does. The installers test and read the root's
// files (os.stat, os.path.exists, open) on the root partition mounted
// below their own ramdisk (util.TempMount at /tmp/state-XXXXXX; 5.5: a
// tempfile.mkdtemp directory). A symlink inside the root is then resolved
// against the installer's filesystem: an absolute target, or ".." above
// the mount point, leaves the root and names a file of the installer's
// ramdisk, which xsrescue cannot see. target.Root and extfs resolve
// chroot-style instead (right for reading and writing the root, wrong for
// predicting the installer), so every installer test of a path that may be
// a symlink resolves through Stat (docs/version.md).
package installerview

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
)

// Result is what os.stat of one path returns in the installer.
type Result struct {
	FileInfo fs.FileInfo // the file, when it is inside the root
	// Err is the OSError os.stat raises: nothing there, a dangling or
	// looping symlink, a path through a non-directory.
	Err error
	// Outside is set when the path leaves the root: how ("-> /abs", "via
	// DIR -> /abs", ".." above the root). Whether the installer finds
	// anything there is unknown.
	Outside string
	// Problem is set when xsrescue could not read the root (an I/O error,
	// damage).
	Problem error
	Real    string // the path inside the root once resolved (FileInfo set)
}

// Tree is a root read without following symlinks: a target.Root, or an
// ext filesystem read in-process.
type Tree interface {
	Lstat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
}

// errLoop is ELOOP: more than 40 symlinks.
var errLoop = syscall.ELOOP

// Stat follows every symlink of name (relative to the root), the last one
// too, as os.stat does in the installer.
func Stat(t Tree, name string) Result {
	todo := splitRel(name)
	var done []string
	links := 0
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case ".":
			continue
		case "..":
			if len(done) == 0 {
				return Result{Outside: `".." climbs above the root`}
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(append([]string{}, done...), elem)...)
		fi, err := t.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return Result{Err: fmt.Errorf("%s does not exist", cur)}
		case errors.Is(err, syscall.ENOTDIR):
			return Result{Err: fmt.Errorf("%s is not a directory", path.Dir(cur))}
		case err != nil:
			return Result{Problem: fmt.Errorf("%s: %w", cur, err)}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(todo) > 0 && !fi.IsDir() {
				return Result{Err: fmt.Errorf("%s is not a directory", cur)}
			}
			done = append(done, elem)
			continue
		}
		if links++; links > 40 {
			return Result{Err: fmt.Errorf("symlink loop (%w)", errLoop)}
		}
		link, err := t.Readlink(cur)
		if err != nil {
			return Result{Problem: fmt.Errorf("%s: %w", cur, err)}
		}
		if strings.HasPrefix(link, "/") {
			if cur == path.Clean(name) {
				return Result{Outside: "-> " + link}
			}
			return Result{Outside: fmt.Sprintf("via %s -> %s", cur, link)}
		}
		todo = append(splitRel(link), todo...)
	}
	real := path.Join(done...)
	if real == "" {
		real = "."
	}
	fi, err := t.Lstat(real)
	if err != nil {
		return Result{Problem: fmt.Errorf("%s: %w", real, err)}
	}
	return Result{FileInfo: fi, Real: real}
}

func splitRel(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// ErrOutside marks a path that leaves the root: the installer resolves it
// on its own ramdisk, which xsrescue cannot see, so what it finds there is
// unknown.
var ErrOutside = errors.New("leads out of the root: the installer resolves it on its own ramdisk, which xsrescue cannot see")

// Unknown is why the installer's answer for name cannot be known (the
// path leaves the root, or the root could not be read), or nil.
func (r Result) Unknown(name string) error {
	switch {
	case strings.HasPrefix(r.Outside, "-> "):
		return fmt.Errorf("%s %s: %w", name, r.Outside, ErrOutside)
	case r.Outside != "":
		return fmt.Errorf("%s: %s: %w", name, r.Outside, ErrOutside)
	case r.Problem != nil:
		return r.Problem
	}
	return nil
}

// Exists is the installer's os.path.exists(MOUNTPOINT/name): true for
// anything there once every symlink is followed (a directory, a FIFO), false
// for nothing, a dangling symlink or a loop; unknown (err set) where the
// path leaves the root or could not be read.
func Exists(t Tree, name string) (exists bool, err error) {
	r := Stat(t, name)
	if err := r.Unknown(name); err != nil {
		return false, err
	}
	return r.FileInfo != nil, nil
}
