package extfs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// Sentinel errors callers branch on. A file that cannot be read for one of
// these reasons is unknown, never absent: only fs.ErrNotExist means absent,
// and it is returned only when the directory that would hold the name was
// read completely and validly.
//
// Each is marked invalid input (xerr.ErrInvalid, exit 2) where it is
// defined, so that every error that wraps one exits 2 whichever command
// met it and however deep in the filesystem: the disk's content, not the
// reading, is at fault. So are ErrTooManyLinks and ErrJournal. An I/O
// error of the disk, and a disk that shrank while it was read (ErrFault,
// a short read: target refuses a partition past the end of its disk
// before it opens one), stay failures (exit 1).
var (
	// ErrCorrupt: on-disk metadata is inconsistent (bad magic, checksum,
	// out-of-range block, cycle, a directory entry to a cleared inode).
	ErrCorrupt = xerr.Invalid(errors.New("corrupt filesystem"))
	// ErrUnsupported: a valid filesystem uses something this reader does
	// not read (an unknown incompatible feature, encryption, compression).
	ErrUnsupported = xerr.Invalid(errors.New("not supported"))
	// ErrLimit: a file, directory or tree is beyond one of the Limits.
	ErrLimit = xerr.Invalid(errors.New("over a limit"))
)

// Error is a failure to read the filesystem, naming where: the filesystem
// (Options.Name), the inode and path when known, and the byte offset on the
// underlying disk or image.
type Error struct {
	FS   string
	Ino  uint32
	Path string
	Off  int64 // byte offset in the image or device; -1 when not about one place
	Msg  string
	Err  error // ErrCorrupt, ErrUnsupported, ErrLimit, or an I/O error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.FS != "" {
		b.WriteString(e.FS)
		b.WriteString(": ")
	}
	switch {
	case e.Path != "" && e.Ino != 0:
		fmt.Fprintf(&b, "%s (inode %d): ", e.Path, e.Ino)
	case e.Path != "":
		fmt.Fprintf(&b, "%s: ", e.Path)
	case e.Ino != 0:
		fmt.Fprintf(&b, "inode %d: ", e.Ino)
	}
	b.WriteString(e.Msg)
	if e.Off >= 0 {
		fmt.Fprintf(&b, " (byte %d)", e.Off)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// errf builds an Error of kind (ErrCorrupt, ...) about inode ino at byte
// off (-1: none).
func (f *FS) errf(kind error, ino uint32, off int64, format string, args ...any) *Error {
	if off >= 0 {
		off += f.base
	}
	return &Error{FS: f.name, Ino: ino, Off: off, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// withPath names the path an inode-level error was met on, once.
func withPath(err error, name string) error {
	var e *Error
	if errors.As(err, &e) && e.Path == "" && name != "" && name != "." {
		c := *e
		c.Path = name
		return &c
	}
	return err
}
