package target_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

func lockOpts(t *testing.T, wait time.Duration) *target.LockOptions {
	return &target.LockOptions{Dir: t.TempDir(), Wait: wait}
}

// One writer per target: a second locked open of the same directory —
// reached through a symlink too — waits, then is refused (exit 3) naming
// this process; another directory is not held up; after Close it goes.
// flock locks belong to the open file, so two opens in one process contend
// as two processes do.
func TestLockByIdentity(t *testing.T) {
	ctx := context.Background()
	lo := lockOpts(t, 0)
	dir, other := t.TempDir(), t.TempDir()
	alias := filepath.Join(t.TempDir(), "alias")
	testutil.Must(t, os.Symlink(dir, alias))
	first, err := target.Open(ctx, target.Options{Root: dir, Lock: lo})
	testutil.Must(t, err)
	if !first.Locked() || first.Writable() {
		t.Fatalf("locked %v writable %v", first.Locked(), first.Writable())
	}
	wait := *lo
	wait.Wait = 300 * time.Millisecond
	start := time.Now()
	_, err = target.Open(ctx, target.Options{Root: alias, Lock: &wait})
	if !errors.Is(err, target.ErrLocked) || xerr.Code(err) != xerr.ExitRefused || time.Since(start) < 300*time.Millisecond ||
		!strings.Contains(err.Error(), alias+" is in use by another xsrescue (held by pid "+strconv.Itoa(os.Getpid())+": ") {
		t.Fatalf("second open of the same directory: %v after %s", err, time.Since(start))
	}
	o, err := target.Open(ctx, target.Options{Root: other, Lock: lo})
	testutil.Must(t, err)
	testutil.Must(t, o.Close())
	// A read-only command takes no lock and is never held up.
	ro, err := target.Open(ctx, target.Options{Root: dir})
	testutil.Must(t, err)
	testutil.Must(t, ro.Close())
	// The waiter gets in once the holder closes.
	time.AfterFunc(200*time.Millisecond, func() { first.Close() })
	wait.Wait = 10 * time.Second
	second, err := target.Open(ctx, target.Options{Root: dir, Lock: &wait})
	testutil.Must(t, err)
	testutil.Must(t, second.Close())
	// Ctrl-C while waiting stops the wait.
	third, err := target.Open(ctx, target.Options{Root: dir, Lock: lo})
	testutil.Must(t, err)
	defer third.Close()
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := target.Open(cctx, target.Options{Root: dir, Lock: &wait}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait: %v", err)
	}
}

// A FILE target is locked by its directory and name: the journal replaces
// the file by rename (a new inode every time), and the lock must still be
// the same one. Another file of the same directory is another target.
func TestLockFileTarget(t *testing.T) {
	ctx := context.Background()
	lo := lockOpts(t, 0)
	dir := t.TempDir()
	f, g := filepath.Join(dir, "state.db"), filepath.Join(dir, "other.db")
	testutil.Must(t, os.WriteFile(f, []byte("one"), 0o644))
	testutil.Must(t, os.WriteFile(g, []byte("two"), 0o644))
	first, err := target.Open(ctx, target.Options{File: f, Lock: lo})
	testutil.Must(t, err)
	defer first.Close()
	if first.Root.Dir() != dir {
		t.Errorf("root %s, want %s", first.Root.Dir(), dir)
	}
	tmp := filepath.Join(dir, ".new")
	testutil.Must(t, os.WriteFile(tmp, []byte("one, edited"), 0o644))
	testutil.Must(t, os.Rename(tmp, f))
	if _, err := target.Open(ctx, target.Options{File: f, Lock: lo}); !errors.Is(err, target.ErrLocked) {
		t.Errorf("the same file after a rename: %v", err)
	}
	o, err := target.Open(ctx, target.Options{File: g, Lock: lo})
	testutil.Must(t, err)
	testutil.Must(t, o.Close())
	fifo := filepath.Join(dir, "fifo")
	testutil.Must(t, syscall.Mkfifo(fifo, 0o600))
	if _, err := target.Open(ctx, target.Options{File: fifo}); xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), "is a fifo, not a file") {
		t.Errorf("FIFO as FILE: %v", err)
	}
}

