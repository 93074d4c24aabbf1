package target

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// maxLinks is the symlink budget of one resolution, as in Linux (ELOOP).
const maxLinks = 40

// ErrTooManyLinks is returned when a path needs more than 40 symlinks.
var ErrTooManyLinks = errors.New("too many levels of symbolic links")

// Root is a directory tree that belongs to another system.
type Root struct {
	dir    string
	os     *os.Root
	served *servedLog // locked targets only: what a plan was computed from (served.go)
}

// OpenRoot opens dir as a foreign root.
func OpenRoot(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("root %s: not a directory", dir)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	return &Root{dir: abs, os: r}, nil
}

// Dir is the absolute path of the root on the rescue system.
func (r *Root) Dir() string { return r.dir }

// OS is the underlying os.Root (the second guard behind Resolve).
func (r *Root) OS() *os.Root { return r.os }

// Close releases the root.
func (r *Root) Close() error {
	if r == nil || r.os == nil {
		return nil
	}
	return r.os.Close()
}

// Resolve follows symlinks chroot-style (absolute targets re-rooted at the
// root, ".." clamped at the root, at most 40 links) and returns the clean
// slash-separated path relative to the root. The last element is followed too.
// A path whose tail does not exist resolves lexically from the first missing
// element on, so that the result can name a file about to be created.
func (r *Root) Resolve(name string) (string, error) { return r.resolve(name, true) }

// ResolveParent resolves every element but the last (for Lstat, Readlink,
// removing a symlink itself).
func (r *Root) ResolveParent(name string) (string, error) { return r.resolve(name, false) }

func (r *Root) resolve(name string, followLast bool) (string, error) {
	todo := splitPath(name)
	var done []string
	links := 0
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := path.Join(append(slices.Clone(done), elem)...)
		if len(todo) == 0 && !followLast {
			done = append(done, elem)
			break
		}
		fi, err := r.os.Lstat(cur)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// Nothing further exists to follow; the rest is lexical.
				done = append(done, elem)
				for _, e := range todo {
					switch e {
					case ".":
					case "..":
						if len(done) > 0 {
							done = done[:len(done)-1]
						}
					default:
						done = append(done, e)
					}
				}
				todo = nil
				break
			}
			return "", fmt.Errorf("resolve %s in %s: %w", name, r.dir, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(todo) > 0 && !fi.IsDir() {
				return "", &fs.PathError{Op: "resolve", Path: name, Err: syscall.ENOTDIR}
			}
			done = append(done, elem)
			continue
		}
		links++
		if links > maxLinks {
			return "", &fs.PathError{Op: "resolve", Path: name, Err: ErrTooManyLinks}
		}
		link, err := r.os.Readlink(cur)
		if err != nil {
			return "", fmt.Errorf("resolve %s in %s: %w", name, r.dir, err)
		}
		if strings.HasPrefix(link, "/") {
			done = nil
		}
		todo = append(splitPath(link), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

func splitPath(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Open opens name for reading, following symlinks inside the root.
func (r *Root) Open(name string) (*os.File, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	f, err := r.openChecked(p)
	if err == nil {
		r.recordOpen(p, f)
	}
	return f, err
}

// ReadFile reads a whole file, following symlinks inside the root.
func (r *Root) ReadFile(name string) ([]byte, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	return r.readFile(p)
}

// Stat follows symlinks inside the root.
func (r *Root) Stat(name string) (fs.FileInfo, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	return r.os.Stat(p)
}

// Lstat does not follow the last element.
func (r *Root) Lstat(name string) (fs.FileInfo, error) {
	p, err := r.ResolveParent(name)
	if err != nil {
		return nil, err
	}
	return r.os.Lstat(p)
}

// Readlink returns the raw link text of name.
func (r *Root) Readlink(name string) (string, error) {
	p, err := r.ResolveParent(name)
	if err != nil {
		return "", err
	}
	return r.os.Readlink(p)
}

// ReadDir lists a directory sorted by name, following symlinks inside the root.
func (r *Root) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	return fs.ReadDir(r.os.FS(), p)
}

// WalkDir walks the tree at name like fs.WalkDir; it never follows symlinks
// below name. The paths given to fn start with name as written (cleaned), even
// when name itself went through a symlink.
func (r *Root) WalkDir(name string, fn fs.WalkDirFunc) error {
	p, err := r.Resolve(name)
	if err != nil {
		return fn(cleanRel(name), nil, err)
	}
	shown := cleanRel(name)
	return fs.WalkDir(r.os.FS(), p, func(q string, d fs.DirEntry, err error) error {
		rel := strings.TrimPrefix(strings.TrimPrefix(q, p), "/")
		if p == "." {
			rel = q
			if q == "." {
				rel = ""
			}
		}
		return fn(path.Join(shown, rel), d, err)
	})
}

// cleanRel is name as a clean path relative to the root ("." for the root).
func cleanRel(name string) string {
	c := path.Clean("/" + name)
	if c == "/" {
		return "."
	}
	return c[1:]
}

// FS is a read-only fs.FS view that resolves like Open.
func (r *Root) FS() fs.FS { return rootFS{r} }

type rootFS struct{ r *Root }

func (f rootFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	file, err := f.r.Open(name)
	if err != nil {
		return nil, err
	}
	return file, nil
}

func (f rootFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrInvalid}
	}
	return f.r.ReadFile(name)
}

func (f rootFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	return f.r.Stat(name)
}

func (f rootFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	return f.r.ReadDir(name)
}
