package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partimage"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

func init() {
	extend("disk", func() []*cli.Command {
		return []*cli.Command{{
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
				&cli.IntFlag{Name: "partition", Usage: "partition number `N`", HideDefault: true},
				&cli.StringFlag{Name: "role", Usage: "XenServer partition `ROLE` (backup, root, sr, boot, logs, swap, utility)"},
				&cli.StringFlag{Name: "to", Usage: "image `FILE` to create (never overwritten)", Required: true},
				&cli.BoolFlag{Name: "compress", Usage: "compress the image with zstd"},
			},
			Action: runSavePartition,
		},
			{
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
					"restore is recorded in the journal as an external record whose roll-back command\n" +
					"restores the undo file: restore-partition --from UNDO-FILE puts the partition back\n" +
					"as it was, and only onto the content the restore left.\n\n" +
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
					&cli.IntFlag{Name: "partition", Usage: "partition number `N`", Required: true},
					&cli.StringFlag{Name: "from", Usage: "image `FILE` made by save-partition (or an undo file)", Required: true},
					&cli.BoolFlag{Name: "force", Usage: "restore even if the snapshot was saved from another partition number, start or role, or the partition overlaps another (see WARNING)"},
				},
				Action: runRestorePartition,
			}}
	})
}

// SavePartitionDoc is the --json document of disk save-partition.
type SavePartitionDoc struct {
	*partimage.Sidecar
	DryRun      bool         `json:"dry_run"`
	Image       string       `json:"image"`
	SidecarPath string       `json:"sidecar"`
	Verified    bool         `json:"verified"`
	Op          *plan.Result `json:"op"`
}

// RestorePartitionDoc is the --json document of disk restore-partition.
type RestorePartitionDoc struct {
	Disk      string `json:"disk"`
	Partition int    `json:"partition"`
	Image     string `json:"image"`
	DryRun    bool   `json:"dry_run"`
	*partimage.RestoreResult
	// Overlaps is what a --force restore overwrites besides the partition
	// (other partitions, table sectors); [] when nothing.
	Overlaps []partition.Extent `json:"overlaps"`
	Op       *plan.Result       `json:"op"`
}

