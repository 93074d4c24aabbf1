package journal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/target"
)

// A --disk plan is made on the partition read in-process and checked on
// the read-write mount after confirmation (samePlanned, checkServed): both
// must see every path alike — type, mode with set-id bits, owner, mtime,
// ctime, inode number, size, content hash, link text, device numbers and
// xattrs — or every plan would be refused as "changed since it was
// planned", or, worse, a real change would pass unseen.
func TestCaptureImageMatchesMount(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "mounting the image read-write")
	testutil.NeedTools(t, "mke2fs", "sfdisk")
	dir := t.TempDir()
	files := map[string]string{"etc/motd": "hello\n", "etc/big": strings.Repeat("0123456789abcdef", 8192), "bin/suid": "#!/bin/sh\n"}
	for name, content := range files {
		p := filepath.Join(dir, name)
		testutil.Must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		testutil.Must(t, os.WriteFile(p, []byte(content), 0o644))
	}
	testutil.Must(t, unix.Chmod(filepath.Join(dir, "bin/suid"), 0o4755))
	testutil.Must(t, os.Symlink("motd", filepath.Join(dir, "etc/fast")))
	testutil.Must(t, os.Symlink("/"+strings.Repeat("x", 100), filepath.Join(dir, "etc/slow")))
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "var/d"), 0o750))
	testutil.Must(t, os.Chown(filepath.Join(dir, "var/d"), 12, 34))
	testutil.Must(t, os.Chown(filepath.Join(dir, "etc/motd"), 56, 78))
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "dev"), 0o755))
	testutil.Must(t, unix.Mknod(filepath.Join(dir, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	testutil.Must(t, unix.Mkfifo(filepath.Join(dir, "dev/fifo"), 0o600))
	xattrs := unix.Setxattr(filepath.Join(dir, "etc/motd"), "user.xsrescue", []byte("planned"), 0) == nil
	if !xattrs {
		t.Log("the temporary directory takes no user xattrs: they are not compared")
	}
	paths := []string{".", "etc/motd", "etc/big", "bin/suid", "etc/fast", "etc/slow", "var/d", "dev/null", "dev/fifo", "etc/none"}
	for _, fstype := range []string{"ext3", "ext4"} {
		t.Run(fstype, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "disk.img")
			const off = 1 << 20
			if out, err := exec.Command("mke2fs", "-q", "-F", "-t", fstype, "-E", fmt.Sprintf("offset=%d", off), "-d", dir, img, "16M").CombinedOutput(); err != nil {
				t.Fatalf("mke2fs: %v: %s", err, out)
			}
			sf := exec.Command("sfdisk", "-q", "--wipe", "never", img)
			sf.Stdin = strings.NewReader("start=2048, size=32768, type=83\n")
			if out, err := sf.CombinedOutput(); err != nil {
				t.Fatalf("sfdisk: %v: %s", err, out)
			}
			ctx := context.Background()
			tgt, err := target.Open(ctx, target.Options{Disk: img, Partition: 1, Lock: &target.LockOptions{Dir: t.TempDir()}})
			testutil.Must(t, err)
			defer tgt.Close()
			if tgt.Root.Image() == nil {
				t.Fatal("the read-only open is not read in-process")
			}
			read := func() map[string]state {
				got := map[string]state{}
				for _, p := range paths {
					s, err := captureAtHashing(tgt.Root, p, hashFile)
					testutil.Must(t, err)
					got[p] = s
				}
				return got
			}
			planned := read()
			testutil.Must(t, tgt.Reopen(ctx))
			if tgt.Root.Image() != nil {
				t.Fatal("Reopen did not mount the partition")
			}
			mounted := read()
			if diff := cmp.Diff(mounted, planned); diff != "" {
				t.Errorf("in-process (+) and mounted (-) differ:\n%s", diff)
			}
			if s := planned["etc/motd"]; s.UID != 56 || s.GID != 78 || s.Ino == 0 || s.Ctime == 0 || s.SHA256 == "" || (xattrs && string(s.Xattrs["user.xsrescue"]) != "planned") {
				t.Errorf("etc/motd captured as %+v", s)
			}
			if s := planned["bin/suid"]; s.Mode != 0o4755 {
				t.Errorf("bin/suid mode %o", s.Mode)
			}
			if s := planned["dev/null"]; s.Type != "char" || s.Rdev != unix.Mkdev(1, 3) {
				t.Errorf("dev/null captured as %+v", s)
			}
			if s := planned["etc/none"]; s.Exists {
				t.Errorf("a missing path captured as %+v", s)
			}
		})
	}
}
