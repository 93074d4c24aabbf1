// Package extfs reads ext2, ext3 and ext4 filesystems in-process, from an
// image file or a block device (any io.ReaderAt) at an offset: no kernel
// mount, no loop device, no root privileges, no external tool. It never
// writes: a journal that needs recovery is replayed in memory, so that
// reads show what a mount would (journal.go).
//
// FS implements fs.FS, fs.ReadDirFS, fs.ReadFileFS, fs.StatFS and
// fs.ReadLinkFS. Paths are resolved inside the filesystem the way a chroot
// would: an absolute symlink target starts again at the filesystem's root,
// ".." stops at the root, at most 40 symlinks per path.
//
// Everything read is checked before it is used (magic numbers, ranges,
// metadata_csum and gdt_csum checksums, extent-tree structure) and every
// structure is bounded (Limits), so a damaged or hostile filesystem gives
// an *Error naming the filesystem, inode and byte offset — never a panic,
// a hang or an unbounded allocation. Only fs.ErrNotExist means that a file
// is absent; any other error means that whether it exists is unknown.
//
// Supported: 1 KiB to 64 KiB blocks, 128-byte and larger inodes, block
// maps (direct and indirect) and extent trees, sparse files and unwritten
// extents (read as zeros), linear and htree directories (read linearly,
// all blocks), fast, slow and inline symlinks, inline data, 64bit,
// meta_bg, flex_bg, huge_file, bigalloc, metadata_csum and csum_seed.
// Refused with ErrUnsupported: encrypted files and directories, lookups of
// a name not spelled exactly in a case-insensitive directory, and the
// compression, dirdata and journal_dev features, and a journal that needs
// recovery but cannot be replayed here (ErrJournal: an external journal,
// fast commits, or one the kernel's recovery would fail on). See
// docs/dev/extfs.md.
package extfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

var (
	_ fs.FS         = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.ReadFileFS = (*FS)(nil)
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadLinkFS = (*FS)(nil)
)

// maxLinks is the symlink budget of one path, as in Linux (ELOOP).
const maxLinks = 40

// ErrTooManyLinks is returned for a path that needs more than 40 symlinks.
// Invalid input (exit 2), as a symlink loop in a root is for every command.
var ErrTooManyLinks = xerr.Invalid(errors.New("too many levels of symbolic links"))

// RootIno is the inode number of the root directory.
const RootIno = rootIno

// Inode reads and checks inode ino.
func (f *FS) Inode(ino uint32) (*Inode, error) { return f.inode(ino) }

// ReadDirInode lists directory in in on-disk order, without "." and "..".
// The slice is shared: do not modify it.
func (f *FS) ReadDirInode(in *Inode) ([]Dirent, error) {
	d, err := f.dir(in)
	if err != nil {
		return nil, err
	}
	return d.ents, nil
}

// OpenInode opens in for reading; name is only used in messages.
func (f *FS) OpenInode(in *Inode, name string) (*File, error) {
	fl, err := f.openInode(in, name)
	return fl, withPath(err, name)
}

// walk resolves name chroot-style and returns its inode; the last element
// is followed when it is a symlink and followLast is set.
func (f *FS) walk(op, name string, followLast bool) (*Inode, error) {
	if !validPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	root, err := f.inode(rootIno)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if !root.isDir() {
		return nil, &fs.PathError{Op: op, Path: name, Err: f.errf(ErrCorrupt, rootIno, -1, "the root inode is not a directory")}
	}
	stack := []*Inode{root}
	var done []string // the names of stack[1:], for messages
	todo := splitPath(name)
	links := 0
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack, done = stack[:len(stack)-1], done[:len(done)-1]
			}
			continue
		}
		dir := stack[len(stack)-1]
		if !dir.isDir() {
			return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		if len(elem) > 255 {
			return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENAMETOOLONG}
		}
		cur := strings.Join(append(slices.Clone(done), elem), "/")
		e, err := f.lookup(dir, elem)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: withPath(err, strings.Join(done, "/"))}
		}
		in, err := f.inode(e.Ino)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: withPath(err, cur)}
		}
		if in.isSymlink() && (len(todo) > 0 || followLast) {
			links++
			if links > maxLinks {
				return nil, &fs.PathError{Op: op, Path: name, Err: ErrTooManyLinks}
			}
			target, err := f.readLink(in, cur)
			if err != nil {
				return nil, &fs.PathError{Op: op, Path: name, Err: err}
			}
			if strings.HasPrefix(target, "/") {
				stack, done = stack[:1], nil
			}
			todo = append(splitPath(target), todo...)
			continue
		}
		stack, done = append(stack, in), append(done, elem)
	}
	return stack[len(stack)-1], nil
}

