package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/partition"
)

// newDiskCommand is the "disk" group: a whole disk, an image file or a
// block device.
func newDiskCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "disk",
		Usage: "read partition tables, signatures and XenServer partition roles",
		Description: "Commands that work on a whole disk (an image file or a block device).\n" +
			"See docs/disk.md.",
		Commands: []*cli.Command{newDiskInspectCommand(e), newSavePartitionCommand(e), newRestorePartitionCommand(e)},
	}
}

// diskInspectOptions are the flags of disk inspect.
type diskInspectOptions struct {
	SectorSize int // 0: found
}

func newDiskInspectCommand(e *env) *cli.Command {
	var o diskInspectOptions
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show the partition table, filesystems, XenServer roles and markers of a disk",
		ArgsUsage: "DISK",
		Description: "Reads DISK (an image file or a block device, opened read-only) the way the XenServer\n" +
			"host installer does: the GPT (both copies and their CRCs verified; a damaged primary is\n" +
			"read from the backup, with a warning) or DOS table including logical partitions, the\n" +
			"filesystem type, label and UUID of every partition (ext2/3/4 with needs_recovery, LVM2\n" +
			"PV, swap, vfat, xfs, ZFS member), the role of each partition by the installer's rules\n" +
			"(root = ext labelled root-*, backup = root+1, SR = root+2 if LVM, boot, logs, swap,\n" +
			"Dell utility) and the layout generation (new, legacy, legacy+boot, unknown). For the\n" +
			"root and backup partitions it reads etc/xensource-inventory and the\n" +
			".xen-backup-partition marker in-process (no debugfs, no mount, no root needed), and every\n" +
			"other ext partition is scanned for that marker too (the installer's Restore scans every\n" +
			"partition of every disk). A marker or inventory that cannot be read is \"unknown\" (null\n" +
			"in --json, with the reason), never absent.\n" +
			"When installer generations would take different partitions as the root (two root-* labels,\n" +
			"an active flag missing), it says which one each takes.\n" +
			"Sector size: a GPT says its own (the header is at LBA 1); a block device's comes from the\n" +
			"kernel; an image file with a DOS table is read with 512-byte sectors unless only 4096-byte\n" +
			"sectors put filesystems at the partition starts (said in a warning), or --sector-size N.\n" +
			"Partitions are listed in disk order in the table and by number in --json.\n" +
			"Read-only: never writes a byte; a dirty ext3/ext4 journal is replayed in memory only.\n\n" + exitHelp,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "sector-size", Destination: &o.SectorSize, Usage: "logical sector size `N` of a DOS-partitioned image: 512 or 4096 (default: found)", HideDefault: true},
		},
		Action: action(1, 1, func(ctx context.Context, a []string) error { return runDiskInspect(ctx, e, o, a[0]) }),
	}
}

func runDiskInspect(_ context.Context, e *env, o diskInspectOptions, disk string) error {
	if o.SectorSize != 0 && o.SectorSize != 512 && o.SectorSize != 4096 {
		return usagef("disk inspect: --sector-size %d: give 512 or 4096", o.SectorSize)
	}
	d, err := partition.InspectPath(disk, partition.OpenOptions{SectorSize: o.SectorSize, Markers: true})
	if err != nil {
		return err
	}
	e.noteMounts(d.Mounts...)
	return e.emit(d, func(w io.Writer) error { return renderDisk(w, d) })
}
