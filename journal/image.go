package journal

import (
	"fmt"
	"io"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/extfs"
	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// captureImage is captureAtHashing for an image root (a read-only --disk
// open read in-process): the same state a mount would give, from the
// inode — owner, mode, nanosecond mtime and ctime, inode number, device
// numbers, link text and extended attributes as the kernel lists them — so
// that a plan made here is checked on the read-write mount (samePlanned)
// and against what the root served (checkServed) like any other.
func captureImage(root *target.Root, rel string, hash hashing) (state, error) {
	fi, err := root.Lstat(rel)
	if err == nil && rel == "." {
		// As captureAtHashing has it for a directory root.
		return state{Exists: true, Type: "dir", Mode: uint32(fi.Mode().Perm())}, nil
	}
	if err != nil {
		if isNotExist(err) {
			return state{}, nil
		}
		return state{}, err
	}
	in, ok := fi.Sys().(*extfs.Inode)
	if !ok {
		return state{}, fmt.Errorf("%s: no inode", rel)
	}
	s := state{
		Exists: true,
		Type:   fileType(uint32(in.Mode)),
		Mode:   uint32(in.Mode) & 0o7777,
		UID:    int(in.UID),
		GID:    int(in.GID),
		Mtime:  in.Mtime.UnixNano(),
		Size:   in.Size,
		Ino:    uint64(in.Ino),
		Ctime:  in.Ctime.UnixNano(),
	}
	switch s.Type {
	case "char", "block":
		s.Rdev = unix.Mkdev(in.Major, in.Minor)
	case "symlink":
		if s.Link, err = root.Readlink(rel); err != nil {
			return state{}, err
		}
	case "file":
		if hash != noHash {
			f, err := openImageAt(root, rel)
			if err != nil {
				return state{}, err
			}
			sum, size, err := hashReader(f)
			f.Close()
			if err != nil {
				return state{}, fmt.Errorf("read %s: %w", rel, err)
			}
			s.SHA256, s.Size = sum, size
		}
	}
	if s.Type != "dir" {
		x, err := root.Image().Xattrs(in)
		if err != nil {
			return state{}, err
		}
		s.Xattrs = x
	}
	return s, nil
}

// openImageAt opens the resolved path rel of an image root, never through
// a symlink in its last element.
func openImageAt(root *target.Root, rel string) (io.ReadCloser, error) {
	fi, err := root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: fmt.Errorf("a %s, not a regular file", infile.TypeName(fi.Mode()))}
	}
	return root.Open(rel)
}

// imageJournal is DefaultPath for an image root.
func imageJournal(root *target.Root, rel string, create bool) (string, error) {
	if create {
		return "", fmt.Errorf("journal %s in %s: the root is open read-only", rel, root.Name())
	}
	fi, err := root.Lstat(rel)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return "", xerr.Refusedf("journal %s in %s is a %s, not a file", rel, root.Name(), infile.TypeName(fi.Mode()))
	case err != nil && !isNotExist(err):
		return "", fmt.Errorf("journal %s in %s: %w", rel, root.Name(), err)
	}
	return root.LocalPath(rel)
}