// validPath is fs.ValidPath without its UTF-8 rule: ext names are bytes,
// and an old system's Latin-1 names must be readable too. A NUL can be in
// no name (and no system call takes one).
func validPath(name string) bool {
	if name == "." {
		return true
	}
	if strings.IndexByte(name, 0) >= 0 {
		return false
	}
	for {
		elem, rest, more := strings.Cut(name, "/")
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
		if !more {
			return true
		}
		name = rest
	}
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

// readLink returns the target of symlink in: in i_block (fast), in the
// inode's inline data, or in a data block (slow), as the kernel decides
// (ext4_inode_is_fast_symlink: no blocks besides an xattr block).
func (f *FS) readLink(in *Inode, name string) (string, error) {
	bad := func(format string, args ...any) error {
		e := f.errf(ErrCorrupt, in.Ino, -1, "symlink: "+format, args...)
		e.Path = name
		return e
	}
	if in.Flags&flagEncrypt != 0 {
		return "", withPath(f.errf(ErrUnsupported, in.Ino, -1, "encrypted symlink (fscrypt)"), name)
	}
	if in.Size <= 0 || in.Size >= 4096 || in.Size >= f.bs {
		return "", bad("target length %d", in.Size)
	}
	var target []byte
	eaBlocks := uint64(0)
	if in.fileACL != 0 {
		eaBlocks = uint64(f.clusterSize / 512)
	}
	switch {
	case in.Flags&flagInlineData != 0:
		data, err := f.inlineData(in)
		if err != nil {
			return "", withPath(err, name)
		}
		target = data
	case in.Flags&flagEAInode == 0 && in.blocks512 <= eaBlocks:
		if in.Size >= int64(len(in.block)) {
			return "", bad("fast symlink of %d bytes (at most 59)", in.Size)
		}
		target = in.block[:in.Size]
	default:
		fl, err := f.openInode(in, name)
		if err != nil {
			return "", withPath(err, name)
		}
		target = make([]byte, in.Size)
		if _, err := fl.ReadAt(target, 0); err != nil && err != io.EOF {
			return "", err
		}
	}
	if slices.Contains(target, 0) {
		return "", bad("target contains a NUL byte")
	}
	return string(target), nil
}

func pathErr(op, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Open opens name, following symlinks inside the filesystem.
func (f *FS) Open(name string) (fs.File, error) {
	fl, err := f.OpenFile(name)
	if err != nil {
		return nil, err
	}
	return fl, nil
}

// OpenFile is Open returning the *File.
func (f *FS) OpenFile(name string) (*File, error) {
	in, err := f.walk("open", name, true)
	if err != nil {
		return nil, err
	}
	fl, err := f.openInode(in, name)
	if err != nil {
		return nil, pathErr("open", name, withPath(err, name))
	}
	return fl, nil
}

// Stat follows symlinks.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	in, err := f.walk("stat", name, true)
	if err != nil {
		return nil, err
	}
	return &FileInfo{name: baseName(name), in: in}, nil
}

// Lstat does not follow a symlink in the last element.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	in, err := f.walk("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return &FileInfo{name: baseName(name), in: in}, nil
}

// ReadLink returns the target of symlink name as stored.
func (f *FS) ReadLink(name string) (string, error) {
	in, err := f.walk("readlink", name, false)
	if err != nil {
		return "", err
	}
	if !in.isSymlink() {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	t, err := f.readLink(in, name)
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	return t, nil
}

// ReadDir lists directory name sorted by file name, following symlinks.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	in, err := f.walk("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !in.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	ents, err := f.readDirEntries(in, name)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(ents))
	for i, e := range ents {
		out[i] = &dirEntry{fs: f, e: e, dir: name}
	}
	return out, nil
}

// readDirEntries lists in sorted by name, with the type of every entry
// (read from its inode where the entry does not record it).
func (f *FS) readDirEntries(in *Inode, name string) ([]Dirent, error) {
	d, err := f.dir(in)
	if err != nil {
		return nil, pathErr("readdir", name, withPath(err, name))
	}
	ents := slices.Clone(d.ents)
	for i := range ents {
		if ents[i].Type == fs.ModeIrregular {
			c, err := f.inode(ents[i].Ino)
			if err != nil {
				return nil, pathErr("readdir", name, withPath(err, joinName(name, ents[i].Name)))
			}
			ents[i].Type = typeMode(c.Mode)
		}
	}
	slices.SortFunc(ents, func(a, b Dirent) int { return strings.Compare(a.Name, b.Name) })
	return ents, nil
}

// ReadFile reads a whole file (at most Limits.MaxReadFile bytes),
// following symlinks.
func (f *FS) ReadFile(name string) ([]byte, error) {
	fl, err := f.OpenFile(name)
	if err != nil {
		return nil, err
	}
	if err := fl.checkReadable(); err != nil {
		return nil, err
	}
	if fl.in.Size > f.lim.MaxReadFile {
		return nil, &fs.PathError{Op: "read", Path: name, Err: f.errf(ErrLimit, fl.in.Ino, -1, "file of %d bytes is larger than the %d bytes read at once", fl.in.Size, f.lim.MaxReadFile)}
	}
	b := make([]byte, fl.in.Size)
	if _, err := fl.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, pathErr("read", name, err)
	}
	return b, nil
}

func baseName(name string) string {
	if name == "." || name == "" {
		return "."
	}
	return path.Base(name)
}

func joinName(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}

// String names the filesystem as in its errors.
func (f *FS) String() string { return fmt.Sprintf("%s (ext, %d-byte blocks)", f.name, f.bs) }
