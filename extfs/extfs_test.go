package extfs_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/extfs"
	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// The feature images are built once per test binary (about 20 s).
var images struct {
	once  sync.Once
	dir   string
	tree  string
	paths map[string]string
	specs map[string]fixtures.ExtSpec
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if images.dir != "" {
		os.RemoveAll(images.dir)
	}
	os.Exit(code)
}

func featureImages(t testing.TB) (tree string, specs []fixtures.ExtSpec) {
	t.Helper()
	testutil.NeedTools(t, "mke2fs", "e2fsck", "debugfs")
	images.once.Do(func() {
		images.dir, images.err = os.MkdirTemp("", "extfs-test-")
		if images.err != nil {
			return
		}
		images.tree = filepath.Join(images.dir, "tree")
		if images.err = os.Mkdir(images.tree, 0o755); images.err != nil {
			return
		}
		if images.err = fixtures.ExtFeatureTree(images.tree); images.err != nil {
			return
		}
		images.paths, images.specs = map[string]string{}, map[string]fixtures.ExtSpec{}
		for _, s := range fixtures.ExtFeatureSpecs() {
			p, err := fixtures.BuildExt(images.dir, images.tree, s)
			if err != nil {
				images.err = err
				return
			}
			images.paths[s.Name], images.specs[s.Name] = p, s
		}
	})
	if images.err != nil {
		t.Fatal(images.err)
	}
	return images.tree, fixtures.ExtFeatureSpecs()
}

func openImage(t testing.TB, s fixtures.ExtSpec) *extfs.FS {
	t.Helper()
	f, err := os.Open(images.paths[s.Name])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	x, err := extfs.Open(f, s.Offset, s.Size, extfs.Options{Name: s.Name})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// entry is what the tests compare of one path; fields an oracle cannot
// see stay zero on both sides.
type entry struct {
	Type       string
	Perm       string
	UID, GID   int
	Size       int64
	Link       string
	Content    string // sha256 of the data; for big files of its non-zero 64 KiB chunks with offsets
	Dev        string
	Nlink      int
	Mtime      int64
	MtimeNanos int64
	Xattrs     map[string]string
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeCharDevice != 0:
		return "char"
	case m&fs.ModeDevice != 0:
		return "block"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "?"
}

func permString(m fs.FileMode) string {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return fmt.Sprintf("%04o", p)
}

const bigFile = 16 << 20

// contentHash hashes r (size bytes): whole for small files; for big ones
// the non-zero 64 KiB chunks of the given data stretches, with offsets,
// so that a 5 GiB sparse file costs only its data on every side.
func contentHash(r io.ReaderAt, size int64, data [][2]int64) (string, error) {
	h := sha256.New()
	if size <= bigFile {
		b := make([]byte, size)
		if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
			return "", err
		}
		h.Write(b)
		return fmt.Sprintf("%x", h.Sum(nil)), nil
	}
	const chunk = 64 << 10
	zero := make([]byte, chunk)
	seen := map[int64]bool{}
	for _, d := range data {
		for c := d[0] / chunk * chunk; c < d[0]+d[1]; c += chunk {
			if seen[c] {
				continue
			}
			seen[c] = true
			b := make([]byte, min(chunk, size-c))
			if _, err := r.ReadAt(b, c); err != nil && err != io.EOF {
				return "", err
			}
			if !bytes.Equal(b, zero[:len(b)]) {
				fmt.Fprintf(h, "%d:", c)
				h.Write(b)
			}
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// extManifest walks x through its fs.FS API (Lstat, ReadLink, ReadDir, Open).
func extManifest(t *testing.T, x *extfs.FS) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := fs.WalkDir(x, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." || p == "lost+found" {
			return nil
		}
		fi, err := x.Lstat(p)
		if err != nil {
			return err
		}
		if d.Type() != fi.Mode().Type() {
			return fmt.Errorf("%s: entry type %v, inode type %v", p, d.Type(), fi.Mode().Type())
		}
		in := fi.Sys().(*extfs.Inode)
		e := entry{Type: typeName(fi.Mode()), Perm: permString(fi.Mode()), UID: int(in.UID), GID: int(in.GID),
			Nlink: int(in.Nlink), Mtime: fi.ModTime().Unix(), MtimeNanos: fi.ModTime().UnixNano()}
		xs, err := x.Xattrs(in)
		if err != nil {
			return err
		}
		for k, v := range xs {
			if e.Xattrs == nil {
				e.Xattrs = map[string]string{}
			}
			e.Xattrs[k] = string(v)
		}
		switch e.Type {
		case "file":
			e.Size = fi.Size()
			fl, err := x.OpenFile(p)
			if err != nil {
				return err
			}
			var data [][2]int64
			for _, d := range fl.DataExtents() {
				data = append(data, [2]int64{d.Off, d.Len})
			}
			if e.Content, err = contentHash(fl, fi.Size(), data); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		case "symlink":
			e.Size = fi.Size()
			if e.Link, err = x.ReadLink(p); err != nil {
				return err
			}
		case "char", "block":
			e.Dev = fmt.Sprintf("%d:%d", in.Major, in.Minor)
		}
		out[p] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dirManifest walks a mounted tree with the os package.
func dirManifest(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." || rel == "lost+found" {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := entry{Type: typeName(fi.Mode()), Perm: permString(fi.Mode()), UID: int(st.Uid), GID: int(st.Gid),
			Nlink: int(st.Nlink), Mtime: fi.ModTime().Unix(), MtimeNanos: fi.ModTime().UnixNano(), Xattrs: osXattrs(t, p)}
		switch e.Type {
		case "file":
			e.Size = fi.Size()
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if e.Content, err = contentHash(f, fi.Size(), seekData(f, fi.Size())); err != nil {
				return err
			}
		case "symlink":
			e.Size = fi.Size()
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case "char", "block":
			e.Dev = fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func osXattrs(t *testing.T, p string) map[string]string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return nil
	}
	out := map[string]string{}
	for _, k := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, k, v)
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", p, k, err)
		}
		out[k] = string(v[:m])
	}
	return out
}