func runSavePartition(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 1, 1)
	if err != nil {
		return err
	}
	diskPath, image := a[0], cmd.String("to")
	d, p, err := pickPartition(ctx, diskPath, int(cmd.Int("partition")), cmd.String("role"))
	if err != nil {
		return err
	}
	// Nobody changes the partition while it is imaged.
	release, err := lockPartition(ctx, cmd, diskPath, p)
	if err != nil {
		return err
	}
	defer release()
	if err := partimage.CheckNotInUse(diskPath, p.Start, p.Size); err != nil {
		return err
	}
	f, err := infile.Open(diskPath, infile.FileOrBlock)
	if err != nil {
		return err
	}
	defer f.Close()
	o := output(cmd)
	src := partimage.Source{Disk: diskPath, Partition: p.Number, Role: p.Role, Start: p.Start, Size: p.Size}
	if cmd.Bool("dry-run") {
		sc, err := partimage.CheckSave(ctx, f, src, image)
		if err != nil && !errors.Is(err, partimage.ErrAlreadySaved) {
			return err
		}
		doc := SavePartitionDoc{Sidecar: sc, Image: image, SidecarPath: partimage.SidecarPath(image), DryRun: true, Verified: sc != nil}
		if sc == nil {
			doc.Sidecar = &partimage.Sidecar{Disk: diskPath, Partition: p.Number, Role: p.Role, Start: p.Start, Size: p.Size}
		}
		return o.Emit(doc, func(w io.Writer) error {
			if sc != nil {
				fmt.Fprintf(w, "%s already holds partition %d (%s) of %s (sha256 %s, verified): already as requested\n", image, p.Number, dash(p.Role), diskPath, sc.SHA256)
				return nil
			}
			fmt.Fprintf(w, "would save partition %d (%s, %s) of %s to %s (sidecar %s, journal %s)\n", p.Number, dash(p.Role), humanSize(p.Size), diskPath, image, partimage.SidecarPath(image), journalPath(cmd, image))
			fmt.Fprintln(w, "dry run: nothing written")
			return nil
		})
	}
	opt := partimage.Options{Compress: cmd.Bool("compress")}
	finish := progress(o, "saving partition", p.Size, &opt.Progress)
	sc, err := partimage.Save(ctx, f, src, image, opt)
	finish()
	if errors.Is(err, partimage.ErrAlreadySaved) {
		doc := SavePartitionDoc{Sidecar: sc, Image: image, SidecarPath: partimage.SidecarPath(image), Verified: true}
		return o.Emit(doc, func(w io.Writer) error {
			fmt.Fprintf(w, "%s already holds partition %d (%s) of %s (sha256 %s, verified): already as requested\n", image, p.Number, dash(p.Role), diskPath, sc.SHA256)
			return nil
		})
	}
	if err != nil {
		return err
	}
	rec := &plan.ExternalRecord{Type: "partition-image", Name: absPath(image), SHA256: sc.SHA256,
		// A save changed nothing on the disk: rolling it back is removing
		// the image (restoring it would write the partition).
		Rollback: "rm -- " + quoteShell(absPath(image)) + " " + quoteShell(absPath(partimage.SidecarPath(image)))}
	res, err := recordExternal(ctx, cmd, d, p, image, "disk save-partition", rec,
		fmt.Sprintf("partition %d (%s) of %s saved to %s", p.Number, dash(p.Role), diskPath, image))
	if err != nil {
		return fmt.Errorf("%s was saved and verified, but the journal record failed: %w", image, err)
	}
	doc := SavePartitionDoc{Sidecar: sc, Image: image, SidecarPath: partimage.SidecarPath(image), Verified: true, Op: res}
	return o.Emit(doc, func(w io.Writer) error {
		fmt.Fprintf(w, "saved partition %d (%s, %s) of %s to %s\n", p.Number, dash(p.Role), humanSize(p.Size), diskPath, image)
		fmt.Fprintf(w, "  sha256 %s, %s, image %s on disk; verified by reading it back\n", sc.SHA256, sc.Compression, humanSize(allocated(image)))
		fmt.Fprintf(w, "  sidecar %s; journal %s op %d\n", partimage.SidecarPath(image), res.Journal, res.Op)
		fmt.Fprintf(w, "  to put it back: %s\n", rec.Rollback)
		return nil
	})
}

