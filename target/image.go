package target

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/extfs"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
)

// located is the partition a --disk target names, with the disk opened
// read-only (the caller closes f).
type located struct {
	disk    string // absolute
	f       *os.File
	st      os.FileInfo
	isBlock bool
	d       *partition.Disk
	p       partition.Partition
	n       int
}

// locate opens o.Disk read-only, runs check on it (when not nil) before
// anything is read, reads its partition table and picks the partition:
// o.Partition, or the XenServer root.
func locate(o Options, check func(disk string, st os.FileInfo, isBlock bool) error) (l *located, err error) {
	disk, err := filepath.Abs(o.Disk)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	f, err := os.Open(disk)
	if err != nil {
		return nil, xerr.Invalidf("disk %s: %w", o.Disk, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	isBlock := st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0
	if !isBlock && !st.Mode().IsRegular() {
		return nil, xerr.Invalidf("disk %s: neither a block device nor an image file", o.Disk)
	}
	if check != nil {
		if err := check(disk, st, isBlock); err != nil {
			return nil, err
		}
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("disk %s: %w", disk, err)
	}
	d, err := partition.Inspect(f, size)
	if err != nil {
		return nil, xerr.Invalidf("disk %s: %w", disk, err)
	}
	n := o.Partition
	if n == 0 {
		if d.XenServer == nil || d.XenServer.RootPartition == 0 {
			return nil, xerr.Invalidf("disk %s: no XenServer root partition found; give --partition N", disk)
		}
		n = d.XenServer.RootPartition
	}
	p := d.Partition(n)
	if p == nil {
		var have []string
		for _, q := range d.Partitions {
			have = append(have, strconv.Itoa(q.Number))
		}
		return nil, xerr.Invalidf("disk %s: no partition %d (partitions: %s)", disk, n, strings.Join(have, " "))
	}
	return &located{disk: disk, f: f, st: st, isBlock: isBlock, d: d, p: *p, n: n}, nil
}

// openReadOnly opens a --disk target for reading. An ext2/3/4 partition is
// read in-process (extfs): no mount, no loop device, no root privileges,
// no /proc or /sys, and the kernel never parses a filesystem that may be
// damaged or hostile. xfs and vfat are still mounted read-only.
func openReadOnly(ctx context.Context, o Options) (*Target, error) {
	l, err := locate(o, nil)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s partition %d", l.disk, l.n)
	switch l.p.FS {
	case "ext2", "ext3", "ext4":
	case "xfs", "vfat":
		l.f.Close()
		return openDisk(ctx, o)
	default:
		l.f.Close()
		what := "no filesystem signature"
		if l.p.FS != "" {
			what = l.p.FS
		}
		return nil, xerr.Invalidf("%s holds %s: nothing to read (ext2/3/4 are read in-process, xfs and vfat mounted read-only)", name, what)
	}
	if l.p.End() > l.d.Size {
		l.f.Close()
		return nil, xerr.Invalidf("%s ends past the end of the disk (%d bytes): truncated image or damaged entry", name, l.d.Size)
	}
	x, disk, err := openExt(l.f, l.p.Start, l.p.Size, name)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	r := &Root{img: x, disk: disk, name: name}
	id := l.p.UUID
	if id == "" {
		id = fmt.Sprintf("%s#%d", l.disk, l.n)
	}
	t := &Target{Root: r, Identity: id, Disk: l.disk, Partition: l.n, NeedsRecovery: l.p.NeedsRecovery || x.NeedsRecovery()}
	if x.Truncated() {
		t.Notes = append(t.Notes, fmt.Sprintf("%s: the filesystem is larger than its partition (truncated image?): files past the end cannot be read", name))
	}
	if point := mountedOn(l); point != "" {
		t.Notes = append(t.Notes, fmt.Sprintf("%s is mounted on %s: read from the disk as it is, without what the mounted filesystem has not written yet", name, point))
	}
	return t, nil
}

// mountedOn says where the partition (or its whole disk, or a loop device
// over the image) is mounted, as far as /proc and /sys tell; "" when not
// or unknown (no /proc: a chroot, a container).
func mountedOn(l *located) string {
	if l.isBlock {
		devs, err := blockDevs(l.st)
		if err != nil {
			return ""
		}
		mounts, err := mountedDevs()
		if err != nil {
			return ""
		}
		for dev := range devs {
			if point, ok := mounts[dev]; ok {
				return point
			}
		}
		return ""
	}
	if dev := attachedLoop(l.st); dev != "" {
		return loopMount(dev)
	}
	return ""
}

// OpenImage opens the ext2/3/4 filesystem at byte off of the image or
// device path (size bytes) as a read-only root named name in messages.
func OpenImage(path string, off, size int64, name string) (*Root, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	x, disk, err := openExt(f, off, size, name)
	if err != nil {
		return nil, err
	}
	return &Root{img: x, disk: disk, name: name}, nil
}

// openExt opens the ext filesystem at off in f (which it takes over):
// through a read-only memory map of the partition where the kernel allows
// one (searches then read the page cache in place), else through f.
func openExt(f *os.File, off, size int64, name string) (*extfs.FS, io.Closer, error) {
	var r io.ReaderAt = f
	closer := io.Closer(f)
	base := off
	if m, err := extfs.Map(f, off, size); err == nil {
		r, closer, base = m, closers{m, f}, 0
	}
	x, err := extfs.Open(r, base, size, extfs.Options{Name: name})
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	return x, closer, nil
}

type closers []io.Closer

func (c closers) Close() error {
	var errs []error
	for _, x := range c {
		errs = append(errs, x.Close())
	}
	return errors.Join(errs...)
}

// LocalPath is a path on the rescue system where tools that need one
// (SQLite) can read rel, a path already resolved in the root: the file
// itself in a directory root; in an image root a private read-only copy,
// made with its -wal and -journal companions and removed by Close. A
// file that does not exist does not exist at the returned path either.
func (r *Root) LocalPath(rel string) (string, error) {
	if r.img == nil {
		return filepath.Join(r.dir, filepath.FromSlash(rel)), nil
	}
	if _, err := r.img.Lstat(rel); errors.Is(err, fs.ErrNotExist) {
		// Nothing to copy: a path where nothing is, in a directory that
		// is never made and whose name nobody can guess (a chroot may
		// have no temporary directory at all).
		var b [16]byte
		rand.Read(b[:])
		absent := filepath.Join(os.TempDir(), fmt.Sprintf("xsrescue-absent-%x", b), path.Base(rel))
		r.remember(absent, rel)
		return absent, nil
	}
	if r.tmp == "" {
		dir, err := os.MkdirTemp("", "xsrescue-copy-")
		if err != nil {
			return "", err
		}
		r.tmp = dir
	}
	dst := filepath.Join(r.tmp, path.Base(rel))
	if _, ok := r.copies[dst]; ok {
		return dst, nil
	}
	if err := r.copyOut(rel, dst); err != nil {
		return "", err
	}
	for _, suffix := range []string{"-wal", "-journal"} {
		if err := r.copyOut(rel+suffix, dst+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	r.remember(dst, rel)
	return dst, nil
}

func (r *Root) remember(local, rel string) {
	if r.copies == nil {
		r.copies = map[string]string{}
	}
	r.copies[local] = rel
}

// Origin maps a path LocalPath returned back to the file of the root it
// is a copy of (for messages).
func (r *Root) Origin(local string) (rel string, ok bool) {
	rel, ok = r.copies[local]
	return rel, ok
}

func (r *Root) copyOut(rel, dst string) error {
	fi, err := r.img.Lstat(rel)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s in %s is a %s, not a file", rel, r.name, fi.Mode().Type())
	}
	src, err := r.img.Open(rel)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return fmt.Errorf("copy %s out of %s: %w", rel, r.name, err)
	}
	return out.Close()
}
