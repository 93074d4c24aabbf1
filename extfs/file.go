package extfs

import (
	"errors"
	"io"
	"io/fs"
	"slices"
	"sort"
	"syscall"
	"time"
)

// inlineTail is the system.data extended attribute of an inline-data
// inode: what does not fit in i_block.
func (f *FS) inlineTail(in *Inode) ([]byte, error) {
	xs, err := f.ibodyXattrs(in)
	if err != nil {
		return nil, err
	}
	for _, x := range xs {
		if x.index == 7 && x.name == "data" {
			if x.inum != 0 {
				return nil, f.errf(ErrCorrupt, in.Ino, -1, "inline data kept in an extended-attribute inode")
			}
			return x.value, nil
		}
	}
	return nil, nil
}

// inlineData is the whole content of an inline-data inode.
func (f *FS) inlineData(in *Inode) ([]byte, error) {
	tail, err := f.inlineTail(in)
	if err != nil {
		return nil, err
	}
	data := append(slices.Clone(in.block[:]), tail...)
	if int64(len(data)) < in.Size {
		return nil, f.errf(ErrCorrupt, in.Ino, -1, "inline data holds %d bytes, the size is %d", len(data), in.Size)
	}
	return data[:in.Size], nil
}

// File is an open file or directory of an FS. It implements fs.File,
// io.ReaderAt, io.Seeker and fs.ReadDirFile.
type File struct {
	fs   *FS
	in   *Inode
	name string

	runs   []run
	inline []byte
	pos    int64

	dirents []Dirent
	dirPos  int
	dirRead bool
}

// openInode prepares in for reading: its block map or inline data.
func (f *FS) openInode(in *Inode, name string) (*File, error) {
	fl := &File{fs: f, in: in, name: name}
	if !in.isReg() && !in.isSymlink() {
		return fl, nil
	}
	if in.Flags&flagEncrypt != 0 {
		return nil, f.errf(ErrUnsupported, in.Ino, -1, "encrypted file (fscrypt): content cannot be read without the key")
	}
	var err error
	if in.Flags&flagInlineData != 0 {
		fl.inline, err = f.inlineData(in)
	} else {
		fl.runs, err = f.runs(in)
	}
	if err != nil {
		return nil, err
	}
	return fl, nil
}

// Stat describes the file.
func (fl *File) Stat() (fs.FileInfo, error) {
	return &FileInfo{name: baseName(fl.name), in: fl.in}, nil
}

// Inode is the file's inode.
func (fl *File) Inode() *Inode { return fl.in }

// Close does nothing (nothing is held open).
func (fl *File) Close() error { return nil }

func (fl *File) checkReadable() error {
	if fl.in.isDir() {
		return &fs.PathError{Op: "read", Path: fl.name, Err: syscall.EISDIR}
	}
	if !fl.in.isReg() && !fl.in.isSymlink() {
		return &fs.PathError{Op: "read", Path: fl.name, Err: errors.New("not a regular file")}
	}
	return nil
}

// Read reads from the current position.
func (fl *File) Read(p []byte) (int, error) {
	n, err := fl.ReadAt(p, fl.pos)
	fl.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek sets the position for the next Read.
func (fl *File) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += fl.pos
	case io.SeekEnd:
		off += fl.in.Size
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "seek", Path: fl.name, Err: fs.ErrInvalid}
	}
	fl.pos = off
	return off, nil
}

