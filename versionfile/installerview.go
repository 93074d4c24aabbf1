package versionfile

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/xsrescue/xsrescue/target"
)

// The installers test the root's files with os.stat and os.path.exists on
// the root partition mounted below their own ramdisk (util.TempMount at
// /tmp/state-XXXXXX; 5.5: a tempfile.mkdtemp directory). The kernel then
// resolves a symlink inside the root against the installer's filesystem:
// an absolute target, or ".." above the mount point, leaves the root and
// names a file of the installer's ramdisk, which xsrescue cannot see.
// target.Root resolves chroot-style instead (right for reading and
// writing the root, wrong for predicting these tests), so the firstboot
// test resolves through installerView.

// viewStat is what os.stat of one path returns in the installer.
type viewStat struct {
	fi fs.FileInfo // the file, when it is inside the root
	// err is the OSError os.stat raises: nothing there, a dangling or
	// looping symlink, a path through a non-directory.
	err error
	// outside is set when the path leaves the root: how ("-> /abs", "via
	// DIR -> /abs", ".." above the root). Whether the installer finds
	// anything there is unknown.
	outside string
	// problem is set when xsrescue could not read the root (an I/O error).
	problem error
	real    string // the path inside the root once resolved (fi set)
}

// installerView resolves paths of a root as the installer's kernel does
// with the root mounted below its ramdisk.
type installerView struct{ root *target.Root }

// errLoop is ELOOP: more than 40 symlinks.
var errLoop = syscall.ELOOP

// stat follows every symlink of name, the last one too (os.stat).
func (v installerView) stat(name string) viewStat {
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
				return viewStat{outside: `".." climbs above the root`}
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(append([]string{}, done...), elem)...)
		fi, err := v.root.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return viewStat{err: fmt.Errorf("%s does not exist", cur)}
		case errors.Is(err, syscall.ENOTDIR):
			return viewStat{err: fmt.Errorf("%s is not a directory", path.Dir(cur))}
		case err != nil:
			return viewStat{problem: fmt.Errorf("%s: %w", cur, err)}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(todo) > 0 && !fi.IsDir() {
				return viewStat{err: fmt.Errorf("%s is not a directory", cur)}
			}
			done = append(done, elem)
			continue
		}
		if links++; links > 40 {
			return viewStat{err: fmt.Errorf("symlink loop (%w)", errLoop)}
		}
		link, err := v.root.Readlink(cur)
		if err != nil {
			return viewStat{problem: fmt.Errorf("%s: %w", cur, err)}
		}
		if strings.HasPrefix(link, "/") {
			if cur == path.Clean(name) {
				return viewStat{outside: "-> " + link}
			}
			return viewStat{outside: fmt.Sprintf("via %s -> %s", cur, link)}
		}
		todo = append(splitRel(link), todo...)
	}
	real := path.Join(done...)
	if real == "" {
		real = "."
	}
	fi, err := v.root.Lstat(real)
	if err != nil {
		return viewStat{problem: fmt.Errorf("%s: %w", real, err)}
	}
	return viewStat{fi: fi, real: real}
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
