package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// TestNothingWrittenBeforeConfirmation is issue 13's first promise, on real
// ext3 images: a refusal (no terminal, no --yes), "n" at the prompt (a real
// pty), --dry-run and "already as requested" leave the whole image
// byte-identical — not even a read-write mount happens (it alone changes
// the superblock's mount count and times). Only the confirmed run changes
// the image. For version set --disk, statedb patch --disk, guest fix --disk
// and journal undo --disk.
func TestNothingWrittenBeforeConfirmation(t *testing.T) {
	needRootMount(t)
	xsImage := func(t *testing.T) string {
		root := fixtures.RootSpec{Release: "5.5", Populate: func(dir string) error {
			return fixtures.WriteStateDBFile(filepath.Join(dir, "var/xapi/state.db"), fixtures.StateDBSpec{Release: "5.5", VMs: 2, Seed: "plan-first"}, false)
		}}
		img, err := fixtures.BuildDisk(t.TempDir(), fixtures.Mini("plan-first", "dos", root, &fixtures.RootSpec{Release: "5.0"}))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	guestImage := func(t *testing.T) string {
		img, err := fixtures.BuildGuestDisk(t.TempDir(), fixtures.CentOS45Guest())
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	for _, tc := range []struct {
		name    string
		image   func(*testing.T) string
		args    []string // IMG stands for the image
		already string   // what the second confirmed run says
	}{
		{"version set", xsImage, []string{"version", "set", "--disk", "IMG", "--for-installer", "5.0"}, "already as requested"},
		{"statedb patch", xsImage, []string{"statedb", "patch", "--disk", "IMG", "--to-release", "5.0", "--drop-data"}, "already as requested"},
		{"guest fix", guestImage, []string{"guest", "fix", "--disk", "IMG", "--partition", "1", "--host-kernel", fixtures.GuestKernel45}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.image(t)
			lockDir := t.TempDir()
			argv := func(extra ...string) []string {
				out := []string{}
				for _, a := range tc.args {
					out = append(out, strings.ReplaceAll(a, "IMG", img))
				}
				return append(out, extra...)
			}
			nothingWritten(t, img, lockDir, argv)
			code, out, errOut := xs(t, nil, lockDir, argv("--yes")...)
			if code != 0 {
				t.Fatalf("--yes: exit %d\n%s\n%s", code, out, errOut)
			}
			applied := stateOnDisk(t, img)
			code, out, errOut = xs(t, nil, lockDir, argv("--yes")...)
			if code != 0 || !strings.Contains(out, tc.already) {
				t.Fatalf("second --yes: exit %d, want 0 and %q\n%s\n%s", code, tc.already, out, errOut)
			}
			if stateOnDisk(t, img) != applied {
				t.Errorf("the second run (nothing to change) wrote to the image")
			}
			if tc.name != "version set" {
				return
			}
			// journal undo --disk of that op: the same four, then the
			// undo, then an undo with nothing left to restore.
			undo := func(extra ...string) []string {
				return append([]string{"journal", "undo", "1", "--disk", img, "--partition", "1"}, extra...)
			}
			nothingWritten(t, img, lockDir, undo)
			if code, out, errOut := xs(t, nil, lockDir, undo("--yes")...); code != 0 || stateOnDisk(t, img) == applied {
				t.Fatalf("undo --yes: exit %d (or the image did not change)\n%s\n%s", code, out, errOut)
			}
			undone := stateOnDisk(t, img)
			for _, extra := range [][]string{{"--yes"}, {"--dry-run"}, {}} {
				code, out, errOut := xs(t, devNull(t), lockDir, undo(extra...)...)
				if code != 3 || !strings.Contains(errOut, "op 1 is undone") || stateOnDisk(t, img) != undone {
					t.Errorf("undo %v of an undone op: exit %d, want 3 and nothing written\n%s\n%s", extra, code, out, errOut)
				}
			}
		})
	}
}

// nothingWritten runs argv with --dry-run, without a terminal and --yes,
// and with "n" typed at a real terminal's prompt, and fails unless each
// leaves img byte-identical with the documented exit code.
func nothingWritten(t *testing.T, img, lockDir string, argv func(...string) []string) {
	t.Helper()
	before := stateOnDisk(t, img)
	check := func(what string, code, want int, out, errOut, says string) {
		t.Helper()
		if code != want || !strings.Contains(errOut, says) {
			t.Errorf("%s: exit %d, want %d and %q\n%s\n%s", what, code, want, says, out, errOut)
		}
		if stateOnDisk(t, img) != before {
			t.Fatalf("%s wrote to the image", what)
		}
	}
	code, out, errOut := xs(t, nil, lockDir, argv("--dry-run")...)
	check("--dry-run", code, 0, out, errOut, "dry run: nothing was changed")
	code, out, errOut = xs(t, devNull(t), lockDir, argv()...)
	check("no terminal, no --yes", code, 3, out, errOut, "stdin is not a terminal: add --yes")
	code, out, errOut = answerAtPrompt(t, lockDir, "n", argv()...)
	check(`"n" at the prompt`, code, 3, out, errOut, "not confirmed: nothing was changed")
}

// An undo whose every path is already as before the op (put back by hand,
// to the mtime) restores nothing and writes nothing, not even the journal:
// "already as requested".
func TestUndoNothingToRestore(t *testing.T) {
	t.Parallel()
	dir := journalTestRoot(t)
	inv := filepath.Join(dir, "etc/inventory")
	orig, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(inv)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI("zz-journal-test-write", "etc/inventory", "--content", "changed\n", "--root", dir, "--yes"); code != 0 {
		t.Fatalf("apply: exit %d %s", code, errOut)
	}
	testutil.Must(t, os.WriteFile(inv, orig, 0o640))
	testutil.Must(t, os.Chtimes(inv, fi.ModTime(), fi.ModTime()))
	before := stateOnDisk(t, dir)
	code, out, errOut := runCLI("journal", "undo", "1", "--root", dir, "--yes")
	if code != 0 || !strings.Contains(out, "Nothing to restore: every path op 1 changed is already as before it") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if stateOnDisk(t, dir) != before {
		t.Error("an undo with nothing to restore wrote something")
	}
	if code, out, _ := runCLI("journal", "show", "1", "--root", dir, "--json"); code != 0 || !strings.Contains(out, `"status": "applied"`) {
		t.Errorf("the op should stay applied: %s", out)
	}
}
