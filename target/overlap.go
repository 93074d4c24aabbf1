package target

import (
	"strings"

	"github.com/xsrescue/xsrescue/internal/blockdev"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
)

// refuseErrors refuses (exit 3) to plan on or mount read-write an ext
// partition whose superblock records errors: the kernel met corruption on
// it, and writing files into a damaged filesystem (allocating blocks its
// bitmaps may give twice) makes it worse. e2fsck checks it and clears the
// record (docs/safety.md).
func refuseErrors(d *diskPart) error {
	if d.p.Errors == nil {
		return nil
	}
	return xerr.Refusedf("disk %s partition %d: %s (the kernel met corruption on it): xsrescue does not write to it until it is checked; run %s, then this command again; nothing was changed",
		d.disk, d.n, d.p.Errors, partition.CheckCommand(d.disk, *d.p))
}

// refuseOverlap refuses (exit 3) partition d when another block device
// maps any of its bytes and is in use (blockdev.Users): writing through one
// while the kernel caches the other corrupts the filesystem.
func refuseOverlap(d *diskPart) error {
	users := blockdev.Users(d.st, d.p.Start, d.p.Size)
	if len(users) == 0 {
		return nil
	}
	u := users[0]
	var fix []string
	if u.Mount != "" {
		fix = append(fix, "umount "+u.Mount)
	}
	if u.Loop {
		fix = append(fix, "losetup -d /dev/"+u.Name)
	}
	how := "; stop what uses it first"
	if len(fix) > 0 {
		how = "; release it first (" + strings.Join(fix, "; ") + ")"
	}
	others := ""
	if len(users) > 1 {
		var names []string
		for _, o := range users[1:] {
			names = append(names, o.String())
		}
		others = "; also " + strings.Join(names, ", ")
	}
	return xerr.Refusedf("disk %s partition %d (bytes %d-%d) is also mapped by %s%s%s", d.disk, d.n, d.p.Start, d.p.Start+d.p.Size, u, others, how)
}