func seekData(f *os.File, size int64) [][2]int64 {
	var out [][2]int64
	fd := int(f.Fd())
	for pos := int64(0); pos < size; {
		d, err := unix.Seek(fd, pos, unix.SEEK_DATA)
		if err != nil {
			break
		}
		h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
		if err != nil {
			h = size
		}
		out = append(out, [2]int64{d, h - d})
		pos = h
	}
	return out
}

// debugfsManifest lists the filesystem with e2fsprogs' debugfs (no root
// needed): `ls -p` for names, types, modes, owners and sizes, `stat` for
// symlink targets, `dump` for the content of files up to bigFile.
func debugfsManifest(t *testing.T, img string, off int64) map[string]entry {
	t.Helper()
	spec := fmt.Sprintf("%s?offset=%d", img, off)
	dir := t.TempDir()
	run := func(cmds []string) string {
		script := filepath.Join(dir, "cmds")
		if err := os.WriteFile(script, []byte(strings.Join(cmds, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("debugfs", "-c", "-f", script, spec).Output()
		if err != nil {
			t.Fatalf("debugfs: %v", err)
		}
		return string(out)
	}
	out := map[string]entry{}
	var symlinks, files []string
	for level := []string{""}; len(level) > 0; {
		var cmds []string
		for _, d := range level {
			cmds = append(cmds, `ls -p "/`+d+`"`)
		}
		var next []string
		cur := -1
		for line := range strings.Lines(run(cmds)) {
			line = strings.TrimRight(line, "\n")
			if strings.HasPrefix(line, "debugfs:") {
				cur++
				continue
			}
			f := strings.Split(line, "/")
			if len(f) < 8 || f[0] != "" || f[1] == "0" {
				continue
			}
			name := strings.Join(f[5:len(f)-2], "/")
			if name == "." || name == ".." || (cur == 0 && name == "lost+found") {
				continue
			}
			mode, _ := strconv.ParseUint(f[2], 8, 32)
			uid, _ := strconv.Atoi(f[3])
			gid, _ := strconv.Atoi(f[4])
			size, _ := strconv.ParseInt(f[len(f)-2], 10, 64)
			rel := path.Join(level[cur], name)
			fm := fs.FileMode(mode & 0o777)
			if mode&0o4000 != 0 {
				fm |= fs.ModeSetuid
			}
			if mode&0o2000 != 0 {
				fm |= fs.ModeSetgid
			}
			if mode&0o1000 != 0 {
				fm |= fs.ModeSticky
			}
			e := entry{Perm: permString(fm), UID: uid, GID: gid}
			switch mode & 0o170000 {
			case 0o100000:
				e.Type, e.Size = "file", size
				files = append(files, rel)
			case 0o040000:
				e.Type = "dir"
				next = append(next, rel)
			case 0o120000:
				e.Type, e.Size = "symlink", size
				symlinks = append(symlinks, rel)
			case 0o020000:
				e.Type = "char"
			case 0o060000:
				e.Type = "block"
			case 0o010000:
				e.Type = "fifo"
			case 0o140000:
				e.Type = "socket"
			}
			out[rel] = e
		}
		level = next
	}
	// Symlink targets: `stat` shows a fast one, `dump` writes a slow one.
	var cmds []string
	for i, l := range symlinks {
		cmds = append(cmds, `stat "/`+l+`"`, fmt.Sprintf(`dump "/%s" %s/l%d`, l, dir, i))
	}
	stats := strings.Split(run(cmds), "debugfs: stat")[1:]
	for i, l := range symlinks {
		e := out[l]
		if _, dest, ok := strings.Cut(stats[i], "Fast link dest: \""); ok {
			e.Link = dest[:strings.Index(dest, "\"\n")]
		} else {
			b, _ := os.ReadFile(fmt.Sprintf("%s/l%d", dir, i))
			e.Link = string(b)
		}
		out[l] = e
	}
	cmds = nil
	for i, p := range files {
		if out[p].Size <= bigFile {
			cmds = append(cmds, fmt.Sprintf(`dump "/%s" %s/f%d`, p, dir, i))
		}
	}
	run(cmds)
	for i, p := range files {
		e := out[p]
		if e.Size > bigFile {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("%s/f%d", dir, i))
		if err != nil {
			t.Fatal(err)
		}
		// debugfs 1.47 dumps an inline-data file as all 60 bytes of
		// i_block, past i_size.
		b = b[:min(int64(len(b)), e.Size)]
		e.Content = fmt.Sprintf("%x", sha256.Sum256(b))
		out[p] = e
	}
	return out
}

// only keeps the fields debugfs shows.
func forDebugfs(m map[string]entry) map[string]entry {
	out := map[string]entry{}
	for p, e := range m {
		if e.Size > bigFile {
			e.Content = ""
		}
		out[p] = entry{Type: e.Type, Perm: e.Perm, UID: e.UID, GID: e.GID, Size: e.Size, Link: e.Link, Content: e.Content}
	}
	return out
}

// TestMatchesDebugfs: every feature image reads exactly as debugfs reads it.
func TestMatchesDebugfs(t *testing.T) {
	t.Parallel()
	_, specs := featureImages(t)
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			x := openImage(t, s)
			got := forDebugfs(extManifest(t, x))
			want := debugfsManifest(t, images.paths[s.Name], s.Offset)
			if len(want) < 3000 {
				t.Fatalf("debugfs listed only %d paths", len(want))
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("extfs differs from debugfs (-debugfs +extfs):\n%s", d)
			}
		})
	}
}