func runRestorePartition(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 1, 1)
	if err != nil {
		return err
	}
	diskPath, image := a[0], cmd.String("from")
	d, p, err := pickPartition(ctx, diskPath, int(cmd.Int("partition")), "")
	if err != nil {
		return err
	}
	overlaps, err := checkOverlaps(cmd, d, p)
	if err != nil {
		return err
	}
	o := output(cmd)
	dry := cmd.Bool("dry-run")
	// Held from the plan to the last block written.
	release, err := lockPartition(ctx, cmd, diskPath, p)
	if err != nil {
		return err
	}
	defer release()
	if err := partimage.CheckNotInUse(diskPath, p.Start, p.Size); err != nil {
		return err
	}
	// The plan is made from a read-only descriptor; the disk is opened for
	// writing only once the restore is confirmed.
	f, err := infile.Open(diskPath, infile.FileOrBlock)
	if err != nil {
		return err
	}
	defer f.Close()
	dst := partimage.Source{Disk: diskPath, Partition: p.Number, Role: p.Role, Start: p.Start, Size: p.Size}
	sc, err := partimage.ReadSidecar(image)
	if err != nil {
		return err
	}
	if err := sc.CheckSame(dst); err != nil {
		if !cmd.Bool("force") {
			return fmt.Errorf("%s: %w: refusing to restore it onto partition %d (%s) of %s; check with xsrescue disk inspect %s, and give --force only if this is really meant", image, err, p.Number, dash(p.Role), diskPath, diskPath)
		}
		o.Logf("xsrescue: --force: %v", err)
	}
	pl, err := partimage.Plan(ctx, f, p.Start, p.Size, image)
	if err != nil {
		return err
	}
	doc := RestorePartitionDoc{Disk: diskPath, Partition: p.Number, Image: image, DryRun: dry, RestoreResult: pl, Overlaps: overlaps}
	summary := fmt.Sprintf("restore partition %d (%s) of %s from %s: %d of %d MiB blocks differ (%s to write)",
		p.Number, dash(p.Role), diskPath, image, pl.ChangedBlocks, pl.Blocks, humanSize(pl.BytesToWrite))
	if dry || pl.ChangedBlocks == 0 {
		return o.Emit(doc, func(w io.Writer) error {
			fmt.Fprintln(w, summary)
			if pl.ChangedBlocks == 0 {
				fmt.Fprintln(w, "the partition already holds the snapshot: nothing to do")
			} else {
				fmt.Fprintf(w, "dry run: nothing written (a restore keeps the %d block(s) it overwrites in an undo file next to the journal first)\n", pl.ChangedBlocks)
			}
			return nil
		})
	}
	keep := undoPath(filepath.Dir(journalPath(cmd, image)), diskPath, p.Number)
	if !cmd.Bool("yes") {
		o.Logf("%s", summary)
		o.Logf("the %d block(s) overwritten are kept first in %s (restore it to undo)", pl.ChangedBlocks, keep)
		if err := confirmMutation(ctx, cmd, fmt.Sprintf("Overwrite partition %d of %s?", p.Number, diskPath)); err != nil {
			return err
		}
	}
	flags := os.O_RDWR
	if isBlockDevice(diskPath) {
		flags |= unix.O_EXCL // the kernel refuses while anything has it open exclusively (mounts, LVM)
	}
	w, err := os.OpenFile(diskPath, flags, 0)
	if errors.Is(err, unix.EBUSY) {
		return xerr.Refusedf("%s is busy (mounted or held): %w", diskPath, err)
	}
	if err != nil {
		return err
	}
	defer w.Close()
	var bar func(int64)
	finish := progress(o, "restoring partition", p.Size, &bar)
	res, err := partimage.Restore(ctx, w, dst, image, pl, keep, bar)
	finish()
	if err != nil {
		return err
	}
	doc.RestoreResult = res
	rollback := fmt.Sprintf("xsrescue disk restore-partition %s --partition %d --from %s", absPath(diskPath), p.Number, absPath(keep))
	rec := &plan.ExternalRecord{Type: "partition-restore", Name: fmt.Sprintf("%s partition %d", absPath(diskPath), p.Number), SHA256: res.Sidecar.SHA256,
		Rollback: rollback}
	doc.Op, err = recordExternal(ctx, cmd, d, p, image, "disk restore-partition", rec,
		fmt.Sprintf("partition %d of %s restored from %s", p.Number, diskPath, image))
	if err != nil {
		return fmt.Errorf("partition %d was restored and verified, but the journal record failed: %w", p.Number, err)
	}
	return o.Emit(doc, func(w io.Writer) error {
		fmt.Fprintln(w, summary)
		fmt.Fprintf(w, "written and verified: sha256 %s; journal %s op %d\n", res.VerifiedSHA256, doc.Op.Journal, doc.Op.Op)
		fmt.Fprintf(w, "the overwritten blocks are kept in %s; to undo: %s\n", keep, rollback)
		return nil
	})
}

// lockPartition takes partition p's writer lock (the one a --disk target of
// it takes) unless this is a dry run, which writes nothing and locks nothing.
func lockPartition(ctx context.Context, cmd *cli.Command, diskPath string, p *partition.Partition) (release func() error, err error) {
	if cmd.Bool("dry-run") {
		return func() error { return nil }, nil
	}
	return target.LockPartition(ctx, lockOptions(cmd), diskPath, p.Number, p.UUID)
}

