// Package target opens an offline root safely: an already mounted directory
// (--root DIR), the directory of one file (a FILE argument), or a partition
// of a disk (--disk IMG|DEV [--partition N]): read in-process when it is
// ext2/3/4 and opened read-only (no mount, no loop device, no root), mounted
// by xsrescue itself otherwise. Every path inside the root is resolved
// chroot-style and then opened through os.Root (or the in-process reader),
// so nothing in a foreign root can reach the rescue system's own files.
//
// A mutating command opens its target read-only with a lock (Options.Lock),
// plans from what it reads, and only once the plan is confirmed calls Reopen
// to make it writable: nothing is written, not even by a read-write mount,
// before that.
package target

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
)

// Options say which target to open.
type Options struct {
	Root      string // --root DIR: an already mounted tree
	Disk      string // --disk IMG|DEV
	Partition int    // --partition N (0: the XenServer root found by partition.Inspect)
	// File is a FILE argument (statedb patch FILE, a domain config): the
	// target is the file's directory, locked by the file's own identity.
	File string
	// Writable mounts the partition read-write. Read-only, an ext2/3/4
	// partition is read in-process, never mounted (xfs and vfat are
	// mounted ro,norecovery / ro).
	Writable bool
	// Lock takes the target's writer lock before anything is read, held
	// until Close (nil: no lock, for read-only commands).
	Lock *LockOptions
}

// Target is an opened offline root plus where it came from.
type Target struct {
	Root      *Root
	Identity  string // filesystem UUID for a disk, absolute directory for --root or a FILE
	Disk      string // the disk, when opened with --disk
	Partition int    // the partition opened, when opened with --disk
	Notes     []string
	// Mount: a read-only --disk open of a partition that is mounted right
	// now (through any device that maps its bytes): what was read is the
	// disk as it is, which a read-write mount has not finished writing.
	Mount *partition.Mount
	// NeedsRecovery: the partition's filesystem journal is dirty. A
	// read-only open reads it as is; a writable open makes the kernel
	// replay it (a write to the disk the user should know about, also
	// before a dry run decides).
	NeedsRecovery bool

	writable bool
	lock     *lock
	mount    *mount // set when Open mounted a partition or holds its disk O_EXCL
}

// Name is how messages name the target: the disk and partition for --disk
// (the private mount point is an implementation detail that is gone once the
// command ends), the directory for --root.
func (t *Target) Name() string {
	if t.Disk != "" {
		return fmt.Sprintf("%s partition %d", t.Disk, t.Partition)
	}
	return t.Root.Dir()
}

// Named is err with the private mount point of a mounted --disk target
// named as the disk and partition (Name): the mount is gone when the
// command ends, the user knows the disk. Its exit code is err's.
func (t *Target) Named(err error) error {
	dir := t.Root.Dir()
	if err == nil || t.Disk == "" || dir == "" {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), dir+"/", t.Name()+": ")
	return namedError{strings.ReplaceAll(msg, dir, t.Name()), err}
}

// namedError is an error whose message names the target as the user gave
// it; errors.Is and the exit code see the error it replaces.
type namedError struct {
	msg string
	err error
}

func (e namedError) Error() string { return e.msg }
func (e namedError) Unwrap() error { return e.err }

// Writable reports whether the target was opened (or reopened) writable.
func (t *Target) Writable() bool { return t.writable }

// Locked reports whether the target holds its writer lock.
func (t *Target) Locked() bool { return t.lock != nil }

// ErrNoTarget is returned when neither --root nor --disk was given.
var ErrNoTarget = errors.New("no target: give --root DIR or --disk IMG|DEV")

// Open opens the target. For --disk: read-only, an ext2/3/4 partition is
// read in-process (a disk that is mounted elsewhere is read as it is, with
// a note); writable, or another filesystem, it is mounted on a private
// temporary mount point (refusing, exit 3, a device that is mounted or
// busy). With o.Lock it first takes the target's writer lock (waiting
// o.Lock.Wait at most; then exit 3 naming the holder) and refuses a disk in
// use, since the plan it serves is to be applied through a mount.
func Open(ctx context.Context, o Options) (*Target, error) {
	n := 0
	for _, s := range []string{o.Root, o.Disk, o.File} {
		if s != "" {
			n++
		}
	}
	switch {
	case n > 1 && o.File != "":
		return nil, xerr.Invalidf("FILE and --root/--disk are mutually exclusive")
	case n > 1:
		return nil, xerr.Invalidf("--root and --disk are mutually exclusive")
	case o.Root != "" || o.File != "":
		if o.Partition != 0 {
			return nil, xerr.Invalidf("--partition needs --disk")
		}
		return openDir(ctx, o)
	case o.Disk != "" && !o.Writable:
		return openReadOnly(ctx, o)
	case o.Disk != "":
		return openDisk(ctx, o)
	default:
		return nil, xerr.Invalid(ErrNoTarget)
	}
}

// openDir opens --root DIR, or the directory of o.File.
func openDir(ctx context.Context, o Options) (*Target, error) {
	dir, name := o.Root, ""
	if o.File != "" {
		abs, err := filepath.Abs(o.File)
		if err != nil {
			return nil, xerr.Invalid(err)
		}
		// The file's real directory: a symlinked FILE is the file it names.
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		if err := infile.Check(abs, infile.File); err != nil {
			return nil, xerr.Invalid(err)
		}
		dir, name = filepath.Dir(abs), filepath.Base(abs)
	}
	r, err := OpenRoot(dir)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	// The same directory reached through a symlink is the same target:
	// ops and their guards are matched by identity.
	id, err := filepath.EvalSymlinks(r.Dir())
	if err != nil {
		id = r.Dir()
	}
	t := &Target{Root: r, Identity: id, writable: o.Writable}
	if o.Lock != nil {
		fi, err := r.os.Stat(".")
		if err != nil {
			r.Close()
			return nil, err
		}
		key, what := dirKey(fi), r.Dir()
		if o.File != "" {
			key, what = fileKey(fi, name), filepath.Join(r.Dir(), name)
		}
		if t.lock, err = takeLock(ctx, o.Lock, key, what); err != nil {
			r.Close()
			return nil, err
		}
		r.keepServed()
	}
	return t, nil
}

// Reopen makes a target that was opened read-only for planning writable,
// once the plan is confirmed; the lock (if any) is kept throughout. For a
// --disk target the read-only view (in-process reader or mount) is released
// and the partition mounted read-write: its table is read again and the
// filesystem must still have the identity planned on (exit 3 otherwise). *t.Root is replaced in place,
// so whatever holds t.Root (a plan's content stream) reads the writable tree
// from now on. A --root or FILE target is the same directory either way.
func (t *Target) Reopen(ctx context.Context) error {
	if t.writable {
		return nil
	}
	if t.Disk == "" {
		if t.lock != nil {
			// Later plans (a second op) start from what this one leaves.
			t.Root.keepServed()
		}
		t.writable = true
		return nil
	}
	return t.reopenDisk(ctx)
}

// Close unmounts and detaches everything Open set up (closing the disk an
// in-process root reads), then releases the lock.
func (t *Target) Close() error {
	if t == nil {
		return nil
	}
	err := t.Root.Close()
	if t.mount != nil {
		if e := t.mount.release(); e != nil {
			err = errors.Join(err, fmt.Errorf("release %s: %w", t.Disk, e))
		}
		t.mount = nil
	}
	// Last: the next xsrescue must find the disk detached when it gets in.
	if e := t.lock.release(); e != nil {
		err = errors.Join(err, e)
	}
	t.lock = nil
	return err
}
