package guestfix

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"syscall"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// accountFiles are read and edited only under their own names: a link from
// any other guest file to one of them is never followed.
var accountFiles = []string{"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow"}

// FileError is a guest file a rule could not use: a symlink to a different
// file, something that is not a regular file (not read, never edited:
// exit 3 when its rule was asked for with --only), or a malformed file
// (exit 2). The rule reports it as a broken finding and changes nothing;
// the other rules go on.
type FileError struct {
	Rule string
	Path string // the name the rule reads (etc/securetty)
	Err  error
}

func (e *FileError) Error() string { return e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// finding is the broken finding that stands for the file in the report.
func (e *FileError) finding() Finding {
	return finding(e.Rule, path.Base(e.Path), Broken, "%s", e.Err)
}

// fileErr marks err (from reading or parsing name) as a FileError of the
// rule running, when it is one; other errors (I/O) stay fatal.
func fileErr(name string, err error) error {
	if errors.Is(err, xerr.ErrInvalid) || errors.Is(err, xerr.ErrRefused) {
		return &FileError{Path: name, Err: err}
	}
	return err
}

// read reads a file of the guest; a missing file is (nil, "", false, nil).
// shown is the file actually read, for messages: name, or "RESOLVED (via
// name)" when name is a symlink.
//
// A symlink is followed only to a regular file with the same base name that
// is not an account file (etc/yum.conf -> ../usr/etc/yum.conf is read; etc/
// securetty -> /etc/shadow is not): rules edit what they read, and the
// journal writes through the link. Anything else is a FileError.
func (g *guest) read(name string) (data []byte, shown string, ok bool, err error) {
	resolved, err := g.root.Resolve(name)
	if errors.Is(err, target.ErrTooManyLinks) || errors.Is(err, syscall.ENOTDIR) {
		return nil, "", false, &FileError{Path: name, Err: xerr.Refusedf("%s: %v: not read, not edited", name, errors.Unwrap(err))}
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("guest %s: %w", name, err)
	}
	shown = name
	if resolved != name {
		if path.Base(resolved) != path.Base(name) || slices.Contains(accountFiles, resolved) {
			return nil, "", false, &FileError{Path: name, Err: xerr.Refusedf("%s is a symlink to %s: not read, not edited", name, resolved)}
		}
		shown = resolved + " (via " + name + ")"
	}
	fi, err := g.root.Lstat(resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", false, nil
	case err != nil:
		return nil, "", false, fmt.Errorf("guest %s: %w", shown, err)
	case !fi.Mode().IsRegular():
		return nil, "", false, &FileError{Path: name, Err: xerr.Refusedf("%s is not a regular file (a %s): not read, not edited", shown, infile.Describe(fi.Mode()))}
	}
	if data, err = g.root.ReadFile(resolved); err != nil {
		return nil, "", false, fmt.Errorf("guest %s: %w", shown, err)
	}
	return data, shown, true, nil
}

// exists reports whether name exists (without following a last symlink).
func (g *guest) exists(name string) (bool, error) {
	_, err := g.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("guest %s: %w", name, err)
	}
	return true, nil
}

// list lists the names in a directory of the guest; a missing directory is
// empty.
func (g *guest) list(dir string) ([]fs.DirEntry, error) {
	ents, err := g.root.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("guest %s: %w", dir, err)
	}
	return ents, nil
}

// appendLine is data with line added as its last line.
func appendLine(data []byte, line string) []byte {
	out := append([]byte(nil), data...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(append(out, line...), '\n')
}

func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
