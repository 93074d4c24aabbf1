package guestfix

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
)

// read reads a file of the guest; a missing file is (nil, false, nil).
func (g *guest) read(name string) ([]byte, bool, error) {
	data, err := g.root.ReadFile(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("guest %s: %w", name, err)
	}
	return data, true, nil
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

// hasLine reports whether one line of data, trimmed, is s.
func hasLine(data []byte, s string) bool {
	for _, l := range bytes.Split(data, []byte("\n")) {
		if string(bytes.TrimSpace(l)) == s {
			return true
		}
	}
	return false
}

func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
