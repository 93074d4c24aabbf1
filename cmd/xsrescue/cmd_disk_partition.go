package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/shquote"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partimage"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// savePartitionOptions are the flags of disk save-partition.
type savePartitionOptions struct {
	Partition int
	Role      string
	To        string
	Compress  bool
}

func newSavePartitionCommand(e *env) *cli.Command {
	var o savePartitionOptions
	return &cli.Command{
		Name:      "save-partition",
		Usage:     "save a whole partition to an image file with a sha256 sidecar",
		ArgsUsage: "DISK",
		Description: "Streams one partition of DISK (an image file or a block device, opened read-only)\n" +
			"into FILE: zero blocks become holes (or, with --compress, a zstd stream), and\n" +
			"FILE.json records the partition's size and sha256. The copy is verified by reading\n" +
			"it back, and recorded in the journal (--journal, default FILE's directory/\n" +
			"xsrescue-journal.db) as an external record. Choose the partition by --partition N\n" +
			"or by its XenServer --role (backup, root, ...).\n\n" +
			"Save the backup partition before ANY installer run: every upgrade reformats it, and\n" +
			"with it the installer's Restore, the cleanest way back.\n\n" +
			"Refuses (exit 3) a partition that is mounted or held (LVM, device-mapper), and an\n" +
			"existing FILE, unless FILE and FILE.json already hold exactly this partition (a re-run:\n" +
			"exit 0, already as requested). Writes nothing to DISK. --dry-run runs these checks,\n" +
			"says what would be saved and writes nothing at all (no image, no sidecar, no journal).\n\n" + exitHelp,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "partition", Destination: &o.Partition, Usage: "partition number `N`", HideDefault: true},
			&cli.StringFlag{Name: "role", Destination: &o.Role, Usage: "XenServer partition `ROLE` (backup, root, sr, boot, logs, swap, utility)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &o.To, Usage: "image `FILE` to create (never overwritten; required)"},
			renamedFlag(e, "to", "output", &o.To),
			&cli.BoolFlag{Name: "compress", Destination: &o.Compress, Usage: "compress the image with zstd"},
		},
		Action: action(1, 1, func(ctx context.Context, a []string) error { return runSavePartition(ctx, e, o, a[0]) }),
	}
}

// restorePartitionOptions are the flags of disk restore-partition.
type restorePartitionOptions struct {
	Partition int
	From      string
	Force     bool
}

func newRestorePartitionCommand(e *env) *cli.Command {
	var o restorePartitionOptions
	return &cli.Command{
		Name:      "restore-partition",
		Usage:     "write a saved partition image back onto its partition",
		ArgsUsage: "DISK",
		Description: "Writes the image FILE (made by save-partition) back over partition N of DISK.\n" +
			"Before a byte is written it checks the image against its sidecar FILE.json (size and\n" +
			"sha256: a truncated or altered snapshot is refused), the partition's size against the\n" +
			"snapshot's, that the snapshot was saved from this partition (number, start offset\n" +
			"and role, as its sidecar records them), and that the partition is not mounted or\n" +
			"held. Only blocks that differ are written. Before the first of them, their current\n" +
			"content is kept in an undo file next to the journal (DISK-pN-before-restore-TIME.img\n" +
			"with its sidecar); the partition is then re-read and its sha256 compared. The\n" +
			"restore is recorded in the journal (--journal, default FILE's directory/\n" +
			"xsrescue-journal.db; journal list --disk DISK shows it when FILE is beside DISK) as\n" +
			"an external record whose roll-back command restores the undo file: restore-partition\n" +
			"--from UNDO-FILE puts the partition back as it was, and only onto the content the\n" +
			"restore left.\n\n" +
			"WARNING: this overwrites the partition with the snapshot. Keep the undo file until\n" +
			"the restored system is proven. --force restores a snapshot saved from ANOTHER\n" +
			"partition (number, start or role differ), e.g. onto a replacement disk laid out\n" +
			"differently: restoring the backup partition's image over the root is how a root\n" +
			"is lost, so check the layout with disk inspect first. A partition that shares bytes\n" +
			"with another partition or with the partition table's own sectors (a damaged table)\n" +
			"is refused too, naming each and how many bytes overlap; --force restores it anyway\n" +
			"and overwrites them (the --json document lists them under overlaps). A partition\n" +
			"that ends past the end of DISK (a truncated image) is never restored (exit 2).\n" +
			"--dry-run makes the same checks, reports how many blocks would change and writes\n" +
			"nothing.\n\n" + exitHelp,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "partition", Destination: &o.Partition, Usage: "partition number `N`", Required: true},
			&cli.StringFlag{Name: "from", Destination: &o.From, Usage: "image `FILE` made by save-partition (or an undo file)", Required: true},
			&cli.BoolFlag{Name: "force", Destination: &o.Force, Usage: "restore even if the snapshot was saved from another partition number, start or role, or the partition overlaps another (see WARNING)"},
		},
		Action: action(1, 1, func(ctx context.Context, a []string) error { return runRestorePartition(ctx, e, o, a[0]) }),
	}
}

