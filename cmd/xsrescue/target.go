package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/target"
)

// targetFlags are the flags of every command that works on an offline root.
func targetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "root", Usage: "an already mounted offline root `DIR`"},
		&cli.StringFlag{Name: "disk", Usage: "a disk image or block `DEVICE`; an ext2/3/4 partition is read in-process (no mount, no root needed), mounted only to write"},
		&cli.IntFlag{Name: "partition", Usage: "with --disk: partition number `N` (default: the XenServer root)", HideDefault: true},
	}
}

// openTarget opens the target named by --root or --disk. Read-only opens
// of an ext2/3/4 partition read it in-process, which never replays a dirty
// journal (xfs and vfat are mounted ro, norecovery). What
// the user must know about the open (a journal replay) goes to stderr; a dry
// run, which opens read-only, says so too: the replay is part of what
// applying would do.
func openTarget(ctx context.Context, cmd *cli.Command, writable bool) (*target.Target, error) {
	return openTargetWith(ctx, cmd, target.Options{
		Root:      cmd.String("root"),
		Disk:      cmd.String("disk"),
		Partition: int(cmd.Int("partition")),
		Writable:  writable,
	})
}

// openTargetWith is openTarget for a target named otherwise (the one an op
// recorded), with the same notes.
func openTargetWith(ctx context.Context, cmd *cli.Command, o target.Options) (*target.Target, error) {
	tgt, err := target.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	for _, n := range tgt.Notes {
		output(cmd).Logf("note: %s", n)
	}
	if !o.Writable && tgt.NeedsRecovery && cmd.Bool("dry-run") {
		output(cmd).Logf("note: partition %d has a dirty filesystem journal, read as is for the dry run; applying mounts it read-write and the kernel replays it (writes to the disk)", tgt.Partition)
	}
	return tgt, nil
}
