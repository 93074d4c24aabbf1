package journal

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
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
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// A journal that cannot take the before-images (its filesystem is full)
// stops the op before any change is committed: the op is recorded as rolled
// back and the target is as before, staging files included.
func TestJournalFullFilesystem(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "chown, mknod and trusted xattrs")
	tgt, dir := testRoot(t)
	big := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{1}).Read(big) // incompressible: the blob needs 4 MiB
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "var/lib/xcp/state.db"), big, 0o600))
	before := snapshotTree(t, dir)
	j, jdir := journalOnTmpfs(t, "3m")
	p := &plan.Plan{Changes: []plan.Change{
		{Kind: plan.Write, Path: "etc/xensource-inventory", Content: []byte("x\n")},
		{Kind: plan.Write, Path: "var/lib/xcp/state.db", Content: []byte("y\n")},
	}}
	// Under 1 MiB free: refused before anything is recorded.
	filler := filepath.Join(jdir, "filler")
	testutil.Must(t, os.WriteFile(filler, make([]byte, 2<<20+512<<10), 0o600))
	if _, err := j.Apply(context.Background(), tgt, nil, p); err == nil || !strings.Contains(err.Error(), "cannot record it") {
		t.Fatalf("apply with a nearly full journal: %v", err)
	}
	if ops, _ := j.List(context.Background()); len(ops) != 0 {
		t.Fatalf("ops recorded: %+v", ops)
	}
	testutil.Must(t, os.Remove(filler))
	// Room to start, not for the 4 MiB before-image: rolled back.
	_, err := j.Apply(context.Background(), tgt, nil, p)
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("apply with a full journal: %v", err)
	}
	if got := snapshotTree(t, dir); !mapsEqualT(got, before) {
		t.Error("the target was touched although the journal could not take the before-images")
	}
	ops, err := j.List(context.Background())
	testutil.Must(t, err)
	if len(ops) != 1 || ops[0].Status != StatusRolledBack {
		t.Fatalf("ops recorded: %+v, want one rolled back", ops)
	}
	// Its before-images were never stored: export says what it can.
	if err := j.Export(context.Background(), ops[0].ID, io.Discard); err != nil {
		t.Errorf("export of the rolled-back op: %v", err)
	}
}

// An undo whose journal can no longer record anything (its filesystem
// filled up after the op) is refused before the target is touched, and
// works once there is room again.
func TestUndoJournalFull(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "chown, mknod and trusted xattrs")
	tgt, dir := testRoot(t)
	j, jdir := journalOnTmpfs(t, "4m")
	res, err := j.Apply(context.Background(), tgt, nil, &plan.Plan{Changes: []plan.Change{
		{Kind: plan.Write, Path: "etc/motd", Content: []byte("changed\n")},
	}})
	testutil.Must(t, err)
	after := snapshotTree(t, dir)
	// Fill the journal's filesystem to the last byte.
	filler, err := os.Create(filepath.Join(jdir, "filler"))
	testutil.Must(t, err)
	io.Copy(filler, io.LimitReader(zeroReader{}, 8<<20))
	filler.Close()

	_, err = j.Undo(context.Background(), tgt, res.Op, false)
	if err == nil || !strings.Contains(err.Error(), "cannot record it") || !strings.Contains(err.Error(), "nothing was changed") || !errors.Is(err, xerr.ErrRefused) {
		t.Fatalf("undo with a full journal: %v", err)
	}
	if got := snapshotTree(t, dir); !mapsEqualT(got, after) {
		t.Fatal("undo touched the target although the journal could not record it")
	}
	testutil.Must(t, os.Remove(filepath.Join(jdir, "filler")))
	if _, err := j.Undo(context.Background(), tgt, res.Op, false); err != nil {
		t.Fatalf("undo once there is room: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "etc/motd")); string(got) != "hello\n" {
		t.Errorf("motd after undo: %q", got)
	}
}

