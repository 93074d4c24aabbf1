package blockdev

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestOverlaps(t *testing.T) {
	a := extent{"file 8:1 12", 100, 200}
	for _, c := range []struct {
		b    extent
		want bool
	}{
		{extent{"file 8:1 12", 199, 300}, true},
		{extent{"file 8:1 12", 200, 300}, false}, // adjacent
		{extent{"file 8:1 12", 0, 100}, false},
		{extent{"file 8:1 12", 0, math.MaxInt64}, true},
		{extent{"file 8:1 13", 100, 200}, false}, // another file
		{extent{"", 100, 200}, false},            // unknown never matches
	} {
		if got := a.overlaps(c.b); got != c.want {
			t.Errorf("%v overlaps %v = %v", a, c.b, got)
		}
	}
	if addSat(math.MaxInt64-1, 5) != math.MaxInt64 || addSat(1, 2) != 3 {
		t.Error("addSat")
	}
}

// A file no loop device maps has no users (the loop cases are tested with
// real loop devices in target and partimage).
func TestUsersOfAFreshFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(p, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if u := Users(fi, 0, 4096); len(u) != 0 {
		t.Errorf("Users = %v", u)
	}
}

// Mounted finds, looking only at the mount table's devices, exactly the
// mounted ones Users finds by looking at every block device: a real ext2
// filesystem at an offset of an image, on a loop device, mounted
// read-only; a second loop device over the same bytes, not mounted, is a
// user but not mounted.
func TestMountedIsUsersMounted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: losetup and mount")
	}
	for _, tool := range []string{"mkfs.ext2", "losetup", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	const off, size = 1 << 20, 8 << 20
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if err := os.WriteFile(img, make([]byte, off+size), 0o600); err != nil {
		t.Fatal(err)
	}
	run("mkfs.ext2", "-q", "-F", "-E", fmt.Sprintf("offset=%d", off), img, fmt.Sprint(size/1024))
	loop := run("losetup", "--find", "--show", "--offset", fmt.Sprint(off), "--sizelimit", fmt.Sprint(size), img)
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	idle := run("losetup", "--find", "--show", "--offset", fmt.Sprint(off), "--sizelimit", fmt.Sprint(size), img)
	t.Cleanup(func() { exec.Command("losetup", "-d", idle).Run() })
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	run("mount", "-o", "ro", loop, mnt)
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })

	fi, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ start, size int64 }{{0, math.MaxInt64}, {off, size}, {off + 4096, 4096}, {0, off}} {
		var want []User
		for _, u := range Users(fi, r.start, r.size) {
			if u.Mount != "" {
				want = append(want, u)
			}
		}
		got := Mounted(fi, r.start, r.size)
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("bytes %d+%d: Mounted = %+v, Users' mounted = %+v", r.start, r.size, got, want)
		}
		if inside := r.start < off+size && off < r.start+r.size; inside != (len(got) == 1) {
			t.Errorf("bytes %d+%d: %d mounted users, want %v", r.start, r.size, len(got), inside)
		}
	}
	if n := len(Users(fi, off, size)); n != 2 {
		t.Errorf("Users: %d, want the mounted loop device and the idle one", n)
	}
}
