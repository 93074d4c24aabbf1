package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/xsrescue/xsrescue/partimage"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/plan"
)

// disk inspect's document is the *partition.Disk itself (docs/json.md, disk).

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
			switch m := d.MountOf(p.Number); {
			case m != nil:
				fs += " (mounted " + m.How() + ")"
			case p.NeedsRecovery:
				fs += " (needs recovery)"
			}
			if p.Errors != nil {
				fs += " (errors)"
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
		renderXenServer(w, x)
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

// renderXenServer is what the installer finds on the disk: the root, the
// backup partition and every partition carrying the backup marker.
func renderXenServer(w io.Writer, x *partition.XenServer) {
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

// savePartitionDoc is the --json document of disk save-partition.
type savePartitionDoc struct {
	*partimage.Sidecar
	Image       string `json:"image"`
	SidecarPath string `json:"sidecar"`
	Verified    bool   `json:"verified"`

	DryRun bool         `json:"-"`
	Op     *plan.Result `json:"-"`

	part    diskPartition
	journal string               // where the op is recorded
	already bool                 // the image held this partition already
	rec     *plan.ExternalRecord // the journal's record of the image
}

func (d savePartitionDoc) render(w io.Writer) error {
	p, disk := d.part.p, d.part.disk.Path
	switch {
	case d.already:
		fmt.Fprintf(w, "%s already holds partition %d (%s) of %s (sha256 %s, verified): already as requested\n", d.Image, p.Number, dash(p.Role), disk, d.SHA256)
	case d.DryRun:
		fmt.Fprintf(w, "would save partition %d (%s, %s) of %s to %s (sidecar %s, journal %s)\n", p.Number, dash(p.Role), humanSize(p.Size), disk, d.Image, d.SidecarPath, d.journal)
		fmt.Fprintln(w, "dry run: nothing written")
	default:
		fmt.Fprintf(w, "saved partition %d (%s, %s) of %s to %s\n", p.Number, dash(p.Role), humanSize(p.Size), disk, d.Image)
		fmt.Fprintf(w, "  sha256 %s, %s, image %s on disk; verified by reading it back\n", d.SHA256, d.Compression, humanSize(allocated(d.Image)))
		fmt.Fprintf(w, "  sidecar %s; journal %s op %d\n", d.SidecarPath, d.Op.Journal, d.Op.Op)
		fmt.Fprintf(w, "  to put it back: %s\n", d.rec.Rollback)
	}
	return nil
}

// restorePartitionDoc is the --json document of disk restore-partition.
type restorePartitionDoc struct {
	Image string `json:"image"`
	*partimage.RestoreResult
	// Overlaps is what a --force restore overwrites besides the partition
	// (other partitions, table sectors); [] when nothing.
	Overlaps []partition.Extent `json:"overlaps"`

	Disk      string       `json:"-"`
	Partition int          `json:"-"`
	DryRun    bool         `json:"-"`
	Op        *plan.Result `json:"-"`

	part     diskPartition
	summary  string // what the restore plan found, said before and after it ran
	keep     string // the undo file
	rollback string // the command that restores it
}

// planned says what the restore plan found.
func (d restorePartitionDoc) planned() string {
	p := d.part.p
	return fmt.Sprintf("restore partition %d (%s) of %s from %s: %d of %d MiB blocks differ (%s to write)",
		p.Number, dash(p.Role), d.Disk, d.Image, d.ChangedBlocks, d.Blocks, humanSize(d.BytesToWrite))
}

func (d restorePartitionDoc) render(w io.Writer) error {
	fmt.Fprintln(w, d.summary)
	switch {
	case d.Op != nil:
		fmt.Fprintf(w, "written and verified: sha256 %s; journal %s op %d\n", d.VerifiedSHA256, d.Op.Journal, d.Op.Op)
		fmt.Fprintf(w, "the overwritten blocks are kept in %s; to undo: %s\n", d.keep, d.rollback)
	case d.ChangedBlocks == 0:
		fmt.Fprintln(w, "the partition already holds the snapshot: nothing to do")
	default:
		fmt.Fprintf(w, "dry run: nothing written (a restore keeps the %d block(s) it overwrites in an undo file next to the journal first)\n", d.ChangedBlocks)
	}
	return nil
}