// A target whose filesystem fills up while the new content is staged: the
// op is rolled back, the target is as before, and the error names the file
// being replaced and the cause, not the vanished staging file.
func TestTargetFullWhileStaging(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "chown, mknod and trusted xattrs")
	dir := t.TempDir()
	testutil.Must(t, syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"))
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "var/lib/xcp"), 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "var/lib/xcp/state.db"), []byte("<db/>\n"), 0o600))
	tgt, err := target.Open(context.Background(), target.Options{Root: dir})
	testutil.Must(t, err)
	defer tgt.Close()
	before := snapshotTree(t, dir)
	j, err := Open(filepath.Join(t.TempDir(), "journal.db"))
	testutil.Must(t, err)
	defer j.Close()
	_, err = j.Apply(context.Background(), tgt, nil, &plan.Plan{Changes: []plan.Change{
		{Kind: plan.Write, Path: "var/lib/xcp/state.db", Stream: func() (io.ReadCloser, error) {
			return io.NopCloser(io.LimitReader(zeroReader{}, 4<<20)), nil
		}},
	}})
	if err == nil || !strings.Contains(err.Error(), "var/lib/xcp/state.db: staging the new content next to it: write: no space left on device") || strings.Contains(err.Error(), ".xsrescue-") {
		t.Fatalf("apply on a full target: %v", err)
	}
	if got := snapshotTree(t, dir); !mapsEqualT(got, before) {
		t.Error("the target changed")
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// journalOnTmpfs opens a journal alone on a tmpfs of size, so that a test
// can fill its filesystem; it returns the journal and the tmpfs.
func journalOnTmpfs(t *testing.T, size string) (*Journal, string) {
	t.Helper()
	dir := t.TempDir()
	testutil.Must(t, syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size))
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	j, err := Open(filepath.Join(dir, "journal.db"))
	testutil.Must(t, err)
	t.Cleanup(func() { j.Close() })
	return j, dir
}