// TestMatchesMount: every feature image reads exactly as the kernel reads
// it, mounted read-only through a loop device (needs root): also owners,
// nanosecond mtimes, link counts and device numbers.
func TestMatchesMount(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "loop mounts")
	_, specs := featureImages(t)
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			x := openImage(t, s)
			mnt := mountRO(t, images.paths[s.Name], s)
			want := dirManifest(t, mnt)
			got := extManifest(t, x)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("extfs differs from the kernel (-kernel +extfs):\n%s", d)
			}
		})
	}
}

func mountRO(t *testing.T, img string, s fixtures.ExtSpec) string {
	t.Helper()
	testutil.NeedTools(t, "mount", "umount")
	mnt := t.TempDir()
	opts := fmt.Sprintf("ro,loop,offset=%d,sizelimit=%d", s.Offset, s.Size)
	if s.Type != "ext2" && !strings.Contains(s.Features, "^has_journal") {
		opts += ",noload"
	}
	if out, err := exec.Command("mount", "-t", "ext4", "-o", opts, img, mnt).CombinedOutput(); err != nil {
		t.Skipf("mount %s: %v: %s", img, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// TestPaths: symlinks resolve chroot-style; errors say absent only when absent.
func TestPaths(t *testing.T) {
	t.Parallel()
	tree, specs := featureImages(t)
	hosts, _ := os.ReadFile(filepath.Join(tree, "etc/hosts"))
	deep, _ := os.ReadFile(filepath.Join(tree, "deep/a/b/c/d/e/f/g/h/i/j/file"))
	inv, _ := os.ReadFile(filepath.Join(tree, "etc/xensource-inventory"))
	for _, s := range specs {
		x := openImage(t, s)
		for name, want := range map[string][]byte{
			"link-fast": hosts, "link-abs": hosts, "link-slow-300": hosts, "link-slow-100": deep,
			"deep/a/rel": hosts, "deep/a/escape": hosts, "var/xapi/state.db": []byte("<database/>\n"),
			"var/xapi-rel/state.db": []byte("<database/>\n"), "etc/redhat-release": inv,
			"link-to-dir-slash/rel": hosts,
		} {
			got, err := x.ReadFile(name)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: ReadFile(%s) = %q, %v; want %q", s.Name, name, got, err, want)
			}
		}
		for name, want := range map[string]error{
			"loop-a": extfs.ErrTooManyLinks, "dangling": fs.ErrNotExist, "no-such": fs.ErrNotExist,
			"tiny/x": syscall.ENOTDIR, "deep": syscall.EISDIR, "/etc/hosts": fs.ErrInvalid, "deep/../etc/hosts": fs.ErrInvalid,
		} {
			if _, err := x.ReadFile(name); !errors.Is(err, want) {
				t.Errorf("%s: ReadFile(%s) error = %v, want %v", s.Name, name, err, want)
			}
		}
		if fi, err := x.Lstat("var/xapi"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
			t.Errorf("%s: Lstat(var/xapi) = %v, %v; want a symlink", s.Name, fi, err)
		}
		if fi, err := x.Stat("var/xapi"); err != nil || !fi.IsDir() {
			t.Errorf("%s: Stat(var/xapi) = %v, %v; want the directory", s.Name, fi, err)
		}
		ents, err := x.ReadDir("many")
		if err != nil || len(ents) != 3000 || !slices.IsSortedFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) }) {
			t.Errorf("%s: ReadDir(many) = %d entries, %v; want 3000 sorted", s.Name, len(ents), err)
		}
	}
}

