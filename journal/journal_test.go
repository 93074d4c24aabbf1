package journal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// testRoot builds a small root with every kind of object a plan touches.
func testRoot(t *testing.T) (*target.Target, string) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"etc/rc.d/rc3.d", "lib/tls", "dev", "var/lib/xcp"} {
		testutil.Must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	write := func(p, content string, mode os.FileMode, uid, gid int) {
		full := filepath.Join(dir, p)
		testutil.Must(t, os.WriteFile(full, []byte(content), mode))
		if os.Geteuid() == 0 {
			testutil.Must(t, os.Lchown(full, uid, gid))
		}
		testutil.Must(t, os.Chmod(full, mode))
	}
	write("etc/xensource-inventory", "PRODUCT_VERSION='8.2.1'\nBUILD_NUMBER='1'\n", 0o644, 0, 0)
	write("etc/shadow", "root:x:1:\n", 0o750|os.ModeSetuid, 12, 34)
	write("etc/centos-release", "CentOS release 7.5\n", 0o644, 0, 0)
	write("etc/motd", "hello\n", 0o644, 0, 0)
	write("lib/tls/libc.so", "\x7fELF\x00binary", 0o755, 0, 0)
	write("var/lib/xcp/state.db", "<db/>\n", 0o600, 0, 0)
	testutil.Must(t, os.Symlink("centos-release", filepath.Join(dir, "etc/redhat-release")))
	testutil.Must(t, os.Symlink("/var/lib/xcp", filepath.Join(dir, "var/xapi")))
	testutil.Must(t, os.Symlink("../init.d/network", filepath.Join(dir, "etc/rc.d/rc3.d/S10network")))
	if os.Geteuid() == 0 {
		testutil.Must(t, unix.Mknod(filepath.Join(dir, "dev/hdisk9"), unix.S_IFBLK|0o640, int(unix.Mkdev(23, 9))))
		testutil.Must(t, os.Lchown(filepath.Join(dir, "dev/hdisk9"), 0, 6))
		testutil.Must(t, unix.Mknod(filepath.Join(dir, "dev/rhdisk9"), unix.S_IFCHR|0o600, int(unix.Mkdev(23, 9))))
		testutil.Must(t, unix.Mknod(filepath.Join(dir, "dev/fifo"), unix.S_IFIFO|0o600, 0))
		testutil.Must(t, unix.Lsetxattr(filepath.Join(dir, "etc/shadow"), "trusted.test", []byte("v1"), 0))
		testutil.Must(t, unix.Lsetxattr(filepath.Join(dir, "etc/shadow"), "user.test", []byte{0, 1, 2}, 0))
	}
	tgt, err := target.Open(context.Background(), target.Options{Root: dir})
	testutil.Must(t, err)
	t.Cleanup(func() { tgt.Close() })
	return tgt, dir
}

// snapshotTree records everything undo must restore: content, type, mode,
// owner, mtime, rdev, link target and xattrs of every entry but the journal.
// Directory mtimes are left out: they move with every entry renamed in or out.
func snapshotTree(t *testing.T, dir string) map[string]string { return treeState(t, dir, true) }

// treeState is snapshotTree, without any mtime unless withMtime (to compare
// with the state another run of the same plan left).
func treeState(t *testing.T, dir string, withMtime bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	root := mustRoot(t, dir)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, "var/lib/xsrescue") {
			return nil
		}
		d, err := openDirAt(root, rel)
		if err != nil {
			return err
		}
		defer d.Close()
		s, err := d.capture(d.base, hashFile)
		if err != nil {
			return err
		}
		if s.Type == "dir" || !withMtime {
			s.Mtime = 0
		}
		s.Ino, s.Ctime = 0, 0 // an undo puts content back, in a new inode
		out[rel] = fmt.Sprintf("%+v", s)
		return nil
	})
	testutil.Must(t, err)
	return out
}

// openRootJournal opens dir as a --root target and a fresh journal.
func openRootJournal(t testing.TB, dir string) (*target.Target, *Journal) {
	tgt, err := target.Open(context.Background(), target.Options{Root: dir})
	testutil.Must(t, err)
	t.Cleanup(func() { tgt.Close() })
	j, err := Open(filepath.Join(t.TempDir(), "j.db"))
	testutil.Must(t, err)
	t.Cleanup(func() { j.Close() })
	return tgt, j
}

