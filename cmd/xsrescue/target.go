package main

import (
	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/target"
)

// targetOptions are --root, --disk and --partition: the offline root a
// command works on.
type targetOptions struct {
	Root      string
	Disk      string
	Partition int
}

func (o *targetOptions) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "root", Destination: &o.Root, Usage: "an already mounted offline root `DIR`"},
		&cli.StringFlag{Name: "disk", Destination: &o.Disk, Usage: "a disk image or block `DEVICE`; an ext2/3/4 partition is read in-process (no mount, no root needed), mounted only to write"},
		&cli.IntFlag{Name: "partition", Destination: &o.Partition, Usage: "with --disk: partition number `N` (default: the XenServer root)", HideDefault: true},
	}
}

// target is the target the flags name, to open read-only.
func (o targetOptions) target() target.Options {
	return target.Options{Root: o.Root, Disk: o.Disk, Partition: o.Partition}
}

// given reports whether --root or --disk was given.
func (o targetOptions) given() bool { return o.Root != "" || o.Disk != "" }