func runSavePartition(ctx context.Context, e *env, o savePartitionOptions, disk string) error {
	if o.To == "" {
		return usagef("disk save-partition: give the image to create with --output FILE")
	}
	dp, err := choosePartition(disk, o.Partition, o.Role)
	if err != nil {
		return err
	}
	// Nobody changes the partition while it is imaged.
	f, release, err := e.lockAndOpen(ctx, dp)
	if err != nil {
		return err
	}
	defer release()
	doc := savePartitionDoc{Image: o.To, SidecarPath: partimage.SidecarPath(o.To), DryRun: e.DryRun, part: dp, journal: e.externalJournal(o.To)}
	e.setTarget(diskTarget(dp))
	why := fmt.Sprintf("partition %d (%s) of %s saved to %s", dp.p.Number, dash(dp.p.Role), disk, o.To)
	if e.DryRun {
		doc.Sidecar, err = partimage.CheckSave(ctx, f, dp.source(), o.To)
		if err != nil && !errors.Is(err, partimage.ErrAlreadySaved) {
			return err
		}
		doc.Verified, doc.already = doc.Sidecar != nil, doc.Sidecar != nil
		if doc.Sidecar == nil {
			doc.Sidecar = dp.sidecar()
			e.addChange(imageChange(o.To, why, nil))
		}
		return e.emitMutation(nil, doc, doc.render)
	}
	opt := partimage.Options{Compress: o.Compress}
	finish := e.progressInto("saving partition", dp.p.Size, &opt.Progress)
	doc.Sidecar, err = partimage.Save(ctx, f, dp.source(), o.To, opt)
	finish()
	if errors.Is(err, partimage.ErrAlreadySaved) {
		doc.Verified, doc.already = true, true
		return e.emitMutation(nil, doc, doc.render)
	}
	if err != nil {
		return err
	}
	doc.Verified = true
	doc.rec = &plan.ExternalRecord{Type: "partition-image", Name: absPath(o.To), SHA256: doc.Sidecar.SHA256,
		// A save changed nothing on the disk: rolling it back is removing
		// the image (restoring it would write the partition).
		Rollback: "rm -- " + shquote.Quote(absPath(o.To)) + " " + shquote.Quote(absPath(doc.SidecarPath))}
	e.addChange(imageChange(o.To, why, &doc.Sidecar.FileSHA256))
	doc.Op, err = e.recordExternal(ctx, dp, o.To, "disk save-partition", doc.rec, why,
		[]string{"rm", "--", absPath(o.To), absPath(doc.SidecarPath)})
	if err != nil {
		return fmt.Errorf("%s was saved and verified, but the journal record failed: %w", o.To, err)
	}
	return e.emitMutation(nil, doc, doc.render)
}

