package target

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/internal/testutil"
)

// escapeRoot builds a root full of hostile links next to a sentinel file
// outside it. The sentinel's content is what an escape would read.
func escapeRoot(t testing.TB) (*Root, string) {
	t.Helper()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	testutil.Must(t, os.MkdirAll(filepath.Join(outside, "etc"), 0o755))
	sentinel := filepath.Join(outside, "secret")
	testutil.Must(t, os.WriteFile(sentinel, []byte("OUTSIDE"), 0o600))
	testutil.Must(t, os.WriteFile(filepath.Join(outside, "etc", "shadow"), []byte("OUTSIDE"), 0o600))
	dir := filepath.Join(base, "root")
	for _, d := range []string{"etc", "var/lib/xcp", "usr/lib", "a/b"} {
		testutil.Must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	files := map[string]string{
		"etc/centos-release": "CentOS release 7.5\n",
		"etc/shadow":         "inside shadow\n",
		"var/lib/xcp/state":  "xcp\n",
		"usr/lib/libc":       "libc\n",
		"a/b/c":              "abc\n",
		"secret":             "inside secret\n",
	}
	for p, c := range files {
		testutil.Must(t, os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644))
	}
	links := map[string]string{
		"etc/redhat-release": "centos-release",
		"var/xapi":           "/var/lib/xcp",
		"abs-shadow":         "/etc/shadow",
		"dotdot":             "../../../../../secret",
		"outside-abs":        sentinel,
		"outside-dir":        outside,
		"lib":                "usr/lib",
		"loop1":              "loop2",
		"loop2":              "loop1",
		"self":               "self",
		"a/up":               "../..",
		"a/b/deep":           "../../../../../../etc/shadow",
		"dangling":           "/nonexistent/file",
	}
	for p, l := range links {
		testutil.Must(t, os.Symlink(l, filepath.Join(dir, p)))
	}
	r, err := OpenRoot(dir)
	testutil.Must(t, err)
	t.Cleanup(func() { r.Close() })
	return r, sentinel
}

func kind(r *Root) string {
	if r.Image() != nil {
		return "image"
	}
	return "dir"
}

// escapeRoots is escapeRoot as a directory and, when mke2fs is there, the
// same tree as an ext3 image read in-process: both must resolve alike.
func escapeRoots(t testing.TB) []*Root {
	t.Helper()
	r, _ := escapeRoot(t)
	roots := []*Root{r}
	if _, err := exec.LookPath("mke2fs"); err != nil {
		t.Logf("mke2fs not installed: the image root is not tested")
		return roots
	}
	img := filepath.Join(t.TempDir(), "root.img")
	const off, size = 1 << 20, 16 << 20
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext3", "-E", fmt.Sprintf("offset=%d", off), "-d", r.Dir(), img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v: %s", err, out)
	}
	ir, err := OpenImage(img, off, size, "root.img partition 1")
	testutil.Must(t, err)
	t.Cleanup(func() { ir.Close() })
	return append(roots, ir)
}

func TestResolve(t *testing.T) {
	for _, r := range escapeRoots(t) {
		t.Run(kind(r), func(t *testing.T) { testResolve(t, r) })
	}
}