// Root.Open never blocks on a FIFO (or opens a device) in a foreign root:
// it is invalid input.
func TestRootOpenFIFO(t *testing.T) {
	dir := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "var/xapi"), 0o755))
	testutil.Must(t, syscall.Mkfifo(filepath.Join(dir, "var/xapi/state.db"), 0o600))
	for _, r := range dirAndImage(t, dir) {
		done := make(chan error, 1)
		go func() {
			_, err := r.Open("var/xapi/state.db")
			done <- err
		}()
		select {
		case err := <-done:
			if xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), "is a fifo, not a file") {
				t.Errorf("%s: open of a FIFO: %v", r.Name(), err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: Root.Open blocked on a FIFO", r.Name())
		}
		if _, err := r.ReadFile("var/xapi/state.db"); xerr.Code(err) != xerr.ExitInvalid {
			t.Errorf("%s: ReadFile of a FIFO: %v", r.Name(), err)
		}
	}
}

// dirAndImage opens dir as a root and, where mke2fs is installed, the same
// tree copied into an ext4 image read in-process.
func dirAndImage(t *testing.T, dir string) []*target.Root {
	t.Helper()
	r, err := target.OpenRoot(dir)
	testutil.Must(t, err)
	t.Cleanup(func() { r.Close() })
	roots := []*target.Root{r}
	if _, err := exec.LookPath("mke2fs"); err != nil {
		t.Logf("mke2fs not installed: the image root is not tested")
		return roots
	}
	img := filepath.Join(t.TempDir(), "root.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-d", dir, img, "8M").CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v: %s", err, out)
	}
	ir, err := target.OpenImage(img, 0, 8<<20, "root.img partition 1")
	testutil.Must(t, err)
	t.Cleanup(func() { ir.Close() })
	return append(roots, ir)
}

// A locked root records what it served: inode, size, times, and the hash
// of what ReadFile returned; an unlocked one keeps nothing.
func TestServed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "a"), []byte("hello"), 0o644))
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "b"), []byte("world"), 0o644))
	testutil.Must(t, os.Symlink("a", filepath.Join(dir, "link")))
	tgt, err := target.Open(ctx, target.Options{Root: dir, Lock: lockOpts(t, 0)})
	testutil.Must(t, err)
	defer tgt.Close()
	if _, err := tgt.Root.ReadFile("link"); err != nil {
		t.Fatal(err)
	}
	f, err := tgt.Root.Open("b")
	testutil.Must(t, err)
	f.Close()
	a, ok := tgt.Root.Served("a")
	if !ok || a.Size != 5 || a.SHA256 != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" || a.Ino == 0 {
		t.Errorf("served a (through the link): %+v %v", a, ok)
	}
	if b, ok := tgt.Root.Served("b"); !ok || b.SHA256 != "" || b.Size != 5 {
		t.Errorf("served b (opened): %+v %v", b, ok)
	}
	for _, plain := range dirAndImage(t, dir) {
		plain.ReadFile("a")
		if _, ok := plain.Served("a"); ok {
			t.Errorf("%s: an unlocked root keeps a record", plain.Name())
		}
	}
}