func runRestorePartition(ctx context.Context, e *env, o restorePartitionOptions, disk string) error {
	dp, err := choosePartition(disk, o.Partition, "")
	if err != nil {
		return err
	}
	overlaps, err := e.checkOverlaps(dp, o.Force)
	if err != nil {
		return err
	}
	// Held from the plan to the last block written. The plan is made from
	// a read-only descriptor; the disk is opened for writing only once the
	// restore is confirmed.
	f, release, err := e.lockAndOpen(ctx, dp)
	if err != nil {
		return err
	}
	defer release()
	if err := e.checkSnapshotOf(dp, o.From, o.Force); err != nil {
		return err
	}
	pl, err := partimage.Plan(ctx, f, dp.p.Start, dp.p.Size, o.From)
	if err != nil {
		return err
	}
	doc := restorePartitionDoc{Disk: disk, Partition: dp.p.Number, Image: o.From, DryRun: e.DryRun, RestoreResult: pl, Overlaps: overlaps, part: dp}
	doc.summary = doc.planned()
	e.setTarget(diskTarget(dp))
	why := fmt.Sprintf("partition %d of %s restored from %s", dp.p.Number, disk, o.From)
	if pl.ChangedBlocks > 0 {
		e.addChange(mutationChange{Path: absPath(disk), Action: plan.RawWrite, Why: why,
			BeforeSHA256: nullable(pl.PreviousSHA256), AfterSHA256: nullable(pl.Sidecar.SHA256),
			Description: fmt.Sprintf("write %d changed MiB block(s) of partition %d", pl.ChangedBlocks, dp.p.Number)})
	}
	if e.DryRun || pl.ChangedBlocks == 0 {
		return e.emitMutation(nil, doc, doc.render)
	}
	doc.keep = undoPath(filepath.Dir(e.externalJournal(o.From)), disk, dp.p.Number)
	if !e.Yes {
		e.logf("%s", doc.summary)
		e.logf("the %d block(s) overwritten are kept first in %s (restore it to undo)", pl.ChangedBlocks, doc.keep)
		if err := e.confirm(ctx, fmt.Sprintf("Overwrite partition %d of %s?", dp.p.Number, disk)); err != nil {
			return err
		}
	}
	if doc.RestoreResult, err = e.restoreBlocks(ctx, dp, o.From, pl, doc.keep); err != nil {
		return err
	}
	undo := []string{"xsrescue", "disk", "restore-partition", absPath(disk), "--partition", fmt.Sprint(dp.p.Number), "--from", absPath(doc.keep)}
	if len(overlaps) > 0 {
		// The undo writes the same overlapping extent back: it needs
		// --force as this restore did.
		undo = append(undo, "--force")
	}
	doc.rollback = shquote.Join(undo)
	rec := &plan.ExternalRecord{Type: "partition-restore", Name: fmt.Sprintf("%s partition %d", absPath(disk), dp.p.Number), SHA256: doc.RestoreResult.Sidecar.SHA256,
		Rollback: doc.rollback}
	doc.Op, err = e.recordExternal(ctx, dp, o.From, "disk restore-partition", rec, why, undo)
	if err != nil {
		return fmt.Errorf("partition %d was restored and verified, but the journal record failed: %w", dp.p.Number, err)
	}
	return e.emitMutation(nil, doc, doc.render)
}

// diskPartition is the partition a save or restore works on.
type diskPartition struct {
	disk *partition.Disk
	p    *partition.Partition
}

// choosePartition inspects the disk and finds the partition by number or
// role (exactly one of them).
func choosePartition(disk string, number int, role string) (diskPartition, error) {
	if (number == 0) == (role == "") {
		return diskPartition{}, usagef("give exactly one of --partition N and --role ROLE")
	}
	d, err := partition.InspectPath(disk, partition.OpenOptions{Markers: true})
	if err != nil {
		return diskPartition{}, err
	}
	p, err := d.Choose(number, role)
	return diskPartition{d, p}, err
}

func (dp diskPartition) source() partimage.Source {
	return partimage.Source{Disk: absPath(dp.disk.Path), Partition: dp.p.Number, Role: dp.p.Role, Start: dp.p.Start, Size: dp.p.Size}
}

