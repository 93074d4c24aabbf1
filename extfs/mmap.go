package extfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// Mapping is a read-only memory map of a region of an image file or block
// device (PROT_READ of a file opened read-only: it cannot write). An FS
// opened on a Mapping can hand out its data without copying (File.Views):
// searching a tree then reads the page cache in place.
type Mapping struct {
	data []byte // the region
	base []byte // the whole mapping (page-aligned)
}

// Map maps size bytes of f from byte off.
func Map(f *os.File, off, size int64) (*Mapping, error) {
	if size <= 0 || off < 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("map %s: %d bytes at %d", f.Name(), size, off)
	}
	page := int64(os.Getpagesize())
	start := off / page * page
	b, err := unix.Mmap(int(f.Fd()), start, int(size+off-start), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", f.Name(), err)
	}
	return &Mapping{data: b[off-start:], base: b}, nil
}

// ErrFault: the mapped file shrank or the device went away under a read.
var ErrFault = errors.New("the disk shrank or disappeared while it was read")

// ReadAt copies from the mapping; a fault (SIGBUS: the image was truncated
// meanwhile) is an error, not a crash.
func (m *Mapping) ReadAt(p []byte, off int64) (n int, err error) {
	if off < 0 || off > int64(len(m.data)) {
		return 0, io.EOF
	}
	err = Guard(func() { n = copy(p, m.data[off:]) })
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// Close unmaps.
func (m *Mapping) Close() error {
	if m.base == nil {
		return nil
	}
	err := unix.Munmap(m.base)
	m.base, m.data = nil, nil
	return err
}

// Guard runs fn, which reads mapped memory, and turns a fault into
// ErrFault.
func Guard(fn func()) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); ok { // a memory fault
				err = ErrFault
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}

// Views calls fn with the file's data, in order, as slices of the mapping
// where the FS is mapped (no copy) or read into a buffer otherwise: each
// call is a stretch at offset off; holes and unwritten extents (zeros) are
// not passed. The slices are only valid during the call and must be read
// under Guard when mapped (mapped reads fault if the disk shrinks).
func (fl *File) Views(fn func(off int64, b []byte) error) error {
	if err := fl.checkReadable(); err != nil {
		return err
	}
	if fl.inline != nil {
		return fn(0, fl.inline)
	}
	f := fl.fs
	m, mapped := f.r.(*Mapping)
	var buf []byte
	for _, r := range fl.runs {
		if r.unwritten {
			continue
		}
		off := int64(r.lblk) * f.bs
		if off >= fl.in.Size {
			break
		}
		n := min(int64(r.n)*f.bs, fl.in.Size-off)
		phys := f.off + int64(r.pblk)*f.bs
		if phys+n > f.off+f.size {
			return withPath(setIno(f.errf(ErrCorrupt, 0, phys, "data past the end of the filesystem's %d bytes (truncated image?)", f.size), fl.in.Ino), fl.name)
		}
		if mapped {
			if err := fl.mappedRun(m, r.pblk, off, phys, n, fn); err != nil {
				return err
			}
			continue
		}
		for done := int64(0); done < n; {
			k := min(n-done, 1<<20)
			if buf == nil {
				buf = make([]byte, 1<<20)
			}
			if err := f.readAt(buf[:k], phys-f.off+done); err != nil {
				return withPath(setIno(err, fl.in.Ino), fl.name)
			}
			if err := fn(off+done, buf[:k]); err != nil {
				return err
			}
			done += k
		}
	}
	return nil
}

// mappedRun hands out n bytes of a run mapped at phys (file offset off,
// first block pblk) in place, except the blocks the journal replay
// replaced, which are read into a buffer.
func (fl *File) mappedRun(m *Mapping, pblk uint64, off, phys, n int64, fn func(off int64, b []byte) error) error {
	f := fl.fs
	pos := int64(0)
	var buf []byte
	for _, k := range f.replayedIn(pblk, uint64((n+f.bs-1)/f.bs)) {
		at := int64(k-pblk) * f.bs
		if at > pos {
			if err := fn(off+pos, m.data[phys+pos:phys+at]); err != nil {
				return err
			}
		}
		if buf == nil {
			buf = make([]byte, f.bs)
		}
		l := min(f.bs, n-at)
		if err := f.readAt(buf[:l], phys-f.off+at); err != nil {
			return withPath(setIno(err, fl.in.Ino), fl.name)
		}
		if err := fn(off+at, buf[:l]); err != nil {
			return err
		}
		pos = at + l
	}
	if pos < n {
		return fn(off+pos, m.data[phys+pos:phys+n])
	}
	return nil
}
