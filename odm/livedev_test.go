package odm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// mountAt mounts src (fstype "" binds it) on a new directory dir/dev,
// read-only; the cleanup unmounts it before the temporary directory is
// removed.
func mountAt(t *testing.T, dir, src, fstype string) {
	t.Helper()
	dst := filepath.Join(dir, "dev")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	unmount, err := fixtures.MountReadOnly(src, dst, fstype)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmount() })
}

func checkDir(t *testing.T, dir string) error {
	t.Helper()
	root, err := target.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	return CheckNotLiveDev(root, "dev")
}

// TestCheckNotLiveDev: the running system's /dev is refused whatever its
// path (real bind mounts, a second devtmpfs mount, devpts); another
// filesystem, tmpfs included, is not.
func TestCheckNotLiveDev(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "needs root to mount")
	for _, tc := range []struct {
		name, src, fstype, want string
	}{
		{"bind mount of /dev", "/dev", "", "the same directory as /dev"},
		{"bind mount of a directory of /dev", "/dev/net", "", "on the filesystem mounted on /dev"},
		{"a second devtmpfs mount", "none", "devtmpfs", "/dev"},
		{"bind mount of /dev/pts", "/dev/pts", "", "a devpts"},
		{"a tmpfs", "none", "tmpfs", ""},
		{"a plain directory", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			switch {
			case tc.src == "":
				if err := os.Mkdir(filepath.Join(dir, "dev"), 0o755); err != nil {
					t.Fatal(err)
				}
			default:
				mountAt(t, dir, tc.src, tc.fstype)
			}
			err := checkDir(t, dir)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "rescue system's own /dev") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want exit 3 %q", err, tc.want)
			}
		})
	}
}

// TestLiveDevPlainDirectory: where the live dev directory is a plain
// directory of the root filesystem (no devtmpfs), only that directory is
// refused — a bind mount of it — not every directory on the same
// filesystem.
func TestLiveDevPlainDirectory(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "needs root to mount")
	base := t.TempDir()
	live := filepath.Join(base, "dev")
	other := filepath.Join(base, "aix")
	for _, d := range []string{live, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bound := t.TempDir()
	mountAt(t, bound, live, "")
	for _, tc := range []struct {
		dir  string
		want string
	}{
		{filepath.Join(bound, "dev"), "the same directory as " + live},
		{other, ""},
	} {
		fi, err := os.Stat(tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		why, err := liveDev(fi, live, strings.NewReader(""))
		if err != nil || !strings.Contains(why, tc.want) || (tc.want == "") != (why == "") {
			t.Errorf("%s: %q %v, want %q", tc.dir, why, err, tc.want)
		}
	}
}

// TestScanDevDirLiveRoot: a purge's --dev whose root is the running
// system's own root (here /tmp, whose parent is /, also through a symlink
// to it) is refused by device and inode, whatever the path says.
func TestScanDevDirLiveRoot(t *testing.T) {
	link := filepath.Join(t.TempDir(), "slash")
	if err := os.Symlink("/", link); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/tmp"); err != nil {
		t.Skip("no /tmp")
	}
	for _, dev := range []string{"/tmp", filepath.Join(link, "tmp")} {
		_, _, err := ScanDevDir(dev, true)
		if xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "is the running system's own root") {
			t.Errorf("ScanDevDir(%s): %v", dev, err)
		}
	}
}