func (dp diskPartition) sidecar() *partimage.Sidecar {
	return &partimage.Sidecar{Disk: dp.disk.Path, Partition: dp.p.Number, Role: dp.p.Role, Start: dp.p.Start, Size: dp.p.Size}
}

// open refuses a partition that is mounted or held, then opens the disk
// read-only.
func (dp diskPartition) open() (*os.File, error) {
	if err := partimage.CheckNotInUse(dp.disk.Path, dp.p.Start, dp.p.Size); err != nil {
		return nil, err
	}
	return infile.Open(dp.disk.Path, infile.FileOrBlock)
}

// lockPartition takes the partition's writer lock (the one a --disk target
// of it takes) unless this is a dry run, which writes nothing and locks
// nothing.
func (e *env) lockPartition(ctx context.Context, dp diskPartition) (release func() error, err error) {
	if e.DryRun {
		return func() error { return nil }, nil
	}
	return target.LockPartition(ctx, e.lockOptions(), dp.disk.Path, dp.p.Number, dp.p.UUID)
}

// lockAndOpen takes the partition's writer lock (none for a dry run) and
// opens the disk read-only; release closes it and drops the lock.
func (e *env) lockAndOpen(ctx context.Context, dp diskPartition) (*os.File, func(), error) {
	unlock, err := e.lockPartition(ctx, dp)
	if err != nil {
		return nil, nil, err
	}
	f, err := dp.open()
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return f, func() { f.Close(); unlock() }, nil
}

// checkOverlaps refuses (exit 3) restoring a partition whose bytes are
// shared with another partition or with the partition table, naming each
// and how many bytes; with force it goes on, saying so. It returns what
// would be overwritten.
func (e *env) checkOverlaps(dp diskPartition, force bool) ([]partition.Extent, error) {
	d, p := dp.disk, dp.p
	ov := d.Overlaps(*p)
	if len(ov) == 0 {
		return []partition.Extent{}, nil
	}
	var what []string
	for _, x := range ov {
		what = append(what, fmt.Sprintf("%s (%d bytes: %d-%d)", x.What, x.Bytes(), x.Start, x.End))
	}
	msg := fmt.Sprintf("partition %d (bytes %d-%d) overlaps %s", p.Number, p.Start, p.End(), strings.Join(what, ", "))
	if !force {
		return nil, xerr.Refusedf("%s: %s: restoring it would overwrite them; nothing was written (check the table with xsrescue disk inspect %s; --force restores anyway)", d.Path, msg, d.Path)
	}
	e.logf("xsrescue: --force: %s: restoring it overwrites them", msg)
	return ov, nil
}

// checkSnapshotOf checks the snapshot's sidecar against the partition: a
// snapshot of another partition is refused unless force.
func (e *env) checkSnapshotOf(dp diskPartition, image string, force bool) error {
	sc, err := partimage.ReadSidecar(image)
	if err != nil {
		return err
	}
	if err := sc.CheckSame(dp.source()); err != nil {
		if !force {
			return fmt.Errorf("%s: %w: refusing to restore it onto partition %d (%s) of %s; check with xsrescue disk inspect %s, and give --force only if this is really meant", image, err, dp.p.Number, dash(dp.p.Role), dp.disk.Path, dp.disk.Path)
		}
		e.logf("xsrescue: --force: %v", err)
	}
	return nil
}

// restoreBlocks opens the disk for writing — a block device exclusively,
// so the kernel refuses while anything holds it (mounts, LVM) — and writes
// the blocks that differ, keeping their current content in keep first.
func (e *env) restoreBlocks(ctx context.Context, dp diskPartition, image string, pl *partimage.RestoreResult, keep string) (*partimage.RestoreResult, error) {
	flags := os.O_RDWR
	if isBlockDevice(dp.disk.Path) {
		flags |= unix.O_EXCL
	}
	w, err := os.OpenFile(dp.disk.Path, flags, 0)
	if errors.Is(err, unix.EBUSY) {
		return nil, xerr.Refusedf("%s is busy (mounted or held): %w", dp.disk.Path, err)
	}
	if err != nil {
		return nil, err
	}
	defer w.Close()
	var bar func(int64)
	finish := e.progressInto("restoring partition", dp.p.Size, &bar)
	defer finish()
	rollingBack.Add(1)
	defer rollingBack.Add(-1)
	return partimage.Restore(ctx, w, dp.source(), image, pl, keep, bar)
}

