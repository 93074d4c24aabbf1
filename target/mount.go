package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/blockdev"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// mount is what openDisk set up, released in reverse order by release.
type mount struct {
	excl  *os.File // the whole block device held O_EXCL while mounted
	loop  *os.File
	point string // the private temporary mount point
}

// openDisk mounts one partition of an image or block device through a loop
// device on a private temporary directory. With o.Lock the lock is taken
// once the partition (and so its identity) is known, before anything is
// mounted (lockDisk).
func openDisk(ctx context.Context, o Options) (t *Target, err error) {
	d, err := locate(o, refuseMounted)
	if err != nil {
		return nil, err
	}
	switch d.p.FS {
	case "ext2", "ext3", "ext4", "xfs", "vfat":
	default:
		d.f.Close()
		return nil, xerr.Invalidf("disk %s partition %d: cannot mount %q (ext2/3/4, xfs and vfat can be mounted)", d.disk, d.n, d.p.FS)
	}
	l, d, err := lockDisk(ctx, o, d)
	d.f.Close() // the table is read; the mount reads through its loop device
	if err != nil {
		return nil, err
	}
	if o.Writable {
		if err := refuseErrors(d); err != nil {
			l.release()
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			l.release()
		}
	}()
	m := &mount{}
	defer func() {
		if err != nil {
			m.release()
		}
	}()
	if err := m.holdExclusive(d); err != nil {
		return nil, err
	}
	r, notes, err := m.mountPart(d, o.Writable)
	if err != nil {
		return nil, err
	}
	if l != nil {
		r.keepServed()
	}
	return &Target{Root: r, Identity: d.identity(), Disk: d.disk, Partition: d.n, Notes: notes,
		NeedsRecovery: d.p.NeedsRecovery, writable: o.Writable, lock: l, mount: m}, nil
}

// holdExclusive opens a block device O_EXCL and keeps it for the life of the
// target: nobody mounts or claims the disk meanwhile. Images need no hold
// (refuseOverlap guards them).
func (m *mount) holdExclusive(d *diskPart) error {
	if !d.isBlock || m.excl != nil {
		return nil
	}
	fd, err := unix.Open(d.disk, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return xerr.Refusedf("disk %s is busy (in use by the kernel, a mount or device mapper): %w", d.disk, err)
	}
	m.excl = os.NewFile(uintptr(fd), d.disk)
	return nil
}

