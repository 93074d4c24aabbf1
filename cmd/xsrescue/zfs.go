package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/zfsroot/vdev"
)

func init() {
	register(func() *cli.Command {
		return &cli.Command{
			Name:        "zfs",
			Usage:       "read ZFS vdev labels without importing anything",
			Description: "See docs/zfs.md.",
			Commands: []*cli.Command{{
				Name:      "labels",
				Usage:     "show the pool a device belongs to and whether Linux can import it",
				ArgsUsage: "DEV|IMG",
				Description: "Reads the four ZFS vdev labels of DEV|IMG (opened read-only; nothing is imported),\n" +
					"verifies each label's SHA-256 checksum, decodes its XDR nvlist and scans its uberblock\n" +
					"ring, and prints the pool name and GUID, the vdev GUID, pool version, state, txg,\n" +
					"hostname and hostid, the vdev tree, which labels are valid (and how valid labels\n" +
					"disagree), the best uberblock, and the verdict: importable by OpenZFS (versions 1-28;\n" +
					"5000 depending on features_for_read), Oracle-only (29-4999: use Solaris media), or\n" +
					"needing -f (last active on another host), with the exact read-only import command\n" +
					"for OpenZFS and, for versions up to 23, one for zfs-fuse (which cannot import\n" +
					"read-only, so it imports a sparse copy of the vdev). A device shorter than the size\n" +
					"its pool recorded for the vdev (asize plus 4.5 MiB of labels and boot block) is a\n" +
					"truncated copy: reported with the number of missing bytes, verdict \"truncated\"\n" +
					"and no import command. Labels 0 and 1 of a copy below the 64 MiB minimum are still\n" +
					"read to name its pool.\n\n" +
					"Without --partition, the whole device is read first; if it carries no labels, every\n" +
					"partition and every Solaris VTOC slice is read and each distinct pool member is\n" +
					"reported (with --json: a list when there is more than one). With --partition N only\n" +
					"that partition (and its slices) is read.\n\n" + exitHelp,
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "partition", HideDefault: true, Usage: "read only partition `N` of the disk (and the VTOC slices inside it)"},
				},
				Action: runZFSLabels,
			}},
		}
	})
}

func runZFSLabels(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 1, 1)
	if err != nil {
		return err
	}
	path, err := filepath.Abs(a[0]) // the import command must work from any directory
	if err != nil {
		return err
	}
	f, err := infile.Open(path, infile.FileOrBlock)
	if err != nil {
		return xerr.Invalid(err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd) // Stat reports 0 for block devices
	if err != nil {
		return fmt.Errorf("%s: size: %w", path, err)
	}
	extents, err := zfsExtents(f, size, int(cmd.Int("partition")))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	reports, err := vdev.Scan(f, path, extents, vdev.LocalHostID())
	if serr := (*vdev.ScanError)(nil); errors.As(err, &serr) {
		return noMember(cmd, serr)
	} else if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var doc any = reports
	if len(reports) == 1 {
		doc = reports[0]
	}
	return output(cmd).Emit(doc, func(w io.Writer) error {
		for i, r := range reports {
			if i > 0 {
				fmt.Fprintln(w)
			}
			renderMember(w, r)
		}
		return nil
	})
}

// noMember fails with exit 2. The message names the device (and, when
// something looks like a damaged vdev, why its labels are not valid); with
// --json the error document also carries every extent's per-label reasons
// under "details".
func noMember(cmd *cli.Command, serr *vdev.ScanError) error {
	err := xerr.Invalid(serr)
	if !cmd.Bool("json") {
		return err
	}
	doc := map[string]any{"error": map[string]any{"message": err.Error(), "exit_code": xerr.ExitInvalid, "details": serr.Details}}
	if eerr := output(cmd).Emit(doc, nil); eerr != nil {
		return eerr
	}
	return alreadyReported(err)
}