// recordExternal records an action done outside any root in the journal
// (externalJournal).
// diskTarget names a partition of a disk as the mutation document's target.
func diskTarget(dp diskPartition) mutationTarget {
	d, n := dp.disk.Path, dp.p.Number
	return mutationTarget{Disk: &d, Partition: &n}
}

// imageChange is the partition image a save writes (after: the image
// file's sha256 once written).
func imageChange(image, why string, after *string) mutationChange {
	return mutationChange{Path: absPath(image), Action: plan.Create, Why: why, AfterSHA256: after,
		Description: fmt.Sprintf("create %s and its sidecar %s", absPath(image), absPath(partimage.SidecarPath(image)))}
}

func (e *env) recordExternal(ctx context.Context, dp diskPartition, image, command string, rec *plan.ExternalRecord, why string, undo []string) (*plan.Result, error) {
	root, err := target.OpenRoot(filepath.Dir(absPath(image)))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	identity := dp.p.UUID
	if identity == "" {
		identity = fmt.Sprintf("%s#%d", absPath(dp.disk.Path), dp.p.Number)
	}
	j, err := e.openJournal(ctx, e.externalJournal(image))
	if err != nil {
		return nil, err
	}
	defer j.Close()
	// The disk as an absolute path: journal list --disk finds the op by it.
	tgt := &target.Target{Root: root, Identity: identity, Disk: absPath(dp.disk.Path), Partition: dp.p.Number}
	p := &plan.Plan{Command: command, Changes: []plan.Change{{Kind: plan.External, External: rec, Why: why}}}
	res, err := j.Apply(ctx, tgt, e.argv, p)
	if err != nil {
		return nil, err
	}
	e.mut.pending = len(e.mut.changes) // the record has no change of its own to fill in
	op := newOpDoc(nil, res, undo)
	e.mut.ops = append(e.mut.ops, op)
	return res, nil
}

// imageJournalName is the journal of partition images beside them.
const imageJournalName = "xsrescue-journal.db"

// externalJournal is the journal of a partition image: --journal, or
// xsrescue-journal.db beside the image (journal list --disk looks for it
// beside the disk image).
func (e *env) externalJournal(image string) string {
	if e.Journal != "" {
		return e.Journal
	}
	return filepath.Join(filepath.Dir(absPath(image)), imageJournalName)
}

// undoPath names a new undo file in dir: DISK-pN-before-restore-TIME.img,
// with -2, -3... when a restore in the same second took that name.
func undoPath(dir, diskPath string, n int) string {
	base := filepath.Join(dir, fmt.Sprintf("%s-p%d-before-restore-%s", strings.TrimSuffix(filepath.Base(diskPath), filepath.Ext(diskPath)), n, time.Now().UTC().Format("20060102T150405Z")))
	p := base + ".img"
	for i := 2; ; i++ {
		_, err := os.Lstat(p)
		_, errSc := os.Lstat(partimage.SidecarPath(p))
		if os.IsNotExist(err) && os.IsNotExist(errSc) {
			return p
		}
		p = fmt.Sprintf("%s-%d.img", base, i)
	}
}

// progressInto installs a progress bar callback into *cb when stderr is a
// terminal and --json is off; the returned func ends it.
func (e *env) progressInto(what string, total int64, cb *func(int64)) func() {
	bar := e.progress(what, total)
	if cb == nil || bar == nil {
		return func() {}
	}
	*cb = bar.Set
	return bar.Finish
}

func isBlockDevice(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// allocated is the space a (sparse) file takes on disk.
func allocated(path string) int64 {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return 0
	}
	return st.Blocks * 512
}