func testResolve(t *testing.T, r *Root) {
	// The sentinel's path, as a link in the tree names it.
	sentinel, _ := r.Readlink("outside-abs")
	tests := []struct {
		name, want, wantParent string
	}{
		{"etc/redhat-release", "etc/centos-release", "etc/redhat-release"},
		{"/etc/redhat-release", "etc/centos-release", "etc/redhat-release"},
		{"var/xapi/state", "var/lib/xcp/state", "var/lib/xcp/state"},
		{"var/xapi", "var/lib/xcp", "var/xapi"},
		{"abs-shadow", "etc/shadow", "abs-shadow"},
		{"dotdot", "secret", "dotdot"},
		{"../../../secret", "secret", "secret"},
		{"outside-abs", sentinel[1:], "outside-abs"},
		{"lib/libc", "usr/lib/libc", "usr/lib/libc"},
		{"a/up/etc/shadow", "etc/shadow", "etc/shadow"},
		{"a/b/deep", "etc/shadow", "a/b/deep"},
		{"dangling", "nonexistent/file", "dangling"},
		{"new/dir/../file", "new/file", "new/file"},
		{"", ".", "."},
		{"/", ".", "."},
		{"etc/./centos-release", "etc/centos-release", "etc/centos-release"},
	}
	for _, tc := range tests {
		got, err := r.Resolve(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
		got, err = r.ResolveParent(tc.name)
		if err != nil || got != tc.wantParent {
			t.Errorf("ResolveParent(%q) = %q, %v; want %q", tc.name, got, err, tc.wantParent)
		}
	}
	for _, loop := range []string{"loop1", "self", "loop2/x"} {
		if _, err := r.Resolve(loop); !errors.Is(err, ErrTooManyLinks) {
			t.Errorf("Resolve(%q) = %v, want ErrTooManyLinks", loop, err)
		}
	}
	if _, err := r.Resolve("etc/shadow/x"); err == nil {
		t.Error("Resolve through a regular file: no error")
	}
}

// TestEscape reads every hostile path through every read method: none may
// return the sentinel's content or stat a file outside the root.
func TestEscape(t *testing.T) {
	for _, r := range escapeRoots(t) {
		t.Run(kind(r), func(t *testing.T) { testEscape(t, r) })
	}
}

func testEscape(t *testing.T, r *Root) {
	sentinel, _ := r.Readlink("outside-abs")
	before, _ := os.Stat(sentinel)
	paths := []string{"abs-shadow", "dotdot", "../secret", "../../outside/secret", "outside-abs",
		"outside-dir/secret", "outside-dir/etc/shadow", "a/up/../../secret", "a/b/deep", "/../../secret"}
	for _, p := range paths {
		if b, err := r.ReadFile(p); err == nil && string(b) == "OUTSIDE" {
			t.Errorf("ReadFile(%q) escaped the root", p)
		}
		if f, err := r.Open(p); err == nil {
			b := make([]byte, 16)
			n, _ := f.Read(b)
			f.Close()
			if string(b[:n]) == "OUTSIDE" {
				t.Errorf("Open(%q) escaped the root", p)
			}
		}
		if fi, err := r.Stat(p); err == nil && os.SameFile(fi, before) {
			t.Errorf("Stat(%q) reached the sentinel", p)
		}
		if b, err := fs.ReadFile(r.FS(), filepath.Clean("x/../"+p)); err == nil && string(b) == "OUTSIDE" {
			t.Errorf("FS ReadFile(%q) escaped the root", p)
		}
	}
	// Followed absolute links that must work on real roots.
	for p, want := range map[string]string{"etc/redhat-release": "CentOS release 7.5\n", "var/xapi/state": "xcp\n", "abs-shadow": "inside shadow\n", "dotdot": "inside secret\n"} {
		b, err := r.ReadFile(p)
		if err != nil || string(b) != want {
			t.Errorf("ReadFile(%q) = %q, %v; want %q", p, b, err, want)
		}
	}
	if l, err := r.Readlink("var/xapi"); err != nil || l != "/var/lib/xcp" {
		t.Errorf("Readlink = %q, %v", l, err)
	}
	if fi, err := r.Lstat("var/xapi"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(var/xapi) = %v, %v; want a symlink", fi, err)
	}
	if fi, err := r.Stat("var/xapi"); err != nil || !fi.IsDir() {
		t.Errorf("Stat(var/xapi) = %v, %v; want a directory", fi, err)
	}
	// The os.Root behind Resolve is the second guard.
	if r.os != nil {
		if _, err := r.os.Open("outside-abs"); err == nil {
			t.Error("os.Root followed a link out of the root")
		}
	}
	after, _ := os.Stat(sentinel)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("sentinel modified")
	}
}

func TestReadDirAndWalk(t *testing.T) {
	for _, r := range escapeRoots(t) {
		t.Run(kind(r), func(t *testing.T) { testReadDirAndWalk(t, r) })
	}
}

func testReadDirAndWalk(t *testing.T, r *Root) {
	ents, err := r.ReadDir("var/xapi")
	if err != nil || len(ents) != 1 || ents[0].Name() != "state" {
		t.Fatalf("ReadDir(var/xapi) = %v, %v", ents, err)
	}
	var seen []string
	testutil.Must(t, r.WalkDir("var/xapi", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		seen = append(seen, p)
		return nil
	}))
	if !slices.Equal(seen, []string{"var/xapi", "var/xapi/state"}) {
		t.Errorf("WalkDir(var/xapi) = %v", seen)
	}
	seen = nil
	testutil.Must(t, r.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		seen = append(seen, p)
		return nil
	}))
	// The walk lists links but never descends into them (outside-dir has no children listed).
	if !slices.Contains(seen, "outside-dir") || slices.Contains(seen, "outside-dir/secret") || !slices.Contains(seen, "a/b/c") {
		t.Errorf("WalkDir(.) = %v", seen)
	}
}

func TestOpenRootErrors(t *testing.T) {
	if _, err := OpenRoot(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("OpenRoot(missing): no error")
	}
	f := filepath.Join(t.TempDir(), "file")
	testutil.Must(t, os.WriteFile(f, nil, 0o644))
	if _, err := OpenRoot(f); err == nil {
		t.Error("OpenRoot(file): no error")
	}
}

// FuzzResolve: whatever the name, the resolved path stays inside the root
// and nothing read through it is the sentinel outside.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"etc/redhat-release", "../../secret", "/outside-dir/secret", "a/up/a/up/../..", "loop1", "a/b/deep/x", "dotdot/..", "\x00", "a//b/./../..///c", strings.Repeat("../", 100) + "secret", "var/xapi/../../../../outside-abs"} {
		f.Add(s)
	}
	roots := escapeRoots(f)
	f.Fuzz(func(t *testing.T, name string) {
		var got []string
		for _, r := range roots {
			for _, follow := range []bool{true, false} {
				p, err := r.resolve(name, follow)
				got = append(got, fmt.Sprint(p, err != nil))
				if err != nil {
					continue
				}
				if p != "." && (strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") || path.Clean(p) != p) {
					t.Fatalf("%s: resolve(%q, %v) = %q: not a clean path inside the root", r.Name(), name, follow, p)
				}
			}
			if b, err := r.ReadFile(name); err == nil && string(b) == "OUTSIDE" {
				t.Fatalf("%s: ReadFile(%q) escaped the root", r.Name(), name)
			}
		}
		// A directory and its image resolve every name alike.
		if len(roots) == 2 && (got[0] != got[2] || got[1] != got[3]) {
			t.Fatalf("resolve(%q): directory %v, image %v", name, got[:2], got[2:])
		}
	})
}