// zfsExtents lists where vdevs may be: with part > 0 that partition and its
// slices; otherwise the whole device, then every partition and slice.
func zfsExtents(r io.ReaderAt, size int64, part int) ([]vdev.Extent, error) {
	var ext []vdev.Extent
	if part == 0 {
		ext = append(ext, vdev.Extent{Slice: -1, Size: size})
	}
	d, err := partition.Inspect(r, size)
	if err != nil {
		if part == 0 {
			return ext, nil // no table: only the whole device
		}
		return nil, xerr.Invalid(err)
	}
	if part > 0 && d.Partition(part) == nil {
		return nil, xerr.Invalidf("no partition %d (the table has %d)", part, len(d.Partitions))
	}
	for _, p := range d.Partitions {
		if part > 0 && p.Number != part {
			continue
		}
		ext = append(ext, vdev.Extent{Partition: p.Number, Slice: -1, Offset: p.Start, Size: p.Size})
		for _, s := range p.Slices {
			ext = append(ext, vdev.Extent{Partition: p.Number, Slice: s.Number, Offset: s.Start, Size: s.Size})
		}
	}
	return ext, nil
}

func renderMember(w io.Writer, r vdev.MemberReport) {
	where := "whole device"
	if r.Partition > 0 {
		where = fmt.Sprintf("partition %d", r.Partition)
		if r.Slice != nil {
			where += fmt.Sprintf(" slice %d", *r.Slice)
		}
	}
	fmt.Fprintf(w, "%s, %s (offset %d, %d bytes)\n", r.Device, where, r.Offset, r.Size)
	if r.ShortBy > 0 {
		fmt.Fprintf(w, "  TRUNCATED   the pool recorded this vdev as %d bytes: the copy is %d bytes short\n", r.NeededSize, r.ShortBy)
	}
	fmt.Fprintf(w, "  pool        %s (guid %s)\n", r.Pool, r.PoolGUID)
	fmt.Fprintf(w, "  vdev guid   %s\n", r.GUID)
	fmt.Fprintf(w, "  version     %d\n  state       %s\n  txg         %d\n", r.Version, r.State, r.TXG)
	fmt.Fprintf(w, "  host        %s (hostid %#x)\n", r.Hostname, r.HostID)
	var labels []string
	for _, l := range r.Labels {
		if l.Valid {
			labels = append(labels, fmt.Sprintf("%d ok", l.Index))
		} else {
			labels = append(labels, fmt.Sprintf("%d BAD (%s)", l.Index, l.Error))
		}
	}
	fmt.Fprintf(w, "  labels      %s\n", strings.Join(labels, "; "))
	for _, c := range r.Conflicts {
		fmt.Fprintf(w, "  conflict    %s\n", c)
	}
	if r.Uberblock.TXG != 0 {
		fmt.Fprintf(w, "  uberblock   txg %d, %s, version %d (label %d slot %d)\n", r.Uberblock.TXG,
			r.Uberblock.Time, r.Uberblock.Version, r.Uberblock.Label, r.Uberblock.Slot)
	} else {
		fmt.Fprintln(w, "  uberblock   none valid")
	}
	if t := r.VdevTree; t != nil {
		fmt.Fprintf(w, "  vdev tree   %s guid %d ashift %d%s (%d top-level vdev(s) in the pool)\n", t.Type, t.GUID, t.Ashift, pathSuffix(t.Path), r.VdevChildren)
		for _, c := range t.Children {
			fmt.Fprintf(w, "              %s guid %d%s\n", c.Type, c.GUID, pathSuffix(c.Path))
		}
	}
	if len(r.FeaturesForRead) > 0 {
		fmt.Fprintf(w, "  features    %s\n", strings.Join(r.FeaturesForRead, ", "))
	}
	fmt.Fprintf(w, "  import      %s: %s\n", r.Import, r.Advice)
	if r.Command != "" {
		fmt.Fprintf(w, "  command     %s\n", r.Command)
	}
	if r.CommandZFSFuse != "" {
		fmt.Fprintf(w, "  zfs-fuse    %s\n", r.CommandZFSFuse)
	}
}

func pathSuffix(p string) string {
	if p == "" {
		return ""
	}
	return " path " + p
}
