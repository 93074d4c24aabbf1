package partition

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/xsrescue/xsrescue/internal/blockdev"
	"github.com/xsrescue/xsrescue/internal/shquote"
)

// Mount says that a partition's bytes are mounted right now, through a
// block device that maps them (the partition's own device, a loop device
// over the image at its offset, a whole-disk loop device's partition):
// blockdev.Users. What a read-only command reads from the disk is then what
// the mounted filesystem had written so far: with ReadWrite, not what it
// holds (its page cache and journal are ahead of the disk, and change
// while xsrescue reads).
type Mount struct {
	Partition int    `json:"partition"`
	Device    string `json:"device"` // "/dev/loop3", "/dev/sda1"
	Point     string `json:"point"`
	ReadWrite bool   `json:"read_write"`
	Loop      bool   `json:"loop"` // Device is a loop device (losetup -d detaches it)
}

// findMounts fills d.Mounts: for each partition, its read-write mount if it
// has one, else a read-only one. Nothing is found without /proc and /sys.
// One look at the mounted block devices serves every partition.
func (d *Disk) findMounts(f *os.File) {
	st, err := f.Stat()
	if err != nil {
		return
	}
	mounted := blockdev.Mounted(st, 0, math.MaxInt64)
	if len(mounted) == 0 {
		return
	}
	for _, p := range d.Partitions {
		m := mountOf(mounted, p)
		if m == nil {
			continue
		}
		d.Mounts = append(d.Mounts, *m)
		// A mounted ext filesystem's journal is in use, not left over
		// from an unclean shutdown.
		if i := slices.Index(d.Warnings, RecoveryWarning(p)); i >= 0 {
			d.Warnings[i] = fmt.Sprintf("%s partition %d: %s", p.Role, p.Number, m.JournalInUse())
		}
	}
}

// MountOver is how partition p of the disk or image st is mounted: its
// read-write mount if it has one, else a read-only one; nil when it is not
// (or /proc and /sys do not say).
func MountOver(st os.FileInfo, p Partition) *Mount {
	return mountOf(blockdev.Mounted(st, p.Start, p.Size), p)
}

// mountOf picks, of users (the devices mapping bytes of the disk, From and
// To in the disk's bytes), a mount over bytes of p: a read-write one if
// there is one.
func mountOf(users []blockdev.User, p Partition) *Mount {
	var found *blockdev.User
	for i := range users {
		u := &users[i]
		if u.Mount == "" || u.To <= p.Start || p.Start+p.Size <= u.From {
			continue
		}
		if found == nil || u.ReadWrite && !found.ReadWrite {
			found = u
		}
	}
	if found == nil {
		return nil
	}
	return &Mount{Partition: p.Number, Device: "/dev/" + found.Name, Point: found.Mount, ReadWrite: found.ReadWrite, Loop: found.Loop}
}

// OnPartition is the shell command run(DEV) on partition p of disk: on the
// kernel's device for a block device; for an image on a loop device over
// p's range that the same command detaches again, so no later step finds
// the image attached.
func OnPartition(disk string, p Partition, run func(dev string) string) string {
	if strings.HasPrefix(disk, "/dev/") {
		dev := fmt.Sprintf("%s%d", disk, p.Number)
		if last := disk[len(disk)-1]; last >= '0' && last <= '9' {
			dev = fmt.Sprintf("%sp%d", disk, p.Number)
		}
		return run(shquote.Quote(dev))
	}
	return fmt.Sprintf(`L=$(losetup --find --show --offset %d --sizelimit %d %s) && { %s; losetup -d "$L"; }`, p.Start, p.Size, shquote.Quote(disk), run(`"$L"`))
}

// CheckCommand is the e2fsck that checks (and repairs) ext partition p of
// disk: it replays the journal, and clears the error state once the
// filesystem is consistent.
func CheckCommand(disk string, p Partition) string {
	return OnPartition(disk, p, func(dev string) string { return "e2fsck -fy " + dev })
}

// MountOf is partition n's mount, or nil.
func (d *Disk) MountOf(n int) *Mount {
	for i := range d.Mounts {
		if d.Mounts[i].Partition == n {
			return &d.Mounts[i]
		}
	}
	return nil
}

// How is "read-write" or "read-only".
func (m Mount) How() string {
	if m.ReadWrite {
		return "read-write"
	}
	return "read-only"
}

// String is the note every read-only command puts first: where it is
// mounted, and what that means for what was read.
func (m Mount) String() string {
	s := fmt.Sprintf("partition %d is mounted (%s) on %s through %s: ", m.Partition, m.How(), m.Point, m.Device)
	if m.ReadWrite {
		return s + "what is read from the disk may be stale (the mounted filesystem writes it back later), so every answer that depends on its files is unknown; unmount it (" + m.Release() + ") and run the command again"
	}
	return s + "read as it is on the disk (a read-only mount does not change it)"
}

// JournalInUse is what a mounted ext filesystem's journal flagged for
// recovery is: in use by the mount, not left over from an unclean
// shutdown (disk inspect, doctor and the writing verbs say it alike).
func (m Mount) JournalInUse() string {
	return fmt.Sprintf("its ext journal is in use: the filesystem is mounted (%s) on %s", m.How(), m.Point)
}

// Release is the shell command that unmounts it (and detaches its loop
// device).
func (m Mount) Release() string {
	s := "umount " + shquote.Quote(m.Point)
	if m.Loop {
		s += " && losetup -d " + shquote.Quote(m.Device)
	}
	return s
}
