package target

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/xsrescue/xsrescue/extfs"
	"github.com/xsrescue/xsrescue/internal/writable"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// maxLinks is the symlink budget of one resolution, as in Linux (ELOOP).
const maxLinks = 40

// ErrTooManyLinks is returned when a path needs more than 40 symlinks: a
// loop in the root, which is bad input (exit 2) whatever command met it.
var ErrTooManyLinks = xerr.Invalid(errors.New("too many levels of symbolic links"))

// Root is a directory tree that belongs to another system: a directory
// on the rescue system (read through an os.Root), or, for a read-only
// --disk open of an ext2/3/4 partition, the filesystem read in-process
// from the disk (extfs: no mount, no loop device, no root privileges).
// Both resolve paths the same way.
type Root struct {
	dir    string
	os     *os.Root
	served *servedLog // locked targets only: what a plan was computed from (served.go)

	img    *extfs.FS         // a read-only image root
	disk   io.Closer         // the disk img reads
	name   string            // how messages name an image root ("DISK partition N")
	tmp    string            // private copies made by LocalPath, removed by Close
	copies map[string]string // LocalPath copy -> its path in the root
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

// Dir is the absolute path of the root on the rescue system; "" for an
// image root, which is no directory (see Name and LocalPath).
func (r *Root) Dir() string { return r.dir }

// Name is how messages name the root: its directory, or the disk and
// partition of an image root.
func (r *Root) Name() string {
	if r.img != nil {
		return r.name
	}
	return r.dir
}

// Writer is the write access to a directory root (nil for an image root,
// which is read-only). Only the journal can use it (internal/writable):
// every other package reads a Root through its methods.
func (r *Root) Writer() *writable.Root {
	if r.os == nil {
		return nil
	}
	return writable.New(r.os)
}

// OpenDir opens the directory rel of a directory root for a walk with *at
// system calls, read-only: rel is a path the walk found (relative to the
// root, already resolved), and a last element that is no longer a
// directory, or is a symlink now, is refused.
func (r *Root) OpenDir(rel string) (*os.File, error) {
	if r.img != nil {
		return nil, fmt.Errorf("%s: %s: not a directory root", r.name, rel)
	}
	return r.os.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
}

// Sub opens the directory dir of a directory root, resolved chroot-style,
// as a root of its own: a scan of a large directory then costs one fstatat
// per entry, and still cannot leave it. Close it when done.
func (r *Root) Sub(dir string) (*Root, error) {
	if r.img != nil {
		return nil, fmt.Errorf("%s: %s: not a directory root", r.name, dir)
	}
	p, err := r.Resolve(dir)
	if err != nil {
		return nil, err
	}
	sub, err := r.os.OpenRoot(p)
	if err != nil {
		return nil, err
	}
	return &Root{dir: filepath.Join(r.dir, p), os: sub}, nil
}

// Image is the filesystem of an image root, nil for a directory.
func (r *Root) Image() *extfs.FS { return r.img }

// Close releases the root.
func (r *Root) Close() error {
	if r == nil {
		return nil
	}
	var err error
	if r.os != nil {
		err = r.os.Close()
	}
	if r.disk != nil {
		err = errors.Join(err, r.disk.Close())
		r.disk = nil
	}
	if r.tmp != "" {
		err = errors.Join(err, os.RemoveAll(r.tmp))
		r.tmp = ""
	}
	return err
}

func (r *Root) lstat(p string) (fs.FileInfo, error) {
	if r.img != nil {
		return r.img.Lstat(p)
	}
	return r.os.Lstat(p)
}

func (r *Root) readlink(p string) (string, error) {
	if r.img != nil {
		return r.img.ReadLink(p)
	}
	return r.os.Readlink(p)
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
		fi, err := r.lstat(cur)
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
			return "", fmt.Errorf("resolve %s in %s: %w", name, r.Name(), err)
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
		link, err := r.readlink(cur)
		if err != nil {
			return "", fmt.Errorf("resolve %s in %s: %w", name, r.Name(), err)
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

// Open opens name for reading, following symlinks inside the root. For a
// directory root it is an *os.File, for an image root an *extfs.File. A
// FIFO, socket or device is refused (exit 2), never opened.
func (r *Root) Open(name string) (fs.File, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	if r.img != nil {
		f, err := r.openImage(p)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	f, err := r.openChecked(p)
	if err != nil {
		return nil, err
	}
	r.recordOpen(p, f)
	return f, nil
}

// ReadFile reads a whole file, following symlinks inside the root.
func (r *Root) ReadFile(name string) ([]byte, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	return r.readFile(p)
}

// Stat follows symlinks inside the root. For an image root Sys returns
// the *extfs.Inode.
func (r *Root) Stat(name string) (fs.FileInfo, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	if r.img != nil {
		return r.img.Stat(p)
	}
	return r.os.Stat(p)
}

// Lstat does not follow the last element.
func (r *Root) Lstat(name string) (fs.FileInfo, error) {
	p, err := r.ResolveParent(name)
	if err != nil {
		return nil, err
	}
	return r.lstat(p)
}

// Readlink returns the raw link text of name.
func (r *Root) Readlink(name string) (string, error) {
	p, err := r.ResolveParent(name)
	if err != nil {
		return "", err
	}
	return r.readlink(p)
}

// ReadDir lists a directory sorted by name, following symlinks inside the root.
func (r *Root) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	if r.img != nil {
		return r.img.ReadDir(p)
	}
	return fs.ReadDir(r.os.FS(), p)
}

// WalkDir walks the tree at name like fs.WalkDir; it never follows symlinks
// below name. The paths given to fn start with name as written (cleaned), even
// when name itself went through a symlink. In an image root a directory
// reached twice (a corrupt, cyclic tree) is an error given to fn.
func (r *Root) WalkDir(name string, fn fs.WalkDirFunc) error {
	p, err := r.Resolve(name)
	if err != nil {
		return fn(cleanRel(name), nil, err)
	}
	shown := cleanRel(name)
	walk := func(q string, d fs.DirEntry, err error) error {
		rel := strings.TrimPrefix(strings.TrimPrefix(q, p), "/")
		if p == "." {
			rel = q
			if q == "." {
				rel = ""
			}
		}
		return fn(path.Join(shown, rel), d, err)
	}
	if r.img != nil {
		return r.img.WalkDir(p, walk)
	}
	return fs.WalkDir(r.os.FS(), p, walk)
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
