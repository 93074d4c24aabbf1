package partimage

import (
	"fmt"
	"os"
	"strings"

	"github.com/xsrescue/xsrescue/internal/blockdev"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// CheckNotInUse refuses (exit 3) when any part of [start, start+size) of
// disk is mounted or held (LVM, device-mapper, md): directly for a block
// device and its partitions, through a loop device for an image file, or
// through any other device that maps the same bytes (a loop device over
// the image that a loop device given as disk also maps): blockdev.Users.
// A loop device that is attached but neither mounted nor held is no
// obstacle here: a save only reads, and a restore opens a block device
// O_EXCL.
func CheckNotInUse(disk string, start, size int64) error {
	fi, err := os.Stat(disk)
	if err != nil {
		return fmt.Errorf("%s: %w", disk, err)
	}
	var busy []blockdev.User
	for _, u := range blockdev.Users(fi, start, size) {
		if u.Mount != "" || len(u.Holders) > 0 {
			busy = append(busy, u)
		}
	}
	if len(busy) == 0 {
		return nil
	}
	u := busy[0] // Users puts the mounted ones first
	how := "unmount it first"
	if u.Mount == "" {
		how = "deactivate it first, e.g. vgchange -an"
	}
	others := ""
	if len(busy) > 1 {
		names := make([]string, 0, len(busy)-1)
		for _, o := range busy[1:] {
			names = append(names, o.String())
		}
		others = "; also " + strings.Join(names, ", ")
	}
	return xerr.Refusedf("%s: partition bytes %d-%d overlap bytes %d-%d of %s%s; %s", disk, start, start+size, u.From, u.To, u, others, how)
}