func mustRoot(t *testing.T, dir string) *target.Root {
	r, err := target.OpenRoot(dir)
	testutil.Must(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func fullPlan() *plan.Plan {
	return &plan.Plan{Command: "test everything", Changes: []plan.Change{
		{Kind: plan.Write, Path: "etc/xensource-inventory", Content: []byte("PRODUCT_VERSION='8.2.0'\nBUILD_NUMBER='1'\n"), Why: "downgrade marker"},
		{Kind: plan.Write, Path: "etc/redhat-release", Content: []byte("CentOS release 7.2\n")},
		{Kind: plan.Write, Path: "var/xapi/state.db", Stream: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("<db v='2'/>\n")), nil }},
		{Kind: plan.Create, Path: "etc/new.conf", Content: []byte("new\n"), Mode: 0o600, UID: -1, GID: 5},
		{Kind: plan.Remove, Path: "etc/shadow"},
		{Kind: plan.RemoveNode, Path: "dev/hdisk9"},
		{Kind: plan.RemoveNode, Path: "dev/rhdisk9"},
		{Kind: plan.RemoveNode, Path: "dev/fifo"},
		{Kind: plan.RemoveSymlink, Path: "etc/rc.d/rc3.d/S10network"},
		{Kind: plan.CreateSymlink, Path: "etc/rc.d/rc3.d/S99local", LinkTarget: "../rc.local"},
		{Kind: plan.Rename, Path: "lib/tls", NewPath: "lib/tls.disabled"},
		{Kind: plan.Chmod, Path: "etc/motd", Mode: 0o600},
		{Kind: plan.Chown, Path: "var/lib/xcp", UID: 7, GID: 8},
		{Kind: plan.External, Path: "rpool/ROOT", External: &plan.ExternalRecord{Type: "zfs-snapshot", Name: "rpool/ROOT@xsrescue-1", Rollback: "zfs rollback rpool/ROOT@xsrescue-1"}},
	}}
}

func TestApplyUndoFidelity(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "chown, mknod and trusted xattrs")
	ctx := context.Background()
	tgt, dir := testRoot(t)
	before := snapshotTree(t, dir)
	j, err := Open(filepath.Join(t.TempDir(), "j.db"))
	testutil.Must(t, err)
	defer j.Close()
	res, err := j.Apply(ctx, tgt, []string{"xsrescue", "test"}, fullPlan())
	testutil.Must(t, err)
	if res.Status != StatusApplied || len(res.Changes) != 14 {
		t.Fatalf("result %+v", res)
	}
	check := func(p, want string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	check("etc/xensource-inventory", "PRODUCT_VERSION='8.2.0'\nBUILD_NUMBER='1'\n")
	check("etc/centos-release", "CentOS release 7.2\n")
	check("var/lib/xcp/state.db", "<db v='2'/>\n")
	check("etc/new.conf", "new\n")
	check("lib/tls.disabled/libc.so", "\x7fELF\x00binary")
	if l, _ := os.Readlink(filepath.Join(dir, "etc/redhat-release")); l != "centos-release" {
		t.Errorf("write through a symlink replaced the link: %q", l)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "etc/rc.d/rc3.d/S99local")); l != "../rc.local" {
		t.Errorf("S99local -> %q", l)
	}
	for _, gone := range []string{"etc/shadow", "dev/hdisk9", "dev/rhdisk9", "dev/fifo", "etc/rc.d/rc3.d/S10network", "lib/tls"} {
		if _, err := os.Lstat(filepath.Join(dir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", gone, err)
		}
	}
	fi, _ := os.Stat(filepath.Join(dir, "etc/new.conf"))
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o600 || st.Uid != 0 || st.Gid != 5 {
		t.Errorf("new.conf mode %v owner %d:%d", fi.Mode(), st.Uid, st.Gid)
	}
	u, err := j.Undo(ctx, tgt, res.Op, false)
	testutil.Must(t, err)
	if u.Status != StatusUndone {
		t.Errorf("undo status %s", u.Status)
	}
	after := snapshotTree(t, dir)
	for p, b := range before {
		if after[p] != b {
			t.Errorf("%s after undo:\n got %s\nwant %s", p, after[p], b)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s left behind by undo", p)
		}
	}
	if _, err := j.Undo(ctx, tgt, res.Op, false); xerr.Code(err) != xerr.ExitRefused {
		t.Errorf("second undo: %v", err)
	}
}

