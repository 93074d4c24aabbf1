// Package target opens an offline root safely: an already mounted directory
// (--root DIR) or a partition that xsrescue mounts itself (--disk IMG|DEV
// [--partition N]). Every path inside the root goes through os.Root, after a
// chroot-style resolution of symlinks, so nothing in a foreign root can reach
// the rescue system's own files.
package target

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

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
	// NeedsRecovery: the partition's filesystem journal is dirty. A
	// read-only open reads it as is; a writable open makes the kernel
	// replay it (a write to the disk the user should know about, also
	// before a dry run decides).
	NeedsRecovery bool

	mount *mount // set when Open mounted a partition itself
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

// ErrNoTarget is returned when neither --root nor --disk was given.
var ErrNoTarget = errors.New("no target: give --root DIR or --disk IMG|DEV")

// Open opens the target: for --disk it mounts the partition on a private
// temporary mount point (refusing, exit 3, a device that is mounted or busy).
func Open(ctx context.Context, o Options) (*Target, error) {
	switch {
	case o.Root != "" && o.Disk != "":
		return nil, xerr.Invalidf("--root and --disk are mutually exclusive")
	case o.Root != "":
		if o.Partition != 0 {
			return nil, xerr.Invalidf("--partition needs --disk")
		}
		r, err := OpenRoot(o.Root)
		if err != nil {
			return nil, xerr.Invalid(err)
		}
		// The same directory reached through a symlink is the same target:
		// ops and their guards are matched by identity.
		id, err := filepath.EvalSymlinks(r.Dir())
		if err != nil {
			id = r.Dir()
		}
		return &Target{Root: r, Identity: id}, nil
	case o.Disk != "" && !o.Writable:
		return openReadOnly(ctx, o)
	case o.Disk != "":
		return openDisk(ctx, o)
	default:
		return nil, xerr.Invalid(ErrNoTarget)
	}
}

// Close unmounts and detaches everything Open set up.
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
	return err
}
