// Package target opens an offline root safely: an already mounted directory
// (--root DIR) or a partition that xsrescue mounts itself (--disk IMG|DEV
// [--partition N]). Every path inside the root goes through os.Root, after a
// chroot-style resolution of symlinks, so nothing in a foreign root can reach
// the rescue system's own files.
//
// API contract shared by every command (see docs/dev/api.md).
package target

import (
	"context"
	"errors"
	"io/fs"
	"os"
)

var errNotYet = errors.New("target: not implemented yet")

// Root is a directory tree that belongs to another system.
type Root struct {
	dir string
	os  *os.Root
}

// OpenRoot opens dir as a foreign root.
func OpenRoot(dir string) (*Root, error) { return nil, errNotYet }

// Dir is the absolute path of the root on the rescue system.
func (r *Root) Dir() string { return r.dir }

// OS is the underlying os.Root (the second guard behind Resolve).
func (r *Root) OS() *os.Root { return r.os }

// Resolve follows symlinks chroot-style (absolute targets re-rooted at the
// root, ".." clamped at the root, at most 40 links) and returns the clean
// slash-separated path relative to the root. The last element is followed too.
func (r *Root) Resolve(name string) (string, error) { return "", errNotYet }

// ResolveParent resolves every element but the last (for Lstat, Readlink,
// removing a symlink itself).
func (r *Root) ResolveParent(name string) (string, error) { return "", errNotYet }

// Open opens name for reading, following symlinks inside the root.
func (r *Root) Open(name string) (*os.File, error) { return nil, errNotYet }

// ReadFile reads a whole file, following symlinks inside the root.
func (r *Root) ReadFile(name string) ([]byte, error) { return nil, errNotYet }

// Stat follows symlinks inside the root.
func (r *Root) Stat(name string) (fs.FileInfo, error) { return nil, errNotYet }

// Lstat does not follow the last element.
func (r *Root) Lstat(name string) (fs.FileInfo, error) { return nil, errNotYet }

// Readlink returns the raw link text of name.
func (r *Root) Readlink(name string) (string, error) { return "", errNotYet }

// ReadDir lists a directory, following symlinks inside the root.
func (r *Root) ReadDir(name string) ([]fs.DirEntry, error) { return nil, errNotYet }

// WalkDir walks the tree at name like fs.WalkDir; it never follows symlinks.
func (r *Root) WalkDir(name string, fn fs.WalkDirFunc) error { return errNotYet }

// FS is a read-only fs.FS view that resolves like Open.
func (r *Root) FS() fs.FS { return nil }

// Close releases the root.
func (r *Root) Close() error { return nil }

// Options say which target to open.
type Options struct {
	Root      string // --root DIR: an already mounted tree
	Disk      string // --disk IMG|DEV
	Partition int    // --partition N (0: the XenServer root found by partition.Inspect)
	Writable  bool   // mount read-write (read-only mounts use ro,noload for ext3/4)
}

// Target is an opened offline root plus where it came from.
type Target struct {
	Root      *Root
	Identity  string // filesystem UUID for a disk, absolute directory for --root
	Disk      string // the disk, when opened with --disk
	Partition int    // the partition mounted, when opened with --disk
	Notes     []string
}

// Open opens the target: for --disk it mounts the partition on a private
// temporary mount point (refusing, exit 3, a device that is mounted or busy).
func Open(ctx context.Context, o Options) (*Target, error) { return nil, errNotYet }

// Close unmounts and detaches everything Open set up.
func (t *Target) Close() error { return nil }
