package odm

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestLinktext runs the scripts' linktext with ksh on real symlinks: a
// name or target with blanks (or "->") is read whole, as ls -ld shows it
// after "PATH -> " (acceptance round 21: purge.ksh stopped on an unchanged
// /dev because it split ls -ld's line on blanks).
func TestLinktext(t *testing.T) {
	t.Parallel()
	ksh, err := exec.LookPath("ksh")
	if err != nil {
		t.Skip("ksh not installed (scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	for name, target := range map[string]string{
		"lvold":       "plain",
		"my link":     "lvold",
		"two  blanks": "a target with blanks",
		"arrow -> in": "x -> y",
		"it's":        "/dev/it's lv",
		"trailing ":   " lead",
	} {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		script := "die() { print -u2 -r -- \"$*\"; exit 1; }\n" + scriptFuncs + "\nlinktext \"$1\"\n"
		out, err := exec.Command(ksh, "-c", script, "linktext", p).CombinedOutput()
		if got := string(out); err != nil || got != target+"\n" {
			t.Errorf("linktext %q: %q (%v), want %q", name, got, err, target)
		}
	}
}
