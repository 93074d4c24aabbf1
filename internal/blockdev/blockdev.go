// Package blockdev finds the block devices that map bytes of a disk or
// image: loop devices over the same file (at any offset), loop devices over
// a loop device or a partition, partitions, each followed down through
// /sys to what finally holds the bytes, and says which are mounted or held.
// Nothing is opened for writing; where /sys or /proc are missing it finds
// nothing (the O_EXCL hold on a block device still guards).
package blockdev

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Before a partition is mounted or written, every other block device that
// maps any of its bytes must be idle: an O_EXCL hold on the disk itself
// does not see them. A loop device over the same image file (losetup
// --offset), a loop device over a loop device or a partition, a partition
// of the disk or of a loop device with partitions: each is followed down to
// what finally holds the bytes — a regular file (device and inode) or a
// whole disk — and the byte ranges compared.

// extent is a byte range [start, end) of what finally holds a device's
// bytes: a regular file ("file MAJ:MIN INO") or a whole block device that
// is neither a loop device nor a partition ("dev MAJ:MIN").
type extent struct {
	obj        string
	start, end int64
}

func (a extent) overlaps(b extent) bool {
	return a.obj != "" && a.obj == b.obj && a.start < b.end && b.start < a.end
}

// sysBlock is where sysfs describes block devices, by "major:minor".
const sysBlock = "/sys/dev/block"

func devNum(rdev uint64) string {
	return fmt.Sprintf("%d:%d", unix.Major(rdev), unix.Minor(rdev))
}

func fileObj(st os.FileInfo) string {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("file %s %d", devNum(uint64(sys.Dev)), sys.Ino)
}

// extentOf follows bytes [start, end) of the file or block device st down
// to what holds them; chain collects the devices passed on the way (the
// disk's own, not "elsewhere"). obj is "" when it cannot be told (no
// sysfs, a loop device whose backing file is gone from this namespace).
func extentOf(st os.FileInfo, start, end int64, chain map[string]bool) extent {
	if st.Mode().IsRegular() {
		return extent{fileObj(st), start, end}
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		return extent{}
	}
	return devExtent(devNum(uint64(sys.Rdev)), start, end, chain, 0)
}

func devExtent(dev string, start, end int64, chain map[string]bool, depth int) extent {
	if depth > 16 {
		return extent{} // a loop device over itself, through others
	}
	if chain != nil {
		chain[dev] = true
	}
	dir := filepath.Join(sysBlock, dev)
	if _, err := os.Stat(dir); err != nil {
		return extent{}
	}
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		first, ok := readSysInt(filepath.Join(dir, "start"))
		real, err := filepath.EvalSymlinks(dir)
		if !ok || err != nil {
			return extent{}
		}
		parent, err := os.ReadFile(filepath.Join(filepath.Dir(real), "dev"))
		if err != nil {
			return extent{}
		}
		// A partition's bytes end at its size, not at the end of the
		// disk: without the bound a mounted sda1 seemed to map sda2 too.
		if sectors, ok := readSysInt(filepath.Join(dir, "size")); ok {
			end = min(end, sectors*512)
		}
		off := first * 512
		return devExtent(strings.TrimSpace(string(parent)), addSat(start, off), addSat(end, off), chain, depth+1)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "loop", "backing_file")); err == nil {
		off, _ := readSysInt(filepath.Join(dir, "loop", "offset"))
		limit, _ := readSysInt(filepath.Join(dir, "loop", "sizelimit"))
		s, e := addSat(start, off), addSat(end, off)
		if limit > 0 {
			e = min(e, addSat(off, limit))
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		bst, err := os.Stat(name)
		if err != nil {
			// Not at that path in this namespace (or deleted): the kernel
			// still knows its device and inode.
			return extent{loopBackingObj(dir), s, e}
		}
		if bst.Mode().IsRegular() {
			return extent{fileObj(bst), s, e}
		}
		return extentOf(bst, s, e, chain)
	}
	return extent{"dev " + dev, start, end}
}

// loopBackingObj asks the loop device for its backing file's device and
// inode (LOOP_GET_STATUS64), or "".
func loopBackingObj(sysDir string) string {
	name := filepath.Base(sysDir)
	if real, err := filepath.EvalSymlinks(sysDir); err == nil {
		name = filepath.Base(real)
	}
	fd, err := unix.Open("/dev/"+name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	info, err := unix.IoctlLoopGetStatus64(fd)
	if err != nil || info.Rdevice != 0 {
		return ""
	}
	return fmt.Sprintf("file %s %d", devNum(info.Device), info.Inode)
}

func readSysInt(p string) (int64, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil && v >= 0 && v <= math.MaxInt64/512
}

func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// User is another block device that maps bytes of the target, and
// how it is in use.
type User struct {
	Name  string // "loop3", "sda1"
	Loop  bool   // a loop device
	Mount string // where it is mounted, or ""
	// ReadWrite: some mount of it is read-write (the kernel may write its
	// bytes at any time; what is on the disk may be stale).
	ReadWrite bool
	Holders   []string // what holds it (device mapper, md, ...)
	// From, To: the bytes [From, To) of the disk, within the range asked
	// about, that it maps.
	From, To int64
}

func (u User) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "/dev/%s", u.Name)
	if u.Mount != "" {
		fmt.Fprintf(&s, " (mounted on %s)", u.Mount)
	}
	if len(u.Holders) > 0 {
		fmt.Fprintf(&s, " (held by %s)", strings.Join(u.Holders, ", "))
	}
	return s.String()
}

