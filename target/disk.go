package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
)

// diskPart is one partition of a disk, found in its table, with the disk
// open read-only (f: the caller closes it once it no longer reads).
type diskPart struct {
	disk    string // absolute
	f       *os.File
	st      os.FileInfo
	isBlock bool
	d       *partition.Disk
	n       int
	p       *partition.Partition
}

// identity is the target identity journals record: the filesystem UUID.
func (d *diskPart) identity() string {
	if d.p.UUID != "" {
		return d.p.UUID
	}
	return fmt.Sprintf("%s#%d", d.disk, d.n)
}

func (d *diskPart) lockKey() string { return diskKey(d.p.UUID, d.st, d.isBlock, d.n) }

func (d *diskPart) name() string { return fmt.Sprintf("%s partition %d", d.disk, d.n) }

// locate opens o.Disk read-only, runs check on it (when not nil) before
// anything is read, reads its partition table and picks the partition:
// o.Partition, or the XenServer root. It only reads.
func locate(o Options, check func(disk string, st os.FileInfo, isBlock bool) error) (_ *diskPart, err error) {
	disk, err := filepath.Abs(o.Disk)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	// A FIFO or socket would block the open itself; a character device
	// is no disk.
	f, err := infile.Open(disk, infile.FileOrBlock)
	if err != nil {
		if xerr.Code(err) == xerr.ExitInvalid {
			return nil, xerr.Invalidf("disk %w", err)
		}
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
	isBlock := st.Mode()&os.ModeDevice != 0
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
	if w := d.Whole; w != nil {
		// Not taken as a one-partition disk: a writing command would
		// treat sector 0 (a filesystem's, xfs's superblock) as a table.
		return nil, xerr.Invalidf("disk %s: no partition table: the whole disk holds %s (label %q), a partition image (as disk save-partition writes), not a disk: "+
			"to examine it, wrap a copy as partition 1 of a disk image and give --disk COPY --partition 1 (docs/disk.md, \"A partition image as --disk\"), or mount it read-only and give --root", disk, w.FS, w.Label)
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
	return &diskPart{disk: disk, f: f, st: st, isBlock: isBlock, d: d, n: n, p: p}, nil
}

// lockDisk takes o.Lock (if any) for partition d, by its identity. When it
// had to wait, the holder may have changed the disk meanwhile: the table is
// read again and the partition must still hold the filesystem that was
// locked. The diskPart returned (d, or d read again) is the caller's to
// close, also on error.
func lockDisk(ctx context.Context, o Options, d *diskPart) (*lock, *diskPart, error) {
	if o.Lock == nil {
		return nil, d, nil
	}
	quick := *o.Lock
	quick.Wait = 0
	l, err := takeLock(ctx, &quick, d.lockKey(), d.name())
	if errors.Is(err, ErrLocked) && o.Lock.Wait > 0 {
		if l, err = takeLock(ctx, o.Lock, d.lockKey(), d.name()); err == nil {
			if d, err = relocate(o, d); err != nil {
				l.release()
			}
		}
	}
	if err != nil {
		return nil, d, err
	}
	return l, d, nil
}

// relocate reads the table again and checks that partition d.n still holds
// the filesystem that was locked; it returns the new reading (d closed) or
// d (left open) with the error.
func relocate(o Options, d *diskPart) (*diskPart, error) {
	o.Partition = d.n
	again, err := locate(o, refuseMounted)
	if err != nil {
		return d, err
	}
	if again.lockKey() != d.lockKey() || again.identity() != d.identity() {
		again.f.Close()
		return d, xerr.Refusedf("%s changed while this command waited for it (filesystem %s, now %s): nothing was changed; run the command again", d.name(), d.identity(), again.identity())
	}
	d.f.Close()
	return again, nil
}