// pickPartition inspects the disk and finds the partition by number or role.
func pickPartition(ctx context.Context, diskPath string, number int, role string) (*partition.Disk, *partition.Partition, error) {
	if (number == 0) == (role == "") {
		return nil, nil, usageError{errors.New("give exactly one of --partition N and --role ROLE")}
	}
	d, err := partition.InspectPath(diskPath, partition.OpenOptions{Markers: true})
	if err != nil {
		return nil, nil, err
	}
	if number != 0 {
		p := d.Partition(number)
		if p == nil {
			return nil, nil, xerr.Invalidf("%s: no partition %d", diskPath, number)
		}
		return d, p, onDisk(d, p)
	}
	var found *partition.Partition
	for i := range d.Partitions {
		if d.Partitions[i].Role == role {
			if found != nil {
				return nil, nil, xerr.Invalidf("%s: partitions %d and %d both have role %s: use --partition", diskPath, found.Number, d.Partitions[i].Number, role)
			}
			found = &d.Partitions[i]
		}
	}
	if found == nil {
		return nil, nil, xerr.Invalidf("%s: no partition with role %q (see xsrescue disk inspect %s)", diskPath, role, diskPath)
	}
	return d, found, onDisk(d, found)
}

// onDisk refuses (exit 2) a partition that ends past the end of the disk (a
// truncated image, or a damaged entry): a copy of it would be short, and
// writing it would grow an image file.
func onDisk(d *partition.Disk, p *partition.Partition) error {
	if p.End() > d.Size {
		return xerr.Invalidf("%s: partition %d (bytes %d-%d) ends past the end of the disk (%d bytes): a truncated image or a damaged table entry; its bytes cannot all be read or written",
			d.Path, p.Number, p.Start, p.End(), d.Size)
	}
	return nil
}

// checkOverlaps refuses (exit 3) restoring p while its bytes are shared
// with another partition or with the partition table, naming each and how
// many bytes; --force goes on, saying so. It returns what would be
// overwritten.
func checkOverlaps(cmd *cli.Command, d *partition.Disk, p *partition.Partition) ([]partition.Extent, error) {
	ov := d.Overlaps(*p)
	if len(ov) == 0 {
		return []partition.Extent{}, nil
	}
	var what []string
	for _, e := range ov {
		what = append(what, fmt.Sprintf("%s (%d bytes: %d-%d)", e.What, e.Bytes(), e.Start, e.End))
	}
	msg := fmt.Sprintf("partition %d (bytes %d-%d) overlaps %s", p.Number, p.Start, p.End(), strings.Join(what, ", "))
	if !cmd.Bool("force") {
		return nil, xerr.Refusedf("%s: %s: restoring it would overwrite them; nothing was written (check the table with xsrescue disk inspect %s; --force restores anyway)", d.Path, msg, d.Path)
	}
	output(cmd).Logf("xsrescue: --force: %s: restoring it overwrites them", msg)
	return ov, nil
}

// recordExternal records an action done outside any root in the journal:
// --journal, or xsrescue-journal.db beside the image.
func recordExternal(ctx context.Context, cmd *cli.Command, d *partition.Disk, p *partition.Partition, image, command string, rec *plan.ExternalRecord, why string) (*plan.Result, error) {
	path := journalPath(cmd, image)
	root, err := target.OpenRoot(filepath.Dir(absPath(image)))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	identity := p.UUID
	if identity == "" {
		identity = fmt.Sprintf("%s#%d", absPath(d.Path), p.Number)
	}
	j, err := openJournal(ctx, cmd, path)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	tgt := &target.Target{Root: root, Identity: identity, Disk: d.Path, Partition: p.Number}
	pl := &plan.Plan{Command: command, Changes: []plan.Change{{Kind: plan.External, External: rec, Why: why}}}
	return j.Apply(ctx, tgt, append([]string{"xsrescue"}, os.Args[1:]...), pl)
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

// journalPath is --journal, or xsrescue-journal.db beside the image.
func journalPath(cmd *cli.Command, image string) string {
	if p := cmd.String("journal"); p != "" {
		return p
	}
	return filepath.Join(filepath.Dir(absPath(image)), "xsrescue-journal.db")
}

// progress installs a progress bar callback into *cb when stderr is a
// terminal and --json is off; the returned func ends it.
func progress(o out, what string, total int64, cb *func(int64)) func() {
	bar := newProgress(o, what, total)
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
