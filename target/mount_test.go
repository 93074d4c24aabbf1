package target_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/writable"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// TestMain doubles as the helper process of TestMountCleanupOnSIGTERM: with
// XSRESCUE_TARGET_HOLD=IMG it opens IMG like main does (a context cancelled
// by SIGINT/SIGTERM), prints the mount point, and closes when signalled.
func TestMain(m *testing.M) {
	if img := os.Getenv("XSRESCUE_TARGET_HOLD"); img != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		t, err := target.Open(ctx, target.Options{Disk: img, Writable: true})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(t.Root.Dir())
		<-ctx.Done()
		if err := t.Close(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if dir := os.Getenv("XSRESCUE_TARGET_LOCKROOT"); dir != "" {
		// TestLockDirUnprivileged: lock a --root in the default directory.
		t, err := target.Open(context.Background(), target.Options{Root: dir, Lock: &target.LockOptions{}})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		t.Close()
		fmt.Println("locked")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func needMount(t *testing.T) {
	t.Helper()
	testutil.NeedRoot(t, "loop devices and mount")
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no /dev/loop-control: this kernel has no loop driver")
	}
	testutil.NeedTools(t, "mkfs.ext3")
}

// miniDisk builds a small XenServer disk whose root (partition 1, ext3) is
// marked dirty: its journal needs recovery, which a plain ro mount replays.
func miniDisk(t *testing.T, name string) string {
	t.Helper()
	img, err := fixtures.BuildDisk(t.TempDir(), fixtures.Mini(name, "dos", fixtures.RootSpec{Release: "7.1"}, nil))
	testutil.Must(t, err)
	out, err := exec.Command("debugfs", "-w", "-R", "feature needs_recovery", fmt.Sprintf("%s?offset=%d", img, fixtures.MiB)).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs: %v: %s", err, out)
	}
	return img
}

// attached reports whether any loop device maps file.
func attached(t *testing.T, file string) bool {
	st, err := os.Stat(file)
	testutil.Must(t, err)
	return target.RefuseInUse(file, st, false) != nil
}

func isMounted(t *testing.T, point string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	testutil.Must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 4 && fs[4] == point {
			return true
		}
	}
	return false
}

func TestOpenDiskWritable(t *testing.T) {
	needMount(t)
	img := miniDisk(t, "target-rw")
	tgt, err := target.Open(context.Background(), target.Options{Disk: img, Partition: 1, Writable: true})
	testutil.Must(t, err)
	if len(tgt.Notes) == 0 || !strings.Contains(tgt.Notes[0], "replay") {
		t.Errorf("no note about the journal replay: %v", tgt.Notes)
	}
	testutil.Must(t, writable.OS(tgt.Root.Writer()).WriteFile("etc/written-by-test", []byte("hello\n"), 0o644))
	testutil.Must(t, tgt.Close())
	tgt, err = target.Open(context.Background(), target.Options{Disk: img})
	testutil.Must(t, err)
	defer tgt.Close()
	if b, err := tgt.Root.ReadFile("etc/written-by-test"); err != nil || string(b) != "hello\n" {
		t.Errorf("read back %q, %v", b, err)
	}
}

func TestOpenDiskErrors(t *testing.T) {
	needMount(t)
	img := miniDisk(t, "target-err")
	for _, tc := range []struct {
		o    target.Options
		code int
	}{
		{target.Options{Disk: img, Partition: 9}, xerr.ExitInvalid},
		{target.Options{Disk: img, Partition: 3}, xerr.ExitInvalid}, // LVM: not mountable
		{target.Options{Disk: filepath.Join(t.TempDir(), "missing")}, xerr.ExitInvalid},
		{target.Options{Disk: img, Root: "/"}, xerr.ExitInvalid},
		{target.Options{}, xerr.ExitInvalid},
	} {
		if _, err := target.Open(context.Background(), tc.o); xerr.Code(err) != tc.code {
			t.Errorf("target.Open(%+v) = %v, want exit %d", tc.o, err, tc.code)
		}
	}
	if attached(t, img) {
		t.Error("a failed open left a loop device")
	}
}

// A block device that is mounted is refused, before anything is set up.
func TestOpenDiskRefusesMountedDevice(t *testing.T) {
	needMount(t)
	img := miniDisk(t, "target-mounted")
	loop, err := target.AttachLoop(img, 0, fileSize(t, img), false)
	testutil.Must(t, err)
	defer loop.Close()
	// The first open holds the device O_EXCL and maps it through a second
	// loop device; a second open must be refused.
	tgt, err := target.Open(context.Background(), target.Options{Disk: loop.Name(), Writable: true})
	testutil.Must(t, err)
	defer tgt.Close()
	if _, err := target.Open(context.Background(), target.Options{Disk: loop.Name(), Writable: true}); xerr.Code(err) != xerr.ExitRefused {
		t.Errorf("open of a device in use: %v, want a refusal", err)
	}
}

func fileSize(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	testutil.Must(t, err)
	return fi.Size()
}