// mountPart refuses a disk in use, attaches a loop device over partition d
// and mounts it (read-only: ro,noload / ro,norecovery, never replaying a
// journal).
func (m *mount) mountPart(d *diskPart, writable bool) (*Root, []string, error) {
	if err := refuseOverlap(d); err != nil {
		return nil, nil, err
	}
	disk, n, fstype := d.disk, d.n, d.p.FS
	var err error
	if m.loop, err = attachLoop(disk, d.p.Start, d.p.Size, !writable); err != nil {
		return nil, nil, fmt.Errorf("disk %s partition %d: %w", disk, n, err)
	}
	track(m)
	if m.point, err = os.MkdirTemp("", "xsrescue-mnt-"); err != nil {
		return nil, nil, err
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	var data []string
	var notes []string
	if !writable {
		flags |= unix.MS_RDONLY
		switch fstype {
		case "ext3", "ext4":
			data = append(data, "noload") // plain ro still replays a dirty journal
		case "xfs":
			data = append(data, "norecovery")
		}
	} else if d.p.NeedsRecovery {
		notes = append(notes, fmt.Sprintf("partition %d has a dirty %s journal: mounting it read-write makes the kernel replay it (writes to the disk)", n, fstype))
	}
	if err := unix.Mount(m.loop.Name(), m.point, fstype, flags, strings.Join(data, ",")); err != nil {
		return nil, nil, fmt.Errorf("mount %s partition %d (%s) on %s: %w", disk, n, fstype, m.point, err)
	}
	// Private: the mount never propagates into other mount namespaces.
	if err := unix.Mount("", m.point, "", unix.MS_PRIVATE, ""); err != nil {
		return nil, nil, fmt.Errorf("make %s private: %w", m.point, err)
	}
	r, err := OpenRoot(m.point)
	if err != nil {
		return nil, nil, err
	}
	return r, notes, nil
}

// reopenDisk releases the read-only view (keeping the O_EXCL hold and the
// lock), checks the partition again and mounts it read-write.
func (t *Target) reopenDisk(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := t.Root.Close(); err != nil {
		return err
	}
	if t.mount == nil {
		// The read-only view needed no mount (an in-process reader).
		t.mount = &mount{}
	} else if err := t.mount.unmount(); err != nil {
		return fmt.Errorf("release the read-only mount of %s: %w", t.Name(), err)
	}
	d, err := locate(Options{Disk: t.Disk, Partition: t.Partition}, refuseMounted)
	if err != nil {
		return err
	}
	d.f.Close()
	if d.identity() != t.Identity {
		return xerr.Refusedf("%s changed since it was planned (filesystem %s, now %s): nothing was changed; run the command again", t.Name(), t.Identity, d.identity())
	}
	if err := refuseErrors(d); err != nil {
		return err
	}
	if err := t.mount.holdExclusive(d); err != nil {
		return err
	}
	r, notes, err := t.mount.mountPart(d, true)
	if err != nil {
		return err
	}
	if t.lock != nil {
		r.keepServed()
	}
	*t.Root = *r
	t.Notes = append(t.Notes, notes...)
	t.writable = true
	return nil
}

// release unmounts and detaches, in reverse order of setup. Safe to call on
// a partly set up mount.
func (m *mount) release() error {
	err := m.unmount()
	if m.excl != nil {
		m.excl.Close()
		m.excl = nil
	}
	untrack(m)
	return err
}

// unmount unmounts, removes the mount point and detaches the loop device,
// keeping the O_EXCL hold on a block device.
func (m *mount) unmount() error {
	var errs []error
	if m.point != "" {
		if err := unmount(m.point); err != nil {
			errs = append(errs, err)
		} else if err := os.Remove(m.point); err != nil {
			errs = append(errs, err)
		}
		m.point = ""
	}
	if m.loop != nil {
		// LO_FLAGS_AUTOCLEAR detaches once the mount is gone; clearing by
		// hand covers a loop that was never mounted.
		if err := unix.IoctlSetInt(int(m.loop.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) && !errors.Is(err, unix.EBUSY) {
			errs = append(errs, fmt.Errorf("detach %s: %w", m.loop.Name(), err))
		}
		name := filepath.Base(m.loop.Name())
		m.loop.Close()
		m.loop = nil
		defer waitDetached(name)
	}
	return errors.Join(errs...)
}

// waitDetached waits (a few seconds at most) until the kernel has really
// let go of loop device name: an autoclear detach can finish after the last
// close returns, and until then the image still looks attached, so the next
// open of the same disk (undo right after apply) would be refused.
func waitDetached(name string) {
	backing := filepath.Join("/sys/block", name, "loop", "backing_file")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(backing); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func unmount(point string) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = unix.Unmount(point, 0); err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Still busy after 5 s: detach it from the tree so nothing new uses it;
	// the kernel finishes the unmount when the last user goes.
	if derr := unix.Unmount(point, unix.MNT_DETACH); derr == nil {
		return fmt.Errorf("unmount %s: %w (detached lazily)", point, err)
	}
	return fmt.Errorf("unmount %s: %w", point, err)
}

// attachLoop maps [off, off+size) of file to a free loop device, read-only
// when ro. The loop auto-clears when its last user (the mount) goes.
func attachLoop(file string, off, size int64, ro bool) (*os.File, error) {
	flags := os.O_RDWR
	if ro {
		flags = os.O_RDONLY
	}
	backing, err := os.OpenFile(file, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer backing.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("loop devices: %w", err)
	}
	defer ctl.Close()
	info := unix.LoopInfo64{Offset: uint64(off), Sizelimit: uint64(size), Flags: unix.LO_FLAGS_AUTOCLEAR}
	if ro {
		info.Flags |= unix.LO_FLAGS_READ_ONLY
	}
	copy(info.File_name[:], file)
	var lastErr error
	// Another process may take the free device between GET_FREE and
	// CONFIGURE; then ask again.
	for attempt := 0; attempt < 20; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("no free loop device: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		if _, err := os.Stat(dev); errors.Is(err, os.ErrNotExist) {
			// No udev on a minimal rescue system: make the node ourselves.
			if err := unix.Mknod(dev, unix.S_IFBLK|0o660, int(unix.Mkdev(7, uint32(n)))); err != nil && !errors.Is(err, unix.EEXIST) {
				return nil, fmt.Errorf("create %s: %w", dev, err)
			}
		}
		loop, err := os.OpenFile(dev, flags|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		cfg := unix.LoopConfig{Fd: uint32(backing.Fd()), Info: info}
		err = unix.IoctlLoopConfigure(int(loop.Fd()), &cfg)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) {
			// Kernel before 5.8: the two-step form.
			if err = unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_SET_FD, int(backing.Fd())); err == nil {
				if err = unix.IoctlLoopSetStatus64(int(loop.Fd()), &info); err != nil {
					unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_CLR_FD, 0)
				}
			}
		}
		if err == nil {
			return loop, checkLoopSize(loop, size)
		}
		loop.Close()
		lastErr = err
		if !errors.Is(err, unix.EBUSY) {
			break
		}
	}
	return nil, fmt.Errorf("set up loop device: %w", lastErr)
}

func checkLoopSize(loop *os.File, want int64) error {
	got, err := loop.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s is %d bytes, want %d", loop.Name(), got, want)
	}
	return nil
}

// refuseInUse refuses (exit 3) a disk that is mounted, any partition of
// which is mounted, or any byte of which another loop device (or a mounted
// or held device) maps.
func refuseInUse(disk string, st os.FileInfo, isBlock bool) error {
	if err := refuseMounted(disk, st, isBlock); err != nil {
		return err
	}
	if users := blockdev.Users(st, 0, math.MaxInt64); len(users) > 0 {
		return xerr.Refusedf("disk %s is also mapped by %s", disk, users[0])
	}
	return nil
}

// refuseMounted refuses a block device that is mounted, or any partition of
// which is: the kernel's own mounts, never one xsrescue made (those go
// through loop devices).
func refuseMounted(disk string, st os.FileInfo, isBlock bool) error {
	if !isBlock {
		return nil
	}
	devs, err := blockdev.Partitions(st)
	if err != nil {
		return err
	}
	mounts, err := blockdev.Mounts()
	if err != nil {
		return err
	}
	for dev, name := range devs {
		if point, ok := mounts[dev]; ok {
			return xerr.Refusedf("disk %s: %s is mounted on %s; unmount it first", disk, name, point)
		}
	}
	return nil
}