// TestDirtyJournal: a journal that needs recovery is replayed in memory:
// extfs reads the new inventory, as e2fsck's replay on a copy does; with
// NoReplay it reads the checkpointed state, as mount -o ro,noload and
// debugfs -c do; the image is never written. (journal_test.go covers the
// journal formats.)
func TestDirtyJournal(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "mke2fs", "debugfs", "dumpe2fs", "e2fsck")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	old, replayed := "PRODUCT_VERSION='5.5.0'\n", "PRODUCT_VERSION='5.0.0'\n"
	if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "etc/xensource-inventory"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	s := fixtures.ExtSpec{Name: "dirty", Type: "ext3", BlockSize: 1024, InodeSize: 128, Size: 16 * fixtures.MiB, Offset: fixtures.MiB}
	img, err := fixtures.BuildExt(dir, tree, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.DirtyJournal(img, s.Offset, "/etc/xensource-inventory", []byte(replayed)); err != nil {
		t.Fatal(err)
	}
	before, err := fixtures.FileSHA256(img)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, noReplay := range []bool{false, true} {
		x, err := extfs.Open(f, s.Offset, s.Size, extfs.Options{Name: "dirty", NoReplay: noReplay})
		if err != nil {
			t.Fatal(err)
		}
		if !x.NeedsRecovery() {
			t.Error("NeedsRecovery() = false for a journal with a committed transaction")
		}
		want, r := replayed, x.Replay()
		if noReplay {
			want = old
			if r.Transactions != 0 || r.Err != nil {
				t.Errorf("NoReplay: Replay() = %+v", r)
			}
		} else if r.Transactions != 1 || r.Blocks != 1 || r.Err != nil {
			t.Errorf("Replay() = %+v, want 1 transaction of 1 block", r)
		}
		got, err := x.ReadFile("etc/xensource-inventory")
		if err != nil || string(got) != want {
			t.Errorf("NoReplay %v: ReadFile = %q, %v; want %q", noReplay, got, err, want)
		}
	}
	dev := fmt.Sprintf("%s?offset=%d", img, s.Offset)
	if out, err := exec.Command("debugfs", "-c", "-R", "cat /etc/xensource-inventory", dev).Output(); err != nil || string(out) != old {
		t.Errorf("debugfs -c cat = %q, %v; want %q", out, err, old)
	}
	if os.Geteuid() == 0 {
		mnt := mountRO(t, img, s)
		if b, err := os.ReadFile(filepath.Join(mnt, "etc/xensource-inventory")); err != nil || string(b) != old {
			t.Errorf("mount -o ro,noload: %q, %v; want %q", b, err, old)
		}
	}
	if after, _ := fixtures.FileSHA256(img); after != before {
		t.Error("the image changed while it was read")
	}
	// What the journal holds: e2fsck replays it (on a copy).
	cp := filepath.Join(dir, "copy.img")
	extract(t, img, s.Offset, s.Size, cp)
	exec.Command("e2fsck", "-fy", cp).Run()
	if out, err := exec.Command("debugfs", "-R", "cat /etc/xensource-inventory", cp).Output(); err != nil || string(out) != replayed {
		t.Errorf("after e2fsck replays the journal: %q, %v; want %q", out, err, replayed)
	}
}

