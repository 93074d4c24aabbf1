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

	"github.com/xsrescue/xsrescue/extfs"
	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
)

// openReadOnly opens a --disk target for reading. An ext2/3/4 partition is
// read in-process (extfs): no mount, no loop device, no root privileges,
// no /proc or /sys, and the kernel never parses a filesystem that may be
// damaged or hostile. xfs and vfat are still mounted read-only.
//
// Without o.Lock (a read-only command) a disk mounted elsewhere is read as
// it is, with a note: reading cannot harm it. With o.Lock (a mutation
// plans here, and will apply through a read-write mount) the disk is
// refused as openDisk refuses it, the lock is taken by the filesystem's
// identity, and a block device is held O_EXCL until Close, so nobody mounts
// it between the plan and its apply.
func openReadOnly(ctx context.Context, o Options) (t *Target, err error) {
	var check func(string, os.FileInfo, bool) error
	if o.Lock != nil {
		check = refuseMounted
	}
	d, err := locate(o, check)
	if err != nil {
		return nil, err
	}
	name := d.name()
	switch d.p.FS {
	case "ext2", "ext3", "ext4":
	case "xfs", "vfat":
		d.f.Close()
		return openDisk(ctx, o)
	default:
		d.f.Close()
		what := "no filesystem signature"
		if d.p.FS != "" {
			what = d.p.FS
		}
		return nil, xerr.Invalidf("%s holds %s: nothing to read (ext2/3/4 are read in-process, xfs and vfat mounted read-only)", name, what)
	}
	if d.p.End() > d.d.Size {
		d.f.Close()
		return nil, xerr.Invalidf("%s ends past the end of the disk (%d bytes): truncated image or damaged entry", name, d.d.Size)
	}
	l, d, err := lockDisk(ctx, o, d)
	if err != nil {
		d.f.Close()
		return nil, err
	}
	m := &mount{}
	defer func() {
		if err != nil {
			m.release()
			l.release()
		}
	}()
	if l != nil {
		// Checked once the lock is held: another xsrescue's private mount
		// is gone by then.
		if err := refuseOverlap(d); err != nil {
			d.f.Close()
			return nil, err
		}
		if err := refuseErrors(d); err != nil {
			d.f.Close()
			return nil, err
		}
		if err := m.holdExclusive(d); err != nil {
			d.f.Close()
			return nil, err
		}
	}
	x, disk, err := openExt(d.f, d.p.Start, d.p.Size, name)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	r := &Root{img: x, disk: disk, name: name}
	if l != nil {
		r.keepServed()
	}
	t = &Target{Root: r, Identity: d.identity(), Disk: d.disk, Partition: d.n,
		NeedsRecovery: d.p.NeedsRecovery || x.NeedsRecovery(), lock: l, mount: m}
	if x.Truncated() {
		t.Notes = append(t.Notes, fmt.Sprintf("%s: the filesystem is larger than its partition (truncated image?): files past the end cannot be read", name))
	}
	if l == nil {
		t.Mount = partition.MountOver(d.st, *d.p)
		if e := d.p.Errors; e != nil {
			t.Notes = append(t.Notes, fmt.Sprintf("partition %d: %s: a change to it is refused until it is checked (%s)", d.n, e, partition.CheckCommand(d.disk, *d.p)))
		}
	}
	return t, nil
}

// OpenImage opens the ext2/3/4 filesystem at byte off of the image or
// device path (size bytes) as a read-only root named name in messages. A
// FIFO, socket or character device is refused (exit 2), never opened.
func OpenImage(path string, off, size int64, name string) (*Root, error) {
	f, err := infile.Open(path, infile.FileOrBlock)
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
	o := extfs.Options{Name: name}
	start := off
	if m, err := extfs.Map(f, off, size); err == nil {
		// The map starts at the partition; errors still name disk bytes.
		r, closer, start, o.DiskOffset = m, closers{m, f}, 0, off
	}
	x, err := extfs.Open(r, start, size, o)
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
		return fmt.Errorf("%s in %s is a %s, not a file", rel, r.name, infile.TypeName(fi.Mode()))
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
