package guestfix

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// securettyLine is the size pam_securetty reads each line with:
// fgets(ttyfileline, sizeof(ttyfileline)-1, ttyfile) on a char[256], so at
// most 254 bytes per read; a longer line is read as several.
const securettyLine = 254

// SecureTTY reports whether pam_securetty lets root log in on tty with this
// etc/securetty: some line is tty exactly. pam_securetty (Linux-PAM 0.77,
// CentOS 4, to 1.x: securetty_perform_check) reads the file with fgets,
// removes only a trailing "\n" and compares with strcmp, so "ttyS0 ",
// "ttyS0\r" (a CRLF file) and " ttyS0" do not count; strcmp stops at a NUL
// byte. When no line matches, near describes the first line that would
// after trimming blanks and "\r" ("line 3 is \"ttyS0 \""), or is "".
func SecureTTY(data []byte, tty string) (ok bool, near string) {
	line := 1
	for rest := data; len(rest) > 0; {
		n := bytes.IndexByte(rest, '\n') + 1
		if n == 0 || n > securettyLine {
			n = min(len(rest), securettyLine)
		}
		chunk := rest[:n]
		rest = rest[n:]
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		cstr, _, _ := bytes.Cut(chunk, []byte{0})
		if string(cstr) == tty {
			return true, ""
		}
		if near == "" && strings.TrimSpace(string(chunk)) == tty {
			near = fmt.Sprintf("line %d is %q", line, chunk)
		}
		if n > 0 && data[len(data)-len(rest)-1] == '\n' {
			line++
		}
	}
	return false, near
}

// securettyFile is etc/securetty as pam_securetty sees it: it stat()s the
// path (following symlinks: inside the guest, so chroot-style here) and
// reads what that leads to.
type securettyFile struct {
	// absent says why stat() fails (no file, a dangling link, a loop):
	// then pam_securetty lets root in everywhere. "" when there is a file.
	absent   string
	resolved string      // the file read
	shown    string      // how messages name it
	mode     fs.FileMode // the file's, not the link's
	data     []byte
	// path is what a fix writes ("" when it must not be edited: a link to
	// a file of another name, which the journal would write through).
	path string
}

// readSecuretty follows pam_securetty (Linux-PAM 0.77
// securetty_perform_check, and 1.x pam_securetty_perform_check): any stat()
// failure is PAM_SUCCESS, a file that is not regular or is world-writable
// refuses root everywhere, else the lines are compared. A symlink is
// followed to whatever regular file it leads to in the guest root, and
// that file is judged; it is edited only under the rule for every guest
// file (same base name, not an account file).
func (g *guest) readSecuretty() (securettyFile, error) {
	resolved, err := g.root.Resolve(securetty)
	switch {
	case errors.Is(err, target.ErrTooManyLinks):
		return securettyFile{absent: securetty + " is a symlink loop"}, nil
	case errors.Is(err, syscall.ENOTDIR):
		return securettyFile{absent: securetty + ": a path component is not a directory"}, nil
	case err != nil:
		return securettyFile{}, fmt.Errorf("guest %s: %w", securetty, err)
	case resolved == securetty:
		data, shown, ok, err := g.read(securetty)
		if err != nil || !ok {
			return securettyFile{absent: "no " + securetty}, err
		}
		fi, err := g.root.Lstat(securetty)
		if err != nil {
			return securettyFile{}, fmt.Errorf("guest %s: %w", securetty, err)
		}
		return securettyFile{resolved: securetty, shown: shown, mode: fi.Mode(), data: data, path: securetty}, nil
	}
	shown := resolved + " (via " + securetty + ")"
	fi, err := g.root.Lstat(resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return securettyFile{absent: securetty + " is a dangling symlink (to " + resolved + ")"}, nil
	case err != nil:
		return securettyFile{}, fmt.Errorf("guest %s: %w", shown, err)
	case !fi.Mode().IsRegular():
		return securettyFile{}, &FileError{Path: securetty, Err: xerr.Refusedf("%s is not a regular file (a %s): pam_securetty refuses root on every tty; not read, not edited", shown, infile.Describe(fi.Mode()))}
	}
	data, err := g.root.ReadFile(resolved)
	if err != nil {
		return securettyFile{}, fmt.Errorf("guest %s: %w", shown, err)
	}
	st := securettyFile{resolved: resolved, shown: shown, mode: fi.Mode(), data: data}
	if path.Base(resolved) == path.Base(securetty) && !slices.Contains(accountFiles, resolved) {
		st.path = securetty
	}
	return st, nil
}
