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

// openTarget opens the target named by --root or --disk for a read-only
// command. A read-only --disk open of an ext2/3/4 partition reads it
// in-process (no mount), which never replays a dirty journal; xfs and vfat
// are mounted ro,norecovery and ro.
func openTarget(ctx context.Context, cmd *cli.Command, writable bool) (*target.Target, error) {
	return openTargetWith(ctx, cmd, targetOptions(cmd, writable))
}

// openForChange opens the target a mutating command plans on: read-only,
// holding the target's writer lock (--wait) from now until it is closed, so
// that nobody else changes it between the plan and its apply. applyPlan
// reopens it writable once the plan is confirmed. A dry run takes no lock:
// like any read-only command it writes nothing anywhere, not even a lock
// file.
func openForChange(ctx context.Context, cmd *cli.Command, o target.Options) (*target.Target, error) {
	o.Writable = false
	if !cmd.Bool("dry-run") {
		o.Lock = lockOptions(cmd)
	}
	return openTargetWith(ctx, cmd, o)
}

// lockOptions are the --wait of cmd for the target lock.
func lockOptions(cmd *cli.Command) *target.LockOptions {
	return &target.LockOptions{Wait: cmd.Duration("wait")}
}

// openTargetWith is openTarget for a target named otherwise (the one an op
// recorded, a FILE argument), with the same notes. What the user must know
// about the open goes to stderr: a dirty filesystem journal that applying
// (a read-write mount) will replay is said before anything is confirmed.
func openTargetWith(ctx context.Context, cmd *cli.Command, o target.Options) (*target.Target, error) {
	tgt, err := target.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	for _, n := range tgt.Notes {
		output(cmd).Logf("note: %s", n)
	}
	if !o.Writable && tgt.NeedsRecovery && (cmd.Bool("dry-run") || o.Lock != nil) {
		what := "applying"
		if cmd.Bool("dry-run") {
			what = "read as is for the dry run; applying"
		}
		output(cmd).Logf("note: partition %d has a dirty filesystem journal, %s mounts it read-write and the kernel replays it (writes to the disk)", tgt.Partition, what)
	}
	return tgt, nil
}
