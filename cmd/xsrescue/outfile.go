package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// writeNewFile streams write into the new file path, or to stdout for "-",
// and returns the byte count and sha256 of what was written. The content
// goes to a hidden file beside path first (.NAME.xsrescue-partial), is
// fsynced, and only then takes its name with a rename that refuses to
// replace anything (RENAME_NOREPLACE): an existing path is refused (exit 3,
// nothing is overwritten), and a failure, Ctrl-C or even a kill never leaves
// a partial file under the name. A partial file left by a kill is named so.
func (e *env) writeNewFile(ctx context.Context, path string, write func(io.Writer) error) (int64, string, error) {
	h := sha256.New()
	if path == "-" {
		cw := &countWriter{ctx: ctx, w: io.MultiWriter(e.stdout, h)}
		if err := write(cw); err != nil {
			return 0, "", fmt.Errorf("write to stdout: %w", err)
		}
		return cw.n, hex.EncodeToString(h.Sum(nil)), nil
	}
	refuse := func() error { return xerr.Refusedf("%s already exists: nothing was written (give a new name)", path) }
	if err := checkNewFile(path); err != nil {
		return 0, "", err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".xsrescue-partial")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return 0, "", fmt.Errorf("write %s: %w (nothing was written)", path, pe.Err)
	}
	if err != nil {
		return 0, "", err
	}
	cw := &countWriter{ctx: ctx, w: io.MultiWriter(f, h)}
	err = write(cw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EEXIST) {
			os.Remove(tmp)
			return 0, "", refuse()
		}
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Path == tmp {
			err = pe.Err // the partial file is gone: name the file asked for
		}
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		return 0, "", fmt.Errorf("write %s: %w (nothing was left there)", path, err)
	}
	return cw.n, hex.EncodeToString(h.Sum(nil)), nil
}

// checkNewFile gives the refusals writeNewFile gives before it writes: an
// existing path (exit 3), a directory that is not there (exit 2). "-" is
// stdout and always fine.
func checkNewFile(path string) error {
	if path == "-" {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return xerr.Refusedf("%s already exists: nothing was written (give a new name)", path)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return xerr.Invalidf("%s: %s is not a directory: nothing was written", path, filepath.Dir(path))
	}
	return nil
}

// countOnly runs write into nothing and returns the byte count and sha256
// of what it produced (what a dry run reports it would write).
func countOnly(ctx context.Context, write func(io.Writer) error) (int64, string, error) {
	h := sha256.New()
	cw := &countWriter{ctx: ctx, w: h}
	if err := write(cw); err != nil {
		return 0, "", err
	}
	return cw.n, hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// countWriter counts what goes through it and stops the copy once ctx is
// cancelled (Ctrl-C, SIGTERM).
type countWriter struct {
	ctx context.Context
	w   io.Writer
	n   int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// checkNew says whether path already holds exactly b (a re-run: already
// as requested), and refuses (exit 3) a path that holds anything else; a
// FIFO or device there is invalid (exit 2), never read.
func checkNew(path string, b []byte) (same bool, err error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	old, err := infile.ReadFile(path)
	if xerr.Code(err) == xerr.ExitInvalid {
		return false, err
	}
	if err == nil && bytes.Equal(old, b) {
		return true, nil
	}
	return false, xerr.Refusedf("%s exists with other content (not overwritten)", path)
}

// writeNew writes the new file path (never replacing one: a file that
// appeared since checkNew is refused).
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if os.IsExist(err) {
		return xerr.Refusedf("%s exists (not overwritten)", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