// ReadAt reads len(p) bytes at off: holes and unwritten extents read as
// zeros, data from its blocks. It never reads past i_size.
func (fl *File) ReadAt(p []byte, off int64) (int, error) {
	if err := fl.checkReadable(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: fl.name, Err: fs.ErrInvalid}
	}
	size := fl.in.Size
	if off >= size {
		return 0, io.EOF
	}
	want := p
	if int64(len(p)) > size-off {
		want = p[:size-off]
	}
	if fl.inline != nil || fl.in.Flags&flagInlineData != 0 {
		n := copy(want, fl.inline[off:])
		return fl.eof(n, len(p))
	}
	f := fl.fs
	bs := f.bs
	done := 0
	for done < len(want) {
		pos := off + int64(done)
		lblk := uint64(pos / bs)
		i := sort.Search(len(fl.runs), func(i int) bool { return fl.runs[i].lblk+fl.runs[i].n > lblk })
		if i == len(fl.runs) || fl.runs[i].lblk > lblk {
			// A hole up to the next run (or the end).
			end := int64(len(want))
			if i < len(fl.runs) {
				end = min(end, int64(fl.runs[i].lblk)*bs-off)
			}
			clear(want[done:end])
			done = int(end)
			continue
		}
		r := fl.runs[i]
		runEnd := int64(r.lblk+r.n) * bs
		n := int(min(int64(len(want)-done), runEnd-pos))
		if r.unwritten {
			clear(want[done : done+n])
		} else {
			phys := int64(r.pblk)*bs + (pos - int64(r.lblk)*bs)
			if err := f.readAt(want[done:done+n], phys); err != nil {
				return done, withPath(setIno(err, fl.in.Ino), fl.name)
			}
		}
		done += n
	}
	return fl.eof(done, len(p))
}

func (fl *File) eof(n, asked int) (int, error) {
	if n < asked {
		return n, io.EOF
	}
	return n, nil
}

// Extent is a stretch of a file that holds data (not a hole): Find skips
// holes, which read as zeros.
type Extent struct {
	Off, Len int64 // bytes, within i_size
}

// DataExtents lists the file's data stretches in order; the rest of the
// file reads as zeros. Unwritten extents count as holes.
func (fl *File) DataExtents() []Extent {
	if fl.inline != nil {
		return []Extent{{0, int64(len(fl.inline))}}
	}
	var out []Extent
	bs := fl.fs.bs
	for _, r := range fl.runs {
		if r.unwritten {
			continue
		}
		o := int64(r.lblk) * bs
		if o >= fl.in.Size {
			break
		}
		l := min(int64(r.n)*bs, fl.in.Size-o)
		if k := len(out); k > 0 && out[k-1].Off+out[k-1].Len == o {
			out[k-1].Len += l
			continue
		}
		out = append(out, Extent{o, l})
	}
	return out
}

// ReadDir reads the entries of a directory opened with Open, sorted by
// name, n at a time (all with n <= 0), as fs.ReadDirFile.
func (fl *File) ReadDir(n int) ([]fs.DirEntry, error) {
	if !fl.in.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: fl.name, Err: syscall.ENOTDIR}
	}
	if !fl.dirRead {
		ents, err := fl.fs.readDirEntries(fl.in, fl.name)
		if err != nil {
			return nil, err
		}
		fl.dirents, fl.dirRead = ents, true
	}
	rest := fl.dirents[fl.dirPos:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	fl.dirPos += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, e := range rest {
		out[i] = &dirEntry{fs: fl.fs, e: e, dir: fl.name}
	}
	return out, nil
}

// FileInfo describes a file; Sys returns its *Inode.
type FileInfo struct {
	name string
	in   *Inode
}

func (fi *FileInfo) Name() string       { return fi.name }
func (fi *FileInfo) Size() int64        { return fi.in.Size }
func (fi *FileInfo) Mode() fs.FileMode  { return fi.in.FileMode() }
func (fi *FileInfo) ModTime() time.Time { return fi.in.Mtime }
func (fi *FileInfo) IsDir() bool        { return fi.in.isDir() }
func (fi *FileInfo) Sys() any           { return fi.in }

type dirEntry struct {
	fs  *FS
	e   Dirent
	dir string
}

func (d *dirEntry) Name() string      { return d.e.Name }
func (d *dirEntry) IsDir() bool       { return d.e.Type.IsDir() }
func (d *dirEntry) Type() fs.FileMode { return d.e.Type }
func (d *dirEntry) Info() (fs.FileInfo, error) {
	in, err := d.fs.inode(d.e.Ino)
	if err != nil {
		return nil, withPath(err, joinName(d.dir, d.e.Name))
	}
	return &FileInfo{name: d.e.Name, in: in}, nil
}

func setIno(err error, ino uint32) error {
	var e *Error
	if errors.As(err, &e) && e.Ino == 0 {
		c := *e
		c.Ino = ino
		return &c
	}
	return err
}