// A --disk target planned on read-only and locked: the image is untouched
// until Reopen mounts it read-write, the lock (by filesystem UUID, whatever
// path names the image) holds throughout, and *Root is swapped in place.
// The plan side is read in-process (no mount at all), and what it served
// is what the read-write mount then shows: the same inode, size, times and
// bytes, so a plan's planned-from record can be checked on the mount.
func TestReopenDisk(t *testing.T) {
	needMount(t)
	ctx := context.Background()
	img := miniDisk(t, "target-reopen")
	alias := filepath.Join(t.TempDir(), "alias.img")
	testutil.Must(t, os.Symlink(img, alias))
	lo := lockOpts(t, 0)
	before := testutil.FileSHA256(t, img)
	tgt, err := target.Open(ctx, target.Options{Disk: img, Lock: lo})
	testutil.Must(t, err)
	defer tgt.Close()
	root := tgt.Root
	const inv = "etc/xensource-inventory"
	data, err := root.ReadFile(inv)
	testutil.Must(t, err)
	if root.Image() == nil || root.Dir() != "" || attached(t, img) {
		t.Fatalf("the read-only, locked open is no in-process read (image %v, dir %q, attached %v)", root.Image() != nil, root.Dir(), attached(t, img))
	}
	served, ok := root.Served(inv)
	if !ok || served.SHA256 == "" || served.Ino == 0 {
		t.Fatalf("served %s: %+v %v", inv, served, ok)
	}
	if testutil.FileSHA256(t, img) != before {
		t.Fatal("a read-only, locked open changed the image")
	}
	if _, err := target.Open(ctx, target.Options{Disk: alias, Lock: lo}); !errors.Is(err, target.ErrLocked) || !strings.Contains(err.Error(), alias+" partition 1 is in use") {
		t.Fatalf("second locked open through another path: %v", err)
	}
	testutil.Must(t, tgt.Reopen(ctx))
	if !tgt.Writable() || tgt.Root != root || root.Dir() == "" || root.Image() != nil || !tgt.Locked() {
		t.Fatalf("after Reopen: writable %v, same *Root %v, dir %q, image %v", tgt.Writable(), tgt.Root == root, root.Dir(), root.Image() != nil)
	}
	if _, ok := root.Served(inv); ok {
		t.Error("the writable root kept the read-only root's record")
	}
	var st syscall.Stat_t
	testutil.Must(t, syscall.Stat(filepath.Join(root.Dir(), inv), &st))
	mounted, err := os.ReadFile(filepath.Join(root.Dir(), inv))
	testutil.Must(t, err)
	if st.Ino != served.Ino || st.Size != served.Size || st.Mtim.Nano() != served.Mtime || st.Ctim.Nano() != served.Ctime || string(mounted) != string(data) {
		t.Errorf("served in-process %+v, the mount shows ino %d size %d mtime %d ctime %d (same bytes: %v)",
			served, st.Ino, st.Size, st.Mtim.Nano(), st.Ctim.Nano(), string(mounted) == string(data))
	}
	testutil.Must(t, os.WriteFile(filepath.Join(root.Dir(), "etc/motd"), []byte("written\n"), 0o644))
	if len(tgt.Notes) == 0 || !strings.Contains(tgt.Notes[0], "replay") {
		t.Errorf("no note that the dirty journal was replayed: %q", tgt.Notes)
	}
	testutil.Must(t, tgt.Close())
	if testutil.FileSHA256(t, img) == before {
		t.Error("the write through the reopened target did not reach the image")
	}
	again, err := target.Open(ctx, target.Options{Disk: alias, Lock: lo})
	testutil.Must(t, err)
	testutil.Must(t, again.Close())
}

