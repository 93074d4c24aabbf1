// Package infile opens the files a user names on the command line (a disk
// image, --journal, --like, a state.db, --domain-config, --dev-listing, a
// partition image ...) without ever blocking on them: a FIFO, a socket, a
// character device or a directory is refused as invalid input (exit 2)
// before it is opened for reading, where open(2) or the first read would wait
// forever for a writer that never comes (an unattended kickstart %pre hangs).
package infile

import (
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// Kind says what a path may be.
type Kind int

const (
	// File: a regular file only.
	File Kind = iota
	// FileOrBlock: a regular file or a block device (a disk, an image).
	FileOrBlock
)

// TypeName names the type of a file mode as messages say it.
func TypeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}

// Describe names a file mode's type with its full mode, as messages show
// what was found where a file was expected: "fifo, mode prw-r--r--" (the
// type alone, fs.FileMode.Type, would show "p---------").
func Describe(m fs.FileMode) string {
	return TypeName(m) + ", mode " + m.String()
}

func (k Kind) want() string {
	if k == FileOrBlock {
		return "a file or block device"
	}
	return "a file"
}

func (k Kind) accepts(m fs.FileMode) bool {
	if m.IsRegular() {
		return true
	}
	return k == FileOrBlock && m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0
}

// Check refuses (exit 2) a path that exists and is not of kind k, following
// symlinks: "PATH is a fifo, not a file". A missing path is the caller's
// business (os.ErrNotExist is returned unmarked).
func Check(path string, k Kind) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !k.accepts(fi.Mode()) {
		return xerr.Invalidf("%s is a %s, not %s", path, TypeName(fi.Mode()), k.want())
	}
	return nil
}

// Open opens path read-only after Check. The open itself is non-blocking
// and the descriptor is checked again with fstat, so a FIFO put in place
// between the check and the open is refused too, never waited on.
func Open(path string, k Kind) (*os.File, error) {
	if err := Check(path, k); err != nil {
		return nil, err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if m := modeOf(st.Mode); !k.accepts(m) {
		unix.Close(fd)
		return nil, xerr.Invalidf("%s is a %s, not %s", path, TypeName(m), k.want())
	}
	// Reads of regular files and block devices never wait for a writer;
	// blocking mode keeps the runtime poller out of it.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// ReadFile is os.ReadFile for a path that must be a regular file.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path, File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func modeOf(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}