func TestMountCleanupOnSIGTERM(t *testing.T) {
	needMount(t)
	img := miniDisk(t, "target-sigterm")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "XSRESCUE_TARGET_HOLD="+img)
	out, err := cmd.StdoutPipe()
	testutil.Must(t, err)
	testutil.Must(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error:") {
		cmd.Process.Kill()
		t.Fatalf("helper: %q %v", line, err)
	}
	point := strings.TrimSpace(line)
	if !isMounted(t, point) {
		t.Fatalf("%s not mounted", point)
	}
	testutil.Must(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("helper: %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("helper did not exit on SIGTERM")
	}
	if isMounted(t, point) || attached(t, img) {
		t.Error("mount or loop device left behind after SIGTERM")
	}
	if _, err := os.Stat(point); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mount point left behind: %v", err)
	}
}

func TestOpenDiskRefusesMountedFilesystem(t *testing.T) {
	needMount(t)
	img := miniDisk(t, "target-fsmounted")
	loop, err := target.AttachLoop(img, fixtures.MiB, 64*fixtures.MiB, true)
	testutil.Must(t, err)
	defer loop.Close()
	point := t.TempDir()
	testutil.Must(t, syscall.Mount(loop.Name(), point, "ext3", syscall.MS_RDONLY, "noload"))
	defer syscall.Unmount(point, 0)
	_, err = target.Open(context.Background(), target.Options{Disk: loop.Name(), Writable: true})
	if xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "mounted on "+point) {
		t.Errorf("open of a mounted device: %v", err)
	}
	if _, err := target.Open(context.Background(), target.Options{Disk: img, Writable: true}); xerr.Code(err) != xerr.ExitRefused {
		t.Errorf("open of an image a mounted loop maps: %v", err)
	}
	// A read-only open that plans a change (locked) is refused alike: the
	// plan is to be applied through a read-write mount.
	lo := &target.LockOptions{Dir: t.TempDir()}
	_, err = target.Open(context.Background(), target.Options{Disk: loop.Name(), Lock: lo})
	if xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "mounted on "+point) {
		t.Errorf("locked read-only open of a mounted device: %v", err)
	}
	if _, err := target.Open(context.Background(), target.Options{Disk: img, Lock: lo}); xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "mounted on "+point) {
		t.Errorf("locked read-only open of an image a mounted loop maps: %v", err)
	}
	// Reading is harmless: a read-only open reads the disk as it is and
	// says that it is mounted.
	tgt, err := target.Open(context.Background(), target.Options{Disk: img})
	testutil.Must(t, err)
	defer tgt.Close()
	if m := tgt.Mount; m == nil || m.Point != point || len(tgt.Notes) != 0 {
		t.Errorf("read-only open of a mounted image: mount %+v, notes %q", m, tgt.Notes)
	}
}

// TestOpenDiskRefusesOverlappingLoop: the acceptance test's case. The disk
// given is a loop device over the whole image; a second loop device over
// the same file maps partition 1 and is mounted. The O_EXCL hold on the
// first does not see the second: the byte ranges of the file they map
// must. A loop device over other bytes of the file does not matter.
func TestOpenDiskRefusesOverlappingLoop(t *testing.T) {
	needMount(t)
	img := miniDisk(t, "target-overlap")
	whole, err := target.AttachLoop(img, 0, fileSize(t, img), false)
	testutil.Must(t, err)
	defer whole.Close()
	// Bytes before partition 1 (the partition table): no overlap.
	table, err := target.AttachLoop(img, 0, fixtures.MiB, true)
	testutil.Must(t, err)
	defer table.Close()
	tgt, err := target.Open(context.Background(), target.Options{Disk: whole.Name(), Partition: 1, Writable: true})
	testutil.Must(t, err)
	testutil.Must(t, tgt.Close())

	// The tail of partition 1 only: an overlap.
	part, err := target.AttachLoop(img, 60*fixtures.MiB, 8*fixtures.MiB, true)
	testutil.Must(t, err)
	before := testutil.FileSHA256(t, img)
	_, err = target.Open(context.Background(), target.Options{Disk: whole.Name(), Partition: 1, Writable: true})
	if xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "is also mapped by "+part.Name()) {
		t.Errorf("open while %s maps part of partition 1: %v", part.Name(), err)
	}
	part.Close()

	part, err = target.AttachLoop(img, fixtures.MiB, 64*fixtures.MiB, true)
	testutil.Must(t, err)
	defer part.Close()
	point := t.TempDir()
	testutil.Must(t, syscall.Mount(part.Name(), point, "ext3", syscall.MS_RDONLY, "noload"))
	defer syscall.Unmount(point, 0)
	want := fmt.Sprintf("is also mapped by %s (mounted on %s)", part.Name(), point)
	for _, o := range []target.Options{
		{Disk: whole.Name(), Partition: 1, Writable: true},
		{Disk: whole.Name(), Partition: 1, Lock: &target.LockOptions{Dir: t.TempDir()}},
		{Disk: img, Partition: 1, Writable: true},
	} {
		_, err := target.Open(context.Background(), o)
		if xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%+v) while %s is mounted: %v; want a refusal containing %q", o, part.Name(), err, want)
		}
	}
	// Reading is harmless, and says where the bytes are mounted.
	tgt, err = target.Open(context.Background(), target.Options{Disk: whole.Name(), Partition: 1})
	testutil.Must(t, err)
	if m := tgt.Mount; m == nil || m.Point != point || m.Partition != 1 {
		t.Errorf("read-only open: mount %+v", m)
	}
	testutil.Must(t, tgt.Close())
	if testutil.FileSHA256(t, img) != before {
		t.Error("the image changed")
	}
}