// TestLockDirRoot: root's default lock directory is root's alone (0755)
// and its lock files 0600, so no other user can open one (flock needs no
// more) and block root, as uid 4242 did in the acceptance test with
// flock(1). A directory left world-writable by an older xsrescue is closed
// again; a lock file another user owns is refused, naming it.
func TestLockDirRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	t.Setenv(target.LockDirEnv, "")
	run := filepath.Join(t.TempDir(), "xsrescue")
	defer target.SetDefaultLockDir(run)()
	ctx := context.Background()
	dir := t.TempDir()
	tg, err := target.Open(ctx, target.Options{Root: dir, Lock: &target.LockOptions{}})
	testutil.Must(t, err)
	testutil.Must(t, tg.Close())
	fi, err := os.Stat(run)
	testutil.Must(t, err)
	if fi.Mode() != os.ModeDir|0o755 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("%s: mode %v uid %d, want drwxr-xr-x root", run, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
	}
	locks, _ := filepath.Glob(filepath.Join(run, "*.lock"))
	if len(locks) != 1 {
		t.Fatalf("lock files %v", locks)
	}
	if fi, err := os.Stat(locks[0]); err != nil || fi.Mode() != 0o600 {
		t.Errorf("%s: %v %v, want -rw-------", locks[0], fi.Mode(), err)
	}
	other := exec.Command("sh", "-c", "exec 3<"+locks[0])
	other.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 4242, Gid: 4242}}
	if out, err := other.CombinedOutput(); err == nil {
		t.Errorf("uid 4242 opened %s, so it could hold root's lock: %s", locks[0], out)
	}

	// What an older xsrescue left: /run/xsrescue 1777, a file of uid 4242's.
	testutil.Must(t, os.Chmod(run, 0o777|os.ModeSticky))
	testutil.Must(t, os.Chown(locks[0], 4242, 4242))
	_, err = target.Open(ctx, target.Options{Root: dir, Lock: &target.LockOptions{}})
	if xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "lock file "+locks[0]+" is owned by uid 4242") || !strings.Contains(err.Error(), "rm "+locks[0]) {
		t.Errorf("lock file of uid 4242: %v", err)
	}
	if fi, _ := os.Stat(run); fi.Mode() != os.ModeDir|0o755 {
		t.Errorf("%s left %v", run, fi.Mode())
	}
	testutil.Must(t, os.Remove(locks[0]))
	tg, err = target.Open(ctx, target.Options{Root: dir, Lock: &target.LockOptions{}})
	testutil.Must(t, err)
	testutil.Must(t, tg.Close())
}

// TestLockDirUnprivileged: a user who is not root locks their own --root
// in a directory of their own ($TMPDIR/xsrescue-locks-UID, 0700), and a
// directory of that name someone else made is refused, not used.
func TestLockDirUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (to run a child as another uid)")
	}
	base, err := os.MkdirTemp("", "lockdir-")
	testutil.Must(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	testutil.Must(t, os.Chmod(base, 0o755))
	bin := filepath.Join(base, "target.test")
	exe, err := os.ReadFile(os.Args[0])
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(bin, exe, 0o755))
	tmp := filepath.Join(base, "tmp")
	testutil.Must(t, os.Mkdir(tmp, 0o777|os.ModeSticky))
	testutil.Must(t, os.Chmod(tmp, 0o777|os.ModeSticky))
	root := filepath.Join(base, "root")
	testutil.Must(t, os.Mkdir(root, 0o755))
	testutil.Must(t, os.Chown(root, 4242, 4242))
	run := func() (string, error) {
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = []string{"XSRESCUE_TARGET_LOCKROOT=" + root, "TMPDIR=" + tmp, "PATH=/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 4242, Gid: 4242}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(); err != nil || strings.TrimSpace(out) != "locked" {
		t.Fatalf("uid 4242 locking its own root: %v: %s", err, out)
	}
	own := filepath.Join(tmp, "xsrescue-locks-4242")
	fi, err := os.Stat(own)
	testutil.Must(t, err)
	if fi.Mode() != os.ModeDir|0o700 || fi.Sys().(*syscall.Stat_t).Uid != 4242 {
		t.Errorf("%s: mode %v uid %d", own, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
	}
	testutil.Must(t, os.RemoveAll(own))
	testutil.Must(t, os.Mkdir(own, 0o777))
	testutil.Must(t, os.Chmod(own, 0o777))
	if out, err := run(); err == nil || !strings.Contains(out, "lock directory "+own+" is owned by uid 0, not by this user (4242)") {
		t.Errorf("a directory someone else made: %v: %s", err, out)
	}
}
