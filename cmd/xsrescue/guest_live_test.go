package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// TestGuestFixRefusesLiveRoot: guest fix never edits the running system's
// own root, whatever path names it — /, a symlink to /, a bind mount of /
// — and refuses before it locks, plans or opens a journal (exit 3, no
// plan printed). guest check may look at it, and says so.
func TestGuestFixRefusesLiveRoot(t *testing.T) {
	link := filepath.Join(t.TempDir(), "slash")
	testutil.Must(t, os.Symlink("/", link))
	roots := map[string]string{"/": "/", "symlink to /": link, "/tmp/..": filepath.Join(os.TempDir(), "..")}
	if os.Geteuid() == 0 {
		bind := t.TempDir()
		testutil.Must(t, unix.Mount("/", bind, "", unix.MS_BIND, ""))
		t.Cleanup(func() { _ = unix.Unmount(bind, unix.MNT_DETACH) })
		roots["bind mount of /"] = bind
	}
	for name, root := range roots {
		t.Run(name, func(t *testing.T) {
			// --dry-run first: the loop stops at the first failure, so a
			// build without the refusal never reaches --yes.
			for _, extra := range [][]string{{"--dry-run"}, {"--only", "dbus-user", "--dry-run"}, {"--yes"}} {
				code, out, stderr := runCLI(append([]string{"guest", "fix", "--root", root}, extra...)...)
				if code != 3 || !strings.Contains(stderr, "is the running system's own root (device ") || !strings.Contains(stderr, "nothing was changed") {
					t.Fatalf("guest fix --root %s %v: exit %d, want 3\nstdout:\n%s\nstderr:\n%s", root, extra, code, out, stderr)
				}
				if strings.Contains(out, "etc/passwd") || strings.Contains(stderr, "etc/passwd") {
					t.Fatalf("guest fix --root %s planned something:\n%s%s", root, out, stderr)
				}
			}
		})
	}
	// A guest root is not the running system: no refusal, no note.
	root, _ := guestTree(t, fixtures.CentOS46Guest())
	if code, _, stderr := runCLI("guest", "fix", "--root", root, "--only", "tls", "--dry-run"); code != 0 {
		t.Fatalf("guest fix on a guest root: exit %d\n%s", code, stderr)
	}
	doc := guestCheck(t, "--root", root)
	for _, n := range doc.Notes {
		if strings.Contains(n, "running system") {
			t.Fatalf("note on an offline root: %s", n)
		}
	}
}

// TestGuestCheckLiveRootNote: guest check on / runs (read-only) and says
// that it looks at the running system.
func TestGuestCheckLiveRootNote(t *testing.T) {
	_, out, stderr := runCLI("guest", "check", "--root", "/")
	if !strings.Contains(out, "is the running system (device ") {
		t.Fatalf("guest check --root / says nothing about the running system:\n%s%s", out, stderr)
	}
}
