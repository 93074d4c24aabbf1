package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/versionfile"
)

// Options are what doctor is asked to look at: exactly one of Disk and
// Root.
type Options struct {
	Disk       string // --disk: a disk image or block device
	Root       string // --root: an already mounted root
	BackupRoot string // --backup-root: the mounted backup partition, with Root
	Installer  string // plan for this installer version ("": every verdict, no installer step)
	Journal    string // --journal: the journal to look into (default: the one inside the root)
	SaveDir    string // where the plan's partition images and reference databases go
}

// Run opens what it can, read-only — a --disk's table and every partition
// it needs read in-process, one at a time — and diagnoses it. It never
// writes. What it could not read is a finding, not an error.
func Run(ctx context.Context, o Options) (*Report, error) {
	if (o.Disk == "") == (o.Root == "") {
		return nil, xerr.Invalidf("doctor: give exactly one of --disk DEV and --root DIR")
	}
	if o.Installer != "" {
		if _, err := versionfile.LookupInstaller(o.Installer); err != nil {
			return nil, xerr.Invalidf("--for-installer: %w", err)
		}
	}
	in := Input{DiskPath: o.Disk, Installer: o.Installer, JournalPath: o.Journal, SaveDir: o.SaveDir}
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	open := func(opts target.Options) (*target.Root, error) {
		t, err := target.Open(ctx, opts)
		if err != nil {
			return nil, err
		}
		closers = append(closers, t.Close)
		if in.RootName == "" {
			in.RootName = t.Name()
		}
		return t.Root, nil
	}
	var err error
	if o.Disk != "" {
		err = in.openDisk(ctx, o, open)
	} else {
		err = in.openRoot(o, open)
	}
	if err != nil {
		return nil, err
	}
	j, err := in.openJournal(o.Journal)
	if err != nil {
		return nil, err
	}
	if j != nil {
		closers = append(closers, j.Close)
	}
	return Diagnose(ctx, in)
}

// openDisk reads the disk's table, then the backup partition (closed again:
// one partition open at a time), then opens the root partition.
func (in *Input) openDisk(ctx context.Context, o Options, open func(target.Options) (*target.Root, error)) error {
	d, err := partition.InspectPath(o.Disk, partition.OpenOptions{Markers: true})
	if err != nil {
		return err
	}
	in.Disk = d
	x := d.XenServer
	if x == nil {
		in.Unlabelled = unlabelledRoots(ctx, o.Disk, d)
		return nil
	}
	if b := x.Backup; b != nil {
		if p := d.Partition(b.Partition); p != nil && strings.HasPrefix(p.FS, "ext") {
			if bt, err := target.Open(ctx, target.Options{Disk: o.Disk, Partition: b.Partition}); err == nil {
				in.Backup = ReadBackup(bt.Root, b.Partition, o.Installer)
				in.Backup.Dir = ""
				bt.Close()
			}
		}
	}
	if in.Root, err = open(target.Options{Disk: o.Disk, Partition: x.RootPartition}); err != nil {
		in.RootNote = fmt.Sprintf("root partition %d cannot be read (%v): markers, the xapi database and the journal inside the root were not examined", x.RootPartition, err)
	}
	return nil
}

// openRoot opens --root and, if given, --backup-root.
func (in *Input) openRoot(o Options, open func(target.Options) (*target.Root, error)) error {
	var err error
	if in.Root, err = open(target.Options{Root: o.Root}); err != nil {
		return err
	}
	if o.BackupRoot != "" {
		bt, err := open(target.Options{Root: o.BackupRoot})
		if err != nil {
			return err
		}
		in.Backup = ReadBackup(bt, 0, o.Installer)
	}
	return nil
}

// openJournal opens the journal read-only: --journal, or the default one
// inside the root (of an image root, a private copy). A missing or empty
// journal is none (nil): no op was recorded.
func (in *Input) openJournal(jpath string) (*journal.Journal, error) {
	if jpath == "" && in.Root != nil {
		p, err := journal.DefaultPath(in.Root, false)
		in.JournalErr = err
		jpath = p
		if rel, ok := in.Root.Origin(p); ok {
			in.JournalShown = fmt.Sprintf("/%s on %s", rel, in.RootName)
		}
	}
	if jpath == "" {
		return nil, nil
	}
	j, err := journal.OpenReadOnlyAs(jpath, in.JournalShown)
	switch {
	case err == nil:
		in.Journal = j
		return j, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	}
	return nil, err
}

// unlabelledRoots finds the ext partitions that hold a XenServer root (an
// inventory and no .xen-backup-partition) but lost the root-* label the
// installer finds the root by. Each is read in-process, in turn.
func unlabelledRoots(ctx context.Context, diskPath string, d *partition.Disk) []UnlabelledRoot {
	var found []UnlabelledRoot
	for _, p := range d.Partitions {
		if !strings.HasPrefix(p.FS, "ext") || strings.HasPrefix(p.Label, "root-") {
			continue
		}
		t, err := target.Open(ctx, target.Options{Disk: diskPath, Partition: p.Number})
		if err != nil {
			continue
		}
		if _, err := t.Root.Lstat(strings.TrimPrefix(partition.BackupMarker, "/")); errors.Is(err, fs.ErrNotExist) {
			if inv, err := versionfile.ReadInventory(t.Root); err == nil {
				found = append(found, UnlabelledRoot{Partition: p, ProductVersion: inv.Value("PRODUCT_VERSION")})
			}
		}
		t.Close()
	}
	return found
}