func TestUndoDrift(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "chown, mknod and trusted xattrs")
	ctx := context.Background()
	tgt, dir := testRoot(t)
	j, err := Open(filepath.Join(t.TempDir(), "j.db"))
	testutil.Must(t, err)
	defer j.Close()
	res, err := j.Apply(ctx, tgt, nil, &plan.Plan{Changes: []plan.Change{
		{Kind: plan.Write, Path: "etc/xensource-inventory", Content: []byte("new\n")},
		{Kind: plan.Write, Path: "etc/centos-release", Content: []byte("7.2\n")},
	}})
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "etc/centos-release"), []byte("edited by hand\n"), 0o644))
	snap := snapshotTree(t, dir)
	_, err = j.Undo(ctx, tgt, res.Op, false)
	if xerr.Code(err) != xerr.ExitRefused || !errors.Is(err, ErrDrift) || !strings.Contains(err.Error(), "etc/centos-release") {
		t.Fatalf("undo after drift: %v", err)
	}
	if got := snapshotTree(t, dir); !maps.Equal(got, snap) {
		t.Errorf("refused undo changed files:\n%v\n%v", got, snap)
	}
	_, err = j.Undo(ctx, tgt, res.Op, true)
	testutil.Must(t, err)
	b, _ := os.ReadFile(filepath.Join(dir, "etc/centos-release"))
	if string(b) != "CentOS release 7.5\n" {
		t.Errorf("forced undo left %q", b)
	}
}

// TestSentinelExitCodes: each sentinel carries its exit code, also wrapped
// the way callers wrap it.
func TestSentinelExitCodes(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]int{
		ErrDrift: xerr.ExitRefused, ErrWrongTarget: xerr.ExitRefused, ErrNotUndoable: xerr.ExitRefused,
		ErrJournalBusy: xerr.ExitRefused, ErrChangedSincePlanned: xerr.ExitRefused, ErrSchemaTooNew: xerr.ExitRefused,
		ErrNoSuchOp: xerr.ExitInvalid,
	} {
		wrapped := fmt.Errorf("journal /x/journal.db: %w", err)
		if got := xerr.Code(wrapped); got != want || !errors.Is(wrapped, err) {
			t.Errorf("%v: exit %d, want %d (errors.Is %v)", err, got, want, errors.Is(wrapped, err))
		}
	}
}

// TestSchemaTooNew: a journal a newer xsrescue wrote is refused (exit 3)
// by every open, and left byte-identical.
func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(p)
	testutil.Must(t, err)
	_, err = j.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion+1))
	testutil.Must(t, err)
	testutil.Must(t, j.Close())
	before := testutil.FileSHA256(t, p)
	_, err = OpenReadOnly(p)
	_, err2 := Open(p)
	for _, err := range []error{err, err2} {
		if !errors.Is(err, ErrSchemaTooNew) || xerr.Code(err) != xerr.ExitRefused {
			t.Errorf("open: %v (exit %d), want ErrSchemaTooNew, exit 3", err, xerr.Code(err))
		}
	}
	if testutil.FileSHA256(t, p) != before {
		t.Error("the newer journal was changed")
	}
}

// TestDriftOnlyMtime: an undo refused because only the mtime moved says
// so, with both times: "is now … the op left …" would show two identical
// descriptions (acceptance round 13).
func TestDriftOnlyMtime(t *testing.T) {
	have := state{Exists: true, Type: "file", Mode: 0o644, SHA256: "ab", Mtime: 2e9}
	want := have
	want.Mtime = 1e9
	if got := onlyDiffers(have, want); !strings.Contains(got, "only its mtime (now 1970-01-01T00:00:02Z, the op left 1970-01-01T00:00:01Z)") {
		t.Errorf("onlyDiffers = %q", got)
	}
	want.SHA256 = "cd"
	if got := onlyDiffers(have, want); got != "" {
		t.Errorf("content differs too, yet %q", got)
	}
}
