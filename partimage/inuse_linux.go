package partimage

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/blockdev"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// CheckNotInUse refuses (exit 3) when any part of [start, start+size) of
// disk is mounted or held (LVM, device-mapper, md): directly for a block
// device and its partitions, through a loop device for an image file, or
// through any other device that maps the same bytes (a loop device over
// the image that a loop device given as disk also maps: blockdev.Users).
func CheckNotInUse(disk string, start, size int64) error {
	mounts, err := blockdev.Mounts()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(disk)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		return fmt.Errorf("%s: %w", disk, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFBLK {
		sys, err := filepath.EvalSymlinks(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
		if err != nil {
			return fmt.Errorf("%s: %w", disk, err)
		}
		if err := checkDevice(disk, sys, 0, 0, start, size, mounts); err != nil {
			return err
		}
		return checkOthers(disk, abs, start, size)
	}
	loops, _ := filepath.Glob("/sys/block/loop*")
	for _, l := range loops {
		back, err := os.ReadFile(filepath.Join(l, "loop", "backing_file"))
		if err != nil {
			continue
		}
		var bst unix.Stat_t
		if unix.Stat(strings.TrimSuffix(strings.TrimSpace(string(back)), " (deleted)"), &bst) != nil || bst.Dev != st.Dev || bst.Ino != st.Ino {
			continue
		}
		off := readInt(filepath.Join(l, "loop", "offset"))
		limit := readInt(filepath.Join(l, "loop", "sizelimit"))
		if err := checkDevice(disk, l, off, limit, start, size, mounts); err != nil {
			return err
		}
	}
	return checkOthers(disk, abs, start, size)
}

// checkOthers refuses when any other device that maps bytes of the range
// is mounted or held, however it reaches them (blockdev.Users).
func checkOthers(disk, abs string, start, size int64) error {
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("%s: %w", disk, err)
	}
	for _, u := range blockdev.Users(fi, start, size) {
		if u.Mount != "" || len(u.Holders) > 0 {
			return xerr.Refusedf("%s: partition bytes %d-%d are also mapped by %s; release it first", disk, start, start+size, u)
		}
	}
	return nil
}

// checkDevice checks the device at sys (a /sys/block entry whose byte 0 is
// at base in disk and which maps limit bytes, 0 meaning to the end) and each
// of its partitions: a loop over partition 1 of an image does not cover
// partition 2.
func checkDevice(disk, sys string, base, limit, start, size int64, mounts map[string]string) error {
	parts, _ := filepath.Glob(filepath.Join(sys, "*", "partition"))
	devs := []string{sys}
	for _, p := range parts {
		devs = append(devs, filepath.Dir(p))
	}
	for _, d := range devs {
		lo, hi := base, int64(1<<62)
		if limit > 0 {
			hi = base + limit
		}
		if d != sys {
			lo = base + readInt(filepath.Join(d, "start"))*512
			hi = lo + readInt(filepath.Join(d, "size"))*512
		}
		if hi <= start || lo >= start+size {
			continue
		}
		dev := strings.TrimSpace(readString(filepath.Join(d, "dev")))
		name := filepath.Base(d)
		if mp, ok := mounts[dev]; ok {
			return xerr.Refusedf("%s: partition bytes %d-%d overlap bytes %d-%s of /dev/%s, which is mounted on %s (unmount it first)", disk, start, start+size, lo, rangeEnd(hi), name, mp)
		}
		if holders, _ := os.ReadDir(filepath.Join(d, "holders")); len(holders) > 0 {
			return xerr.Refusedf("%s: partition bytes %d-%d overlap bytes %d-%s of /dev/%s, which is held by %s (deactivate it first, e.g. vgchange -an)", disk, start, start+size, lo, rangeEnd(hi), name, holders[0].Name())
		}
	}
	return nil
}

func rangeEnd(hi int64) string {
	if hi >= 1<<62 {
		return "end"
	}
	return fmt.Sprint(hi)
}

func readString(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func readInt(p string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(readString(p)), 10, 64)
	return n
}