func mapsEqualT(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Two users of one journal: the second waits for the first, and fails
// clearly when the first holds it too long. flock locks belong to the open
// file, so two Opens in one process contend exactly as two processes do.
func TestJournalTwoUsers(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "j.db")
	j1, err := Open(p)
	testutil.Must(t, err)
	ctx := context.Background()
	if _, err := OpenWith(ctx, p, Options{Wait: 200 * time.Millisecond}); !errors.Is(err, ErrJournalBusy) || xerr.Code(err) != xerr.ExitRefused {
		t.Fatalf("second open while held: %v, want ErrJournalBusy (exit 3)", err)
	}
	done := make(chan error, 1)
	go func() {
		j2, err := OpenWith(ctx, p, Options{Wait: 5 * time.Second})
		if err == nil {
			_, err = j2.List(context.Background())
			j2.Close()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	testutil.Must(t, j1.Close())
	if err := <-done; err != nil {
		t.Fatalf("second open after the first closed: %v", err)
	}
	// Readers need no lock.
	j3, err := Open(p)
	testutil.Must(t, err)
	defer j3.Close()
	r, err := OpenReadOnly(p)
	testutil.Must(t, err)
	defer r.Close()
	if _, err := r.List(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Writes through hostile paths stay inside the root; a hard link to a file
// outside is replaced, never written through.
func TestApplyEscape(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	dir := filepath.Join(base, "root")
	testutil.Must(t, os.MkdirAll(outside, 0o755))
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	sentinel := filepath.Join(outside, "sentinel")
	testutil.Must(t, os.WriteFile(sentinel, []byte("OUTSIDE"), 0o644))
	testutil.Must(t, os.Link(sentinel, filepath.Join(dir, "etc/hardlink")))
	testutil.Must(t, os.Symlink(sentinel, filepath.Join(dir, "etc/abs")))
	testutil.Must(t, os.Symlink(outside, filepath.Join(dir, "etc/dir")))
	testutil.Must(t, os.Symlink("../../../outside/sentinel", filepath.Join(dir, "etc/rel")))
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, outside), 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(dir, sentinel), []byte("inside"), 0o644))
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "outside"), 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "outside/sentinel"), []byte("inside"), 0o644))
	tgt, err := target.Open(context.Background(), target.Options{Root: dir})
	testutil.Must(t, err)
	defer tgt.Close()
	j, err := Open(filepath.Join(base, "j.db"))
	testutil.Must(t, err)
	defer j.Close()
	res, err := j.Apply(context.Background(), tgt, nil, &plan.Plan{Changes: []plan.Change{
		{Kind: plan.Write, Path: "etc/hardlink", Content: []byte("new")},
		{Kind: plan.Write, Path: "etc/abs", Content: []byte("via abs")},
		{Kind: plan.Create, Path: "etc/dir/created", Content: []byte("c")},
		{Kind: plan.Remove, Path: "../../../outside/other"},
	}})
	if err == nil {
		t.Fatalf("removing a missing file should fail the plan: %+v", res)
	}
	res, err = j.Apply(context.Background(), tgt, nil, &plan.Plan{Changes: []plan.Change{
		{Kind: plan.Write, Path: "etc/hardlink", Content: []byte("new")},
		{Kind: plan.Write, Path: "etc/abs", Content: []byte("via abs")},
		{Kind: plan.Create, Path: "etc/dir/created", Content: []byte("c")},
		{Kind: plan.Chmod, Path: "etc/rel", Mode: 0o600},
	}})
	testutil.Must(t, err)
	if b, _ := os.ReadFile(sentinel); string(b) != "OUTSIDE" {
		t.Errorf("sentinel outside the root is now %q", b)
	}
	if fi, _ := os.Stat(sentinel); fi.Mode().Perm() != 0o644 {
		t.Errorf("sentinel mode changed to %v", fi.Mode())
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("files created outside the root: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, sentinel)); string(b) != "via abs" {
		t.Errorf("absolute link not re-rooted: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, outside, "created")); err != nil {
		t.Errorf("create through a symlinked dir: %v", err)
	}
	if _, err := j.Undo(context.Background(), tgt, res.Op, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/hardlink")); string(b) != "OUTSIDE" {
		t.Errorf("undo of the hard-linked file: %q", b)
	}
	if b, _ := os.ReadFile(sentinel); string(b) != "OUTSIDE" {
		t.Errorf("sentinel after undo %q", b)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "chown, mknod and trusted xattrs")
	tgt, _ := testRoot(t)
	var b bytes.Buffer
	testutil.Must(t, Render(&b, tgt.Root, fullPlan()))
	out := b.String()
	for _, want := range []string{
		"--- a/etc/xensource-inventory\n+++ b/etc/xensource-inventory\n",
		"-PRODUCT_VERSION='8.2.1'\n+PRODUCT_VERSION='8.2.0'\n",
		"#    why: downgrade marker\n",
		"--- a/etc/centos-release\n", // through the redhat-release symlink
		"--- /dev/null\n+++ b/etc/new.conf\n",
		"remove block device dev/hdisk9 (major 23, minor 9, mode 0640, owner 0:6)",
		"remove fifo dev/fifo",
		"remove symlink etc/rc.d/rc3.d/S10network -> ../init.d/network",
		"create symlink etc/rc.d/rc3.d/S99local -> ../rc.local",
		"rename dir lib/tls to lib/tls.disabled",
		"chmod etc/motd 0644 -> 0600",
		"chown var/lib/xcp 0:0 -> 7:8",
		"external zfs-snapshot rpool/ROOT@xsrescue-1 (roll back by hand: zfs rollback rpool/ROOT@xsrescue-1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []*plan.Plan{
		{Changes: []plan.Change{{Kind: plan.Write, Path: "etc/missing", Content: []byte("x")}}},
		{Changes: []plan.Change{{Kind: plan.Create, Path: "etc/motd"}}},
		{Changes: []plan.Change{{Kind: plan.RemoveNode, Path: "etc/motd"}}},
		{Changes: []plan.Change{{Kind: plan.Rename, Path: "lib/tls", NewPath: "lib/tls/inner"}}},
		{Changes: []plan.Change{{Kind: plan.Write, Path: "etc/motd"}, {Kind: plan.Chmod, Path: "etc/motd", Mode: 0o600}}},
		{Changes: []plan.Change{{Kind: plan.External}}},
		{Changes: []plan.Change{{Kind: "frobnicate", Path: "etc/motd"}}},
		{Changes: []plan.Change{{Kind: plan.Remove, Path: "/"}}},
	} {
		if err := Render(io.Discard, tgt.Root, bad); err == nil {
			t.Errorf("Render(%+v): no error", bad.Changes)
		}
	}
}

func TestExport(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "chown, mknod and trusted xattrs")
	ctx := context.Background()
	tgt, _ := testRoot(t)
	j, err := Open(filepath.Join(t.TempDir(), "j.db"))
	testutil.Must(t, err)
	defer j.Close()
	res, err := j.Apply(ctx, tgt, []string{"xsrescue", "test"}, fullPlan())
	testutil.Must(t, err)
	var b bytes.Buffer
	testutil.Must(t, j.Export(ctx, res.Op, &b))
	zr, err := gzip.NewReader(&b)
	testutil.Must(t, err)
	tr := tar.NewReader(zr)
	got := map[string]*tar.Header{}
	contents := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		testutil.Must(t, err)
		got[h.Name] = h
		c, _ := io.ReadAll(tr)
		contents[h.Name] = string(c)
	}
	pre := "xsrescue-op-1/"
	if !strings.Contains(contents[pre+"op.json"], `"before_sha256"`) {
		t.Errorf("op.json: %s", contents[pre+"op.json"])
	}
	if contents[pre+"before/etc/xensource-inventory"] != "PRODUCT_VERSION='8.2.1'\nBUILD_NUMBER='1'\n" {
		t.Errorf("before-image: %q", contents[pre+"before/etc/xensource-inventory"])
	}
	if h := got[pre+"before/etc/shadow"]; h == nil || h.Mode != 0o4750 || h.Uid != 12 || h.PAXRecords["SCHILY.xattr.trusted.test"] != "v1" {
		t.Errorf("shadow header %+v", h)
	}
	if h := got[pre+"before/dev/hdisk9"]; h == nil || h.Typeflag != tar.TypeBlock || h.Devmajor != 23 || h.Devminor != 9 || h.Gid != 6 {
		t.Errorf("hdisk9 header %+v", h)
	}
	if h := got[pre+"before/etc/rc.d/rc3.d/S10network"]; h == nil || h.Linkname != "../init.d/network" {
		t.Errorf("symlink header %+v", h)
	}
}

