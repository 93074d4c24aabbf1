package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/partition"
)

// diskCommand is the "disk" group; other files add subcommands to it with
// extend("disk", ...) from their own init.
func diskCommand() *cli.Command {
	return &cli.Command{
		Name:  "disk",
		Usage: "read partition tables, signatures and XenServer partition roles",
		Description: "Commands that work on a whole disk (an image file or a block device).\n" +
			"See docs/disk.md.",
		Commands: []*cli.Command{{
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
				"Read-only: never writes a byte, not even to replay an ext3 journal.\n\n" + exitHelp,
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "sector-size", Usage: "logical sector size `N` of a DOS-partitioned image: 512 or 4096 (default: found)", HideDefault: true},
			},
			Action: runDiskInspect,
		}},
	}
}

func init() { register(diskCommand) }

func runDiskInspect(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 1, 1)
	if err != nil {
		return err
	}
	ss := int(cmd.Int("sector-size"))
	if ss != 0 && ss != 512 && ss != 4096 {
		return usageError{fmt.Errorf("disk inspect: --sector-size %d: give 512 or 4096", ss)}
	}
	d, err := partition.InspectPath(a[0], partition.OpenOptions{SectorSize: ss, Markers: true})
	if err != nil {
		return err
	}
	return output(cmd).Emit(d, func(w io.Writer) error { return renderDisk(w, d) })
}

func renderDisk(w io.Writer, d *partition.Disk) error {
	fmt.Fprintf(w, "%s: %s (%d bytes), %d-byte sectors, table %s, layout %s\n\n",
		d.Path, humanSize(d.Size), d.Size, d.SectorSize, d.Table, d.Layout)
	if len(d.Partitions) > 0 {
		parts := append([]partition.Partition(nil), d.Partitions...)
		sort.SliceStable(parts, func(i, j int) bool { return parts[i].Start < parts[j].Start })
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tSTART\tSIZE\tTYPE\tBOOT\tFS\tLABEL\tUUID\tROLE")
		for _, p := range parts {
			// sgdisk's short code for a GPT type it knows (the GUID is in
			// --json); DOS types are short already.
			typ := p.Type
			if p.TypeCode != nil {
				typ = *p.TypeCode
			}
			if p.Name != "" {
				typ += " (" + p.Name + ")"
			}
			fs := dash(p.FS)
			if p.NeedsRecovery {
				fs += " (needs recovery)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Number, humanSize(p.Start), humanSize(p.Size),
				typ, map[bool]string{true: "*"}[p.Bootable], fs, dash(p.Label), dash(p.UUID), dash(p.Role))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	if x := d.XenServer; x != nil {
		fmt.Fprintf(w, "XenServer root: partition %d, %s\n", x.RootPartition, describeInventory(x.Inventory, x.InventoryError))
		if b := x.Backup; b != nil {
			marker := "no .xen-backup-partition marker"
			switch {
			case b.HasMarker():
				marker = ".xen-backup-partition present"
			case b.Marker == nil:
				marker = ".xen-backup-partition unknown (unreadable, see the warnings)"
			}
			fmt.Fprintf(w, "Backup:         partition %d, %s, %s\n", b.Partition, marker, describeInventory(b.Inventory, b.InventoryError))
		}
		if x.Backups != nil {
			var on, unknown []string
			for _, b := range x.Backups {
				if b.HasMarker() {
					on = append(on, fmt.Sprint(b.Partition))
				} else {
					unknown = append(unknown, fmt.Sprint(b.Partition))
				}
			}
			var where string
			switch {
			case len(on) > 0 && len(unknown) > 0:
				where = fmt.Sprintf("on partition(s) %s of this disk; unknown on partition(s) %s (unreadable, see the warnings)", strings.Join(on, ", "), strings.Join(unknown, ", "))
			case len(on) > 0:
				where = "on partition(s) " + strings.Join(on, ", ") + " of this disk"
			case len(unknown) > 0:
				where = "unknown on partition(s) " + strings.Join(unknown, ", ") + " (unreadable, see the warnings), on no other partition of this disk"
			default:
				where = "on no partition of this disk"
			}
			fmt.Fprintf(w, "Backup markers: %s (the installer's Restore scans every partition of every disk)\n", where)
			for _, b := range x.Backups {
				if x.Backup == nil || b.Partition != x.Backup.Partition {
					fmt.Fprintf(w, "                partition %d, %s\n", b.Partition, describeInventory(b.Inventory, b.InventoryError))
				}
			}
		}
		renderRoots(w, x.RootByGeneration)
	} else {
		fmt.Fprintln(w, "No XenServer installation (no ext partition labelled root-*).")
	}
	if len(d.Warnings) > 0 {
		fmt.Fprintln(w, "\nWarnings:")
		for _, s := range d.Warnings {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	return nil
}

func describeInventory(inv map[string]string, unreadable *string) string {
	switch {
	case inv == nil && unreadable != nil:
		return "inventory unknown (unreadable, see the warnings)"
	case inv == nil:
		return "no inventory"
	}
	s := fmt.Sprintf("%s %s", orDefault(inv["PRODUCT_BRAND"], "product"), orDefault(inv["PRODUCT_VERSION"], "(no PRODUCT_VERSION)"))
	if b := inv["BUILD_NUMBER"]; b != "" {
		s += "-" + b
	}
	if p := inv["PLATFORM_VERSION"]; p != "" {
		s += ", platform " + p
	}
	return s
}

func dash(s string) string { return orDefault(s, "-") }

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// humanSize prints bytes in binary units with one decimal.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}
