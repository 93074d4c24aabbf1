package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/writable"
	"github.com/xsrescue/xsrescue/target"
)

// state is everything undo needs to put one path back: the before-image of a
// change, or what is there now.
type state struct {
	Exists bool              `json:"exists"`
	Type   string            `json:"type,omitempty"` // file, dir, symlink, char, block, fifo, socket
	SHA256 string            `json:"sha256,omitempty"`
	Size   int64             `json:"size,omitempty"`
	Mode   uint32            `json:"mode,omitempty"` // permission and set-id/sticky bits (07777)
	UID    int               `json:"uid"`
	GID    int               `json:"gid"`
	Mtime  int64             `json:"mtime_ns,omitempty"`
	Rdev   uint64            `json:"rdev,omitempty"`
	Link   string            `json:"link,omitempty"`
	Xattrs map[string][]byte `json:"xattrs,omitempty"`
	// Ino and Ctime are not recorded: they only tell, within one
	// command, that a file is still the one a plan was made from.
	Ino   uint64 `json:"-"`
	Ctime int64  `json:"-"`
}

func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFCHR:
		return "char"
	case unix.S_IFBLK:
		return "block"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	}
	return "unknown"
}

func typeBits(t string) uint32 {
	switch t {
	case "char":
		return unix.S_IFCHR
	case "block":
		return unix.S_IFBLK
	case "fifo":
		return unix.S_IFIFO
	case "socket":
		return unix.S_IFSOCK
	}
	return unix.S_IFREG
}

// unixMode converts the permission and special bits of an fs.FileMode.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}

// writer is the writable os.Root behind a directory root: the journal is
// the one package that writes through it (internal/writable).
func writer(root *target.Root) *os.Root { return writable.OS(root.Writer()) }

// dirAt is a directory of the target held open through the os.Root, plus one
// name in it. Every mutation uses the *at system calls on that descriptor, so
// a name is looked up in exactly one directory and never follows a symlink
// out of the root.
type dirAt struct {
	dir  *os.File
	base string
}

// openDirAt opens the parent directory of rel (a path already resolved by
// target.Root, so free of symlinks) through the os.Root.
func openDirAt(root *target.Root, rel string) (*dirAt, error) {
	parent, base := path.Split(rel)
	if base == "" || base == "." || base == ".." {
		return nil, fmt.Errorf("%s: not a name inside the root", rel)
	}
	if parent == "" {
		parent = "."
	}
	d, err := writer(root).OpenFile(path.Clean(parent), os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	return &dirAt{dir: d, base: base}, nil
}

func (d *dirAt) fd() int      { return int(d.dir.Fd()) }
func (d *dirAt) Close() error { return d.dir.Close() }

// procPath names an entry for the l*xattr calls, which have no *at form: the
// directory is reached through its descriptor, the last name is not followed.
func (d *dirAt) procPath(name string) string {
	return "/proc/self/fd/" + strconv.Itoa(d.fd()) + "/" + name
}

func (d *dirAt) sync() error { return d.dir.Sync() }

// hashing says whether capture hashes a regular file's content.
type hashing int

const (
	noHash     hashing = iota
	hashFile           // read and hash the content
	hashCached         // reuse a hash taken earlier in this process if the file cannot have changed since
)

// fileKey is what changes whenever a file's content can have changed: the
// kernel sets ctime on every write and nobody can set it back.
type fileKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

// contentHashes remembers the hashes prepare took, by fileKey: Render and
// Apply prepare the same plan one after the other, and a large file should
// not be read twice for it. Only prepare uses it; the snapshot re-hashes
// what it stores and verify re-reads what was written.
var contentHashes sync.Map // fileKey -> string

// capture reads the state of name in d without following it.
func (d *dirAt) capture(name string, hash hashing) (state, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return state{}, nil
		}
		return state{}, fmt.Errorf("stat %s: %w", name, err)
	}
	s := state{
		Exists: true,
		Type:   fileType(st.Mode),
		Mode:   st.Mode & 0o7777,
		UID:    int(st.Uid),
		GID:    int(st.Gid),
		Mtime:  st.Mtim.Nano(),
		Size:   st.Size,
		Ino:    st.Ino,
		Ctime:  st.Ctim.Nano(),
	}
	switch s.Type {
	case "char", "block":
		s.Rdev = st.Rdev
	case "symlink":
		buf := make([]byte, 4096)
		n, err := unix.Readlinkat(d.fd(), name, buf)
		if err != nil {
			return state{}, fmt.Errorf("readlink %s: %w", name, err)
		}
		s.Link = string(buf[:n])
	case "file":
		key := fileKey{uint64(st.Dev), st.Ino, st.Size, st.Mtim.Nano(), st.Ctim.Nano()}
		if hash == hashCached {
			if sum, ok := contentHashes.Load(key); ok {
				s.SHA256 = sum.(string)
				break
			}
		}
		if hash != noHash {
			f, err := d.openFile(name)
			if err != nil {
				return state{}, err
			}
			sum, size, err := hashReader(f)
			f.Close()
			if err != nil {
				return state{}, fmt.Errorf("read %s: %w", name, err)
			}
			s.SHA256, s.Size = sum, size
			if hash == hashCached && size == st.Size {
				contentHashes.Store(key, sum)
			}
		}
	}
	if s.Type != "dir" {
		x, err := d.xattrs(name)
		if err != nil {
			return state{}, err
		}
		s.Xattrs = x
	}
	return s, nil
}

