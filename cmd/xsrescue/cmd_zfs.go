package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/zfsroot/vdev"
)

func newZFSCommand(e *env) *cli.Command {
	var partition int
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
				&cli.IntFlag{Name: "partition", Destination: &partition, HideDefault: true, Usage: "read only partition `N` of the disk (and the VTOC slices inside it)"},
			},
			Action: action(1, 1, func(ctx context.Context, a []string) error { return runZFSLabels(ctx, e, partition, a[0]) }),
		}},
	}
}

// runZFSLabels reads the labels of every place a vdev may be (with part > 0
// that partition and its slices). Finding no pool member is invalid input
// (exit 2); the error document then gives every extent's reasons.
func runZFSLabels(_ context.Context, e *env, part int, dev string) error {
	path, err := filepath.Abs(dev) // the import command must work from any directory
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
	extents, err := zfsExtents(f, size, part)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	reports, err := vdev.Scan(f, path, extents, vdev.LocalHostID())
	if serr := (*vdev.ScanError)(nil); errors.As(err, &serr) {
		return xerr.Invalid(serr)
	} else if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var doc any = zfsMembersDoc{Members: reports} // several pool members
	if len(reports) == 1 {
		doc = reports[0]
	}
	return e.emit(doc, func(w io.Writer) error { return renderMembers(w, reports) })
}

// zfsMembersDoc is the document of a device holding several pool members:
// an object (not a bare list), so that it carries schema_version too.
type zfsMembersDoc struct {
	Members []vdev.MemberReport `json:"members"`
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
		var have []string
		for _, p := range d.Partitions {
			have = append(have, strconv.Itoa(p.Number))
		}
		return nil, xerr.Invalidf("no partition %d (partitions: %s)", part, strings.Join(have, " "))
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