// Users lists the block devices that map bytes of [start, start+size) of
// the disk (st) and are in use: every loop device other than the disk
// (attached is in use: anything may write through it), any device that is
// mounted or held. Of the devices the disk is stacked on, only a mounted
// one is listed, without its holders (the disk itself may be one); the
// disk itself and its own partitions are listed when mounted or held (by
// device mapper, md: an LVM physical volume). The mounted ones come first.
func Users(st os.FileInfo, start, size int64) []User {
	return users(st, start, size, false)
}

// Mounted lists, of Users, the mounted ones: what a read-only command
// warns about. Only the block devices in the mount table are looked at
// (a filesystem without a device, major 0, is none), not every block
// device's /sys entries: a short command pays for one read of the mount
// table and a few of /sys.
func Mounted(st os.FileInfo, start, size int64) []User {
	return users(st, start, size, true)
}

func users(st os.FileInfo, start, size int64, mountedOnly bool) []User {
	chain := map[string]bool{}
	target := extentOf(st, start, addSat(start, size), chain)
	if target.obj == "" {
		return nil
	}
	own := map[string]bool{}
	if st.Mode()&os.ModeDevice != 0 {
		if devs, err := Partitions(st); err == nil {
			for d := range devs {
				own[d] = true
			}
		}
	}
	mounts, _ := MountTable()
	var devs []string
	if mountedOnly {
		for dev := range mounts {
			if !strings.HasPrefix(dev, "0:") {
				devs = append(devs, dev)
			}
		}
		slices.Sort(devs)
	} else {
		ents, err := os.ReadDir(sysBlock)
		if err != nil {
			return nil
		}
		for _, e := range ents {
			devs = append(devs, e.Name())
		}
	}
	var users []User
	for _, dev := range devs {
		x := devExtent(dev, 0, math.MaxInt64, nil, 0)
		if !x.overlaps(target) {
			continue
		}
		real, err := filepath.EvalSymlinks(filepath.Join(sysBlock, dev))
		if err != nil {
			continue // gone meanwhile
		}
		u := User{Name: filepath.Base(real), Mount: mounts[dev].Point, ReadWrite: mounts[dev].ReadWrite,
			From: max(x.start, target.start) - target.start + start, To: min(x.end, target.end) - target.start + start}
		_, lerr := os.Stat(filepath.Join(real, "loop", "backing_file"))
		u.Loop = lerr == nil
		if hs, err := os.ReadDir(filepath.Join(real, "holders")); err == nil {
			for _, h := range hs {
				u.Holders = append(u.Holders, h.Name())
			}
		}
		switch {
		case own[dev]:
			if u.Mount == "" && len(u.Holders) == 0 {
				continue
			}
		case chain[dev]:
			// A device the disk is stacked on: only its mount matters
			// here (holders: the disk itself, maybe).
			if u.Mount == "" {
				continue
			}
			u.Holders = nil
		case !u.Loop && u.Mount == "" && len(u.Holders) == 0:
			continue
		}
		users = append(users, u)
	}
	// The mounted ones first: the likeliest cause, named first.
	slices.SortStableFunc(users, func(a, b User) int {
		return cmp.Compare(rank(a), rank(b))
	})
	return users
}

func rank(u User) int {
	switch {
	case u.Mount != "":
		return 0
	case len(u.Holders) > 0:
		return 1
	}
	return 2
}

// Partitions maps "major:minor" of block device st and of every partition
// of it to its name.
func Partitions(st os.FileInfo) (map[string]string, error) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("no device number")
	}
	self := fmt.Sprintf("%d:%d", unix.Major(uint64(sys.Rdev)), unix.Minor(uint64(sys.Rdev)))
	devs := map[string]string{self: st.Name()}
	dir := "/sys/dev/block/" + self
	ents, err := os.ReadDir(dir)
	if err != nil {
		return devs, nil // no sysfs: the O_EXCL open still guards
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "dev"))
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "partition")); err == nil {
			devs[strings.TrimSpace(string(b))] = e.Name()
		}
	}
	return devs, nil
}

// Mounts maps "major:minor" to a mount point, from /proc/self/mountinfo.
func Mounts() (map[string]string, error) {
	t, err := MountTable()
	out := map[string]string{}
	for dev, m := range t {
		out[dev] = m.Point
	}
	return out, err
}

// MountEntry is where a device is mounted and whether read-write.
type MountEntry struct {
	Point     string
	ReadWrite bool
}

// MountTable maps "major:minor" to its mount, from /proc/self/mountinfo.
// A device mounted more than once is read-write when any of its mounts is
// (the one named). What counts is the superblock's options (after the "-"
// separator), not the per-mount ones (field 6): a mount point made ro over
// a superblock that is rw elsewhere (a lazily detached mount, a bind)
// still has the kernel write the filesystem.
func MountTable() (map[string]MountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]MountEntry{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) <= 5 {
			continue
		}
		rw := superRW(fields)
		if old, ok := out[fields[2]]; ok && (old.ReadWrite || !rw) {
			continue
		}
		out[fields[2]] = MountEntry{Point: fields[4], ReadWrite: rw}
	}
	return out, sc.Err()
}

// superRW reads the superblock options after the "-" separator
// (fstype, source, options): rw unless they say ro.
func superRW(fields []string) bool {
	for i, f := range fields {
		if f == "-" && i+3 < len(fields) {
			return !slices.Contains(strings.Split(fields[i+3], ","), "ro")
		}
	}
	return true
}