// A large file goes through snapshot, apply and undo streamed: the new
// content comes from a Stream, the before-image is stored in many chunks.
func TestLargeStream(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const size = 16 << 20
	raw := make([]byte, size/2)
	rand.NewChaCha8([32]byte{2}).Read(raw)
	content := []byte(hex.EncodeToString(raw))
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "state.db"), content, 0o600))
	tgt, j := openRootJournal(t, dir)
	res, err := j.Apply(context.Background(), tgt, nil, &plan.Plan{Changes: []plan.Change{{Kind: plan.Write, Path: "state.db",
		Stream: func() (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(strings.NewReader("<changed/>"), bytes.NewReader(content[10:]))), nil
		}}}})
	testutil.Must(t, err)
	_, stored, err := j.Size(context.Background())
	testutil.Must(t, err)
	var chunks int
	testutil.Must(t, j.db.QueryRow("SELECT count(*) FROM blob_chunks").Scan(&chunks))
	if stored < chunkSize || stored > size*11/10 || chunks < 2 {
		t.Errorf("blobs %d bytes in %d chunks for a %d-byte before-image", stored, chunks, size)
	}
	if _, err := j.Undo(context.Background(), tgt, res.Op, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "state.db")); !bytes.Equal(b, content) {
		t.Error("undo did not restore the large file")
	}
}

// An unchanged file snapshotted twice is stored once.
func TestBlobDedup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	content := bytes.Repeat([]byte("same before-image\n"), 1<<16)
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "a"), content, 0o644))
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "b"), content, 0o644))
	tgt, j := openRootJournal(t, dir)
	ctx := context.Background()
	res, err := j.Apply(ctx, tgt, nil, &plan.Plan{Changes: []plan.Change{{Kind: plan.Write, Path: "a", Content: []byte("1")}, {Kind: plan.Write, Path: "b", Content: []byte("2")}}})
	testutil.Must(t, err)
	_, stored1, err := j.Size(ctx)
	testutil.Must(t, err)
	_, err = j.Undo(ctx, tgt, res.Op, false)
	testutil.Must(t, err)
	_, err = j.Apply(ctx, tgt, nil, &plan.Plan{Changes: []plan.Change{{Kind: plan.Write, Path: "a", Content: []byte("3")}}})
	testutil.Must(t, err)
	_, stored2, err := j.Size(ctx)
	testutil.Must(t, err)
	var blobs int
	testutil.Must(t, j.db.QueryRow("SELECT count(*) FROM blobs").Scan(&blobs))
	if blobs != 1 || stored2 != stored1 {
		t.Errorf("%d blobs, %d then %d stored bytes; want 1 blob stored once", blobs, stored1, stored2)
	}
}

// Two xsrescue processes on one journal: the second waits while the first
// holds it, fails clearly if that takes too long, and gets it once the first
// is done; the journal stays intact.
func TestJournalTwoProcesses(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "j.db")
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), "XSRESCUE_JOURNAL_HOLD="+p)
	stdin, err := holder.StdinPipe()
	testutil.Must(t, err)
	stdout, err := holder.StdoutPipe()
	testutil.Must(t, err)
	testutil.Must(t, holder.Start())
	defer holder.Process.Kill()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "holding\n" {
		t.Fatalf("holder: %q %v", line, err)
	}
	_, err = OpenWith(context.Background(), p, Options{Wait: 300 * time.Millisecond})
	if !errors.Is(err, ErrJournalBusy) || xerr.Code(err) != xerr.ExitRefused ||
		!strings.Contains(err.Error(), "in use by another xsrescue (held by pid "+strconv.Itoa(holder.Process.Pid)+": ") {
		t.Fatalf("open while another process holds the journal: %v", err)
	}
	time.AfterFunc(300*time.Millisecond, func() { stdin.Close() })
	start := time.Now()
	j, err := Open(p)
	testutil.Must(t, err)
	defer j.Close()
	if time.Since(start) < 200*time.Millisecond {
		t.Error("the second open did not wait for the first")
	}
	testutil.Must(t, holder.Wait())
	var check string
	testutil.Must(t, j.db.QueryRow("PRAGMA integrity_check").Scan(&check))
	if check != "ok" {
		t.Errorf("integrity_check: %s", check)
	}
}