var updateFuzzBase = flag.Bool("update", false, "make testdata/fuzz-*.img.gz again with mke2fs (see testdata/README.md)")

// TestMakeFuzzBase makes the fuzz targets' starting images again with
// -update (mke2fs, e2fsck; debugfs for the dirty journals).
func TestMakeFuzzBase(t *testing.T) {
	t.Parallel()
	if !*updateFuzzBase {
		t.Skip("only with -update")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := fixtures.ExtFuzzTree(tree); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(fixtures.ExtFuzzSpecs(), fixtures.ExtJournalFuzzSpecs()...) {
		p, err := fixtures.BuildExt(dir, tree, s)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(s.Name, "fuzz-journal-") {
			csum := 0
			if s.Type == "ext4" {
				csum = 3
			}
			if err := fixtures.DirtyFuzzJournal(p, csum); err != nil {
				t.Fatal(err)
			}
		}
		img, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		w.Write(img[:s.Size])
		w.Close()
		if err := os.WriteFile(filepath.Join("testdata", s.Name+".img.gz"), gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDirectoryCycle: a directory hard-linked into itself (debugfs ln
// allows it; the kernel never makes one) is walked once; the second visit
// is an error for that path, and the walk ends.
func TestDirectoryCycle(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "mke2fs", "debugfs")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := fixtures.ExtSpec{Name: "cycle", Type: "ext3", BlockSize: 1024, Size: 4 * fixtures.MiB}
	img, err := fixtures.BuildExt(dir, tree, s)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("debugfs", "-w", "-R", "ln /a /a/b/up", img).CombinedOutput(); err != nil {
		t.Fatalf("debugfs ln: %v: %s", err, out)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := extfs.Open(f, 0, s.Size, extfs.Options{Name: "cycle"})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	var cycle error
	err = x.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			cycle = err
			return nil
		}
		seen = append(seen, p)
		return nil
	})
	if err != nil || !errors.Is(cycle, extfs.ErrCorrupt) || !strings.Contains(cycle.Error(), "a/b/up") || len(seen) != 5 {
		t.Errorf("walk: %v, paths %v, cycle error %v", err, seen, cycle)
	}
}

// TestMapped: through a memory map the filesystem reads the same, Views
// gives the same data mapped (no copy) as read, and a map whose file
// shrinks under it gives ErrFault, not a crash.
func TestMapped(t *testing.T) {
	t.Parallel()
	_, specs := featureImages(t)
	s := specs[4] // ext4-4k
	f, err := os.Open(images.paths[s.Name])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := extfs.Map(f, s.Offset, s.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mapped, err := extfs.Open(m, 0, s.Size, extfs.Options{Name: s.Name})
	if err != nil {
		t.Fatal(err)
	}
	plain := openImage(t, s)
	if d := cmp.Diff(extManifest(t, plain), extManifest(t, mapped)); d != "" {
		t.Fatalf("mapped differs (-read +mapped):\n%s", d)
	}
	views := func(x *extfs.FS, name string) string {
		fl, err := x.OpenFile(name)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		end := int64(-1)
		if err := extfs.Guard(func() {
			err = fl.Views(func(off int64, b []byte) error {
				if off != end { // a hole before: mark where data starts again
					fmt.Fprintf(h, "@%d:", off)
				}
				h.Write(b)
				end = off + int64(len(b))
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", h.Sum(nil))
	}
	for _, name := range []string{"three-mib", "sparse", "huge-sparse", "tiny", "many/entry-00007-xxxxxxx"} {
		if a, b := views(plain, name), views(mapped, name); a != b {
			t.Errorf("%s: Views differ read/mapped", name)
		}
	}

	// A file that shrinks under its map.
	p := filepath.Join(t.TempDir(), "shrinks")
	if err := os.WriteFile(p, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	sm, err := extfs.Map(g, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.ReadAt(make([]byte, 4096), 8192); !errors.Is(err, extfs.ErrFault) {
		t.Errorf("read of a shrunk map: %v, want ErrFault", err)
	}
}

// TestDirectoryHole: a directory block inside i_size that is a hole (the
// kernel: "Directory hole found", EFSCORRUPTED) makes the directory
// corrupt, so a name in it is unknown, never absent.
func TestDirectoryHole(t *testing.T) {
	testutil.NeedTools(t, "mke2fs", "debugfs")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "etc/xensource-inventory"), []byte("PRODUCT_VERSION='5.5.0'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := os.WriteFile(filepath.Join(tree, "etc", fmt.Sprintf("file-with-a-long-name-%03d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		spec fixtures.ExtSpec
		req  string
	}{
		// The acceptance test's case: the only block of a block-mapped
		// directory zeroed in the inode.
		{fixtures.ExtSpec{Name: "hole3", Type: "ext3", BlockSize: 1024, Size: 4 * fixtures.MiB}, "sif /etc block[0] 0"},
		// A block in the middle of an extent-mapped directory punched out.
		{fixtures.ExtSpec{Name: "hole4", Type: "ext4", BlockSize: 1024, Size: 4 * fixtures.MiB}, "punch /etc 1 1"},
	} {
		img, err := fixtures.BuildExt(dir, tree, c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("debugfs", "-w", "-R", c.req, img).CombinedOutput(); err != nil {
			t.Fatalf("debugfs %s: %v: %s", c.req, err, out)
		}
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		x, err := extfs.Open(f, 0, c.spec.Size, extfs.Options{Name: c.spec.Name})
		if err != nil {
			t.Fatal(err)
		}
		_, err = x.ReadFile("etc/xensource-inventory")
		if errors.Is(err, fs.ErrNotExist) || !errors.Is(err, extfs.ErrCorrupt) || !strings.Contains(fmt.Sprint(err), "is a hole") {
			t.Errorf("%s after %q: ReadFile = %v; want a corrupt directory", c.spec.Name, c.req, err)
		}
		if _, err := x.ReadDir("etc"); !errors.Is(err, extfs.ErrCorrupt) {
			t.Errorf("%s after %q: ReadDir = %v; want a corrupt directory", c.spec.Name, c.req, err)
		}
		f.Close()
	}
}

// TestClearedInode: a directory entry to an inode debugfs clri cleared (the
// acceptance test's case on the inventory) is a corrupt filesystem, which
// is invalid input (exit 2) like a bad superblock, with the byte offset;
// the name is unknown, never absent.
func TestClearedInode(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "mke2fs", "debugfs")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "etc/xensource-inventory"), []byte("PRODUCT_VERSION='6.2.0'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := fixtures.ExtSpec{Name: "clri", Type: "ext3", BlockSize: 1024, Size: 4 * fixtures.MiB}
	img, err := fixtures.BuildExt(dir, tree, s)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("debugfs", "-w", "-R", "clri /etc/xensource-inventory", img).CombinedOutput(); err != nil {
		t.Fatalf("debugfs clri: %v: %s", err, out)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := extfs.Open(f, 0, s.Size, extfs.Options{Name: "clri"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = x.ReadFile("etc/xensource-inventory")
	if errors.Is(err, fs.ErrNotExist) || !errors.Is(err, extfs.ErrCorrupt) || xerr.Code(err) != xerr.ExitInvalid ||
		!strings.Contains(fmt.Sprint(err), "inode is not in use") || !strings.Contains(fmt.Sprint(err), "(byte ") {
		t.Errorf("ReadFile = %v (exit %d); want a corrupt filesystem naming the byte, exit 2", err, xerr.Code(err))
	}
}

// TestErrorKinds: every kind of damage an image can have is invalid input
// (exit 2) by its sentinel alone, so no error path can forget the mark;
// the disk going away under a read stays a failure (exit 1).
func TestErrorKinds(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{extfs.ErrCorrupt, xerr.ExitInvalid},
		{extfs.ErrUnsupported, xerr.ExitInvalid},
		{extfs.ErrLimit, xerr.ExitInvalid},
		{extfs.ErrJournal, xerr.ExitInvalid},
		{extfs.ErrTooManyLinks, xerr.ExitInvalid},
		{&extfs.Error{FS: "d partition 1", Ino: 20, Off: 1221376, Msg: "inode is not in use", Err: extfs.ErrCorrupt}, xerr.ExitInvalid},
		{extfs.ErrFault, xerr.ExitFailed},
		{&extfs.Error{FS: "d partition 1", Off: 4096, Msg: "read 1024 bytes", Err: syscall.EIO}, xerr.ExitFailed},
	} {
		if got := xerr.Code(c.err); got != c.want {
			t.Errorf("%v: exit %d, want %d", c.err, got, c.want)
		}
	}
}
