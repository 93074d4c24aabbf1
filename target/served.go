package target

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"github.com/xsrescue/xsrescue/extfs"
	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// Served is what a root handed out for one path, so that a plan can carry
// the state of the content it was computed from with no gap in between: the
// file's inode, size and times when the domain code opened it, and the
// sha256 of the bytes when it read the file whole (ReadFile). An image root
// records the same from the inode it read in-process.
type Served struct {
	Ino          uint64
	Size         int64
	Mtime, Ctime int64  // nanoseconds
	SHA256       string // "" when the file was opened and read by the caller
}

// servedLog records, by resolved path, what a root served while a plan was
// made. Only the roots of locked targets (mutating commands) keep one.
type servedLog struct {
	mu sync.Mutex
	m  map[string]Served
}

// Served returns what the root last served for the resolved path rel (as
// Resolve returns it), if it keeps a record (a locked target) and served it.
func (r *Root) Served(rel string) (Served, bool) {
	if r == nil || r.served == nil {
		return Served{}, false
	}
	r.served.mu.Lock()
	defer r.served.mu.Unlock()
	s, ok := r.served.m[rel]
	return s, ok
}

// recordOpen notes the file f was opened for rel.
func (r *Root) recordOpen(rel string, f *os.File) {
	if r.served == nil {
		return
	}
	if s, ok := servedStat(f); ok {
		r.served.put(rel, s)
	}
}

// readFile reads rel whole through the os.Root (or the image) and, for a
// locked target, records its stat and the sha256 of exactly the bytes
// returned.
func (r *Root) readFile(rel string) ([]byte, error) {
	var b []byte
	var s Served
	var ok bool
	if r.img != nil {
		f, err := r.openImage(rel)
		if err != nil {
			return nil, err
		}
		if b, err = r.img.ReadFile(rel); err != nil {
			return nil, err
		}
		s, ok = servedInode(f.Inode())
	} else {
		f, err := r.openChecked(rel)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		s, ok = servedStat(f)
		if b, err = io.ReadAll(f); err != nil {
			return nil, err
		}
	}
	if ok && r.served != nil {
		sum := sha256.Sum256(b)
		s.SHA256 = hex.EncodeToString(sum[:])
		r.served.put(rel, s)
	}
	return b, nil
}

func servedStat(f *os.File) (Served, bool) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return Served{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Served{}, false
	}
	return Served{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, true
}

// servedInode is servedStat for an inode an image root read: the same
// numbers a mount's stat gives.
func servedInode(in *extfs.Inode) (Served, bool) {
	if !in.FileMode().IsRegular() {
		return Served{}, false
	}
	return Served{Ino: uint64(in.Ino), Size: in.Size, Mtime: in.Mtime.UnixNano(), Ctime: in.Ctime.UnixNano()}, true
}

func (l *servedLog) put(rel string, s Served) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]Served{}
	}
	l.m[rel] = s
}

// keepServed makes r record what it serves from now on.
func (r *Root) keepServed() { r.served = &servedLog{} }

// openChecked opens rel without blocking: a FIFO, socket or device in a
// foreign root (a hostile state.db that is a named pipe) is refused as
// invalid input instead of waiting forever for a writer. Directories and
// regular files are returned as they are.
func (r *Root) openChecked(rel string) (*os.File, error) {
	f, err := r.os.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if m := fi.Mode(); !m.IsRegular() && !m.IsDir() {
		f.Close()
		return nil, xerr.Invalid(&fs.PathError{Op: "open", Path: rel, Err: fmt.Errorf("is a %s, not a file", infile.TypeName(m))})
	}
	// O_NONBLOCK means nothing to reads of regular files and directories.
	return f, nil
}

// openImage is openChecked for an image root: a FIFO, socket or device is
// refused alike (reading one in-process cannot block, but what it would
// mean is the same: not a file), and what is opened is recorded.
func (r *Root) openImage(rel string) (*extfs.File, error) {
	f, err := r.img.OpenFile(rel)
	if err != nil {
		return nil, err
	}
	in := f.Inode()
	if m := in.FileMode(); !m.IsRegular() && !m.IsDir() {
		return nil, xerr.Invalid(&fs.PathError{Op: "open", Path: rel, Err: fmt.Errorf("is a %s, not a file", infile.TypeName(m))})
	}
	if s, ok := servedInode(in); ok && r.served != nil {
		r.served.put(rel, s)
	}
	return f, nil
}