func (d *dirAt) openFile(name string) (*os.File, error) {
	fd, err := unix.Openat(d.fd(), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func (d *dirAt) xattrs(name string) (map[string][]byte, error) {
	p := d.procPath(name)
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", name, err)
	}
	var out map[string][]byte
	for _, key := range splitNul(buf[:n]) {
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, key, v)
		if err != nil {
			return nil, fmt.Errorf("xattr %s of %s: %w", key, name, err)
		}
		if out == nil {
			out = map[string][]byte{}
		}
		out[key] = v[:m]
	}
	return out, nil
}

func splitNul(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := slices.Index(b, 0)
		if i < 0 {
			i = len(b)
		}
		if i > 0 {
			out = append(out, string(b[:i]))
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}

// setMeta gives name the owner, mode, xattrs and (when mtime != 0) the
// modification time of s. Owner first: chown clears set-id bits.
func (d *dirAt) setMeta(name string, s state, mtime bool) error {
	if err := unix.Fchownat(d.fd(), name, s.UID, s.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	if s.Type != "symlink" {
		if err := unix.Fchmodat(d.fd(), name, s.Mode, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", name, err)
		}
	}
	if err := d.setXattrs(name, s.Xattrs); err != nil {
		return err
	}
	if mtime && s.Mtime != 0 {
		ts := []unix.Timespec{{Sec: 0, Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(s.Mtime)}
		if err := unix.UtimesNanoAt(d.fd(), name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set mtime of %s: %w", name, err)
		}
	}
	return nil
}

// setXattrs makes the xattrs of name exactly want.
func (d *dirAt) setXattrs(name string, want map[string][]byte) error {
	have, err := d.xattrs(name)
	if err != nil {
		return err
	}
	p := d.procPath(name)
	for k := range have {
		if _, ok := want[k]; !ok {
			if err := unix.Lremovexattr(p, k); err != nil {
				return fmt.Errorf("remove xattr %s of %s: %w", k, name, err)
			}
		}
	}
	for k, v := range want {
		if string(have[k]) == string(v) {
			continue
		}
		if err := unix.Lsetxattr(p, k, v, 0); err != nil {
			return fmt.Errorf("set xattr %s of %s: %w", k, name, err)
		}
	}
	return nil
}

// writeback starts the kernel writing each 8 MiB of a large file as soon as
// it is written, so that the fsync at the end waits for the last piece
// instead of the whole file. Its errors are the fsync's to report.
type writeback struct {
	f         *os.File
	off, done int64
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.done >= 8<<20 {
		unix.SyncFileRange(int(w.f.Fd()), w.done, w.off-w.done, unix.SYNC_FILE_RANGE_WRITE)
		w.done = w.off
	}
	return n, err
}

// writeTemp writes r into a new temporary file tmp in d, gives it meta and
// fsyncs it. It returns the sha256 of what it wrote.
func (d *dirAt) writeTemp(tmp string, r io.Reader, meta state, mtime bool) (string, int64, error) {
	fd, err := unix.Openat(d.fd(), tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", 0, fmt.Errorf("create %s: %w", tmp, err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	h := sha256.New()
	n, err := io.Copy(&writeback{f: f}, io.TeeReader(r, h))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.setMeta(tmp, meta, mtime)
	}
	if err != nil {
		unix.Unlinkat(d.fd(), tmp, 0)
		// "write .xsrescue-….tmp: no space left on device" names a file
		// that no longer exists: the caller names the file being replaced.
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Path == tmp {
			err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
		}
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func (d *dirAt) rename(from, to string) error {
	if err := unix.Renameat(d.fd(), from, d.fd(), to); err != nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, err)
	}
	return nil
}

func (d *dirAt) remove(name string, dir bool) error {
	flags := 0
	if dir {
		flags = unix.AT_REMOVEDIR
	}
	if err := unix.Unlinkat(d.fd(), name, flags); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

func (d *dirAt) mknod(name string, s state) error {
	if err := unix.Mknodat(d.fd(), name, typeBits(s.Type)|s.Mode, int(s.Rdev)); err != nil {
		return fmt.Errorf("mknod %s: %w", name, err)
	}
	return d.setMeta(name, s, true)
}

func (d *dirAt) symlink(name, link string) error {
	if err := unix.Symlinkat(link, d.fd(), name); err != nil {
		return fmt.Errorf("symlink %s: %w", name, err)
	}
	return nil
}
