package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMutationTargetAbsolute: every mutating command names target.disk
// (and a target.path that is a file) absolute when it was typed relative
// to the current directory, as version set always did.
func TestMutationTargetAbsolute(t *testing.T) {
	img := cliImage(t)
	dir := filepath.Dir(img)
	t.Chdir(dir)
	rel := filepath.Base(img)
	for _, args := range [][]string{
		{"version", "set", "--disk", rel, "--for-installer", "5.0"},
		{"disk", "save-partition", rel, "--role", "backup", "-o", filepath.Join(dir, "b.img")},
		{"answerfile", "upgrade", "--disk", rel, "--source", "http://x/", "-o", filepath.Join(dir, "a.xml")},
		{"answerfile", "restore", "--disk", rel, "--for-installer", "6.2", "-o", filepath.Join(dir, "r.xml")},
		{"journal", "recover", "--journal", "j.db"}, // nothing interrupted: the journal is the target
	} {
		if args[0] == "journal" {
			if code, _, errOut := runCLI("version", "set", "--disk", rel, "--for-installer", "5.0", "--journal", "j.db", "--yes"); code != 0 && code != 4 {
				t.Fatalf("version set: exit %d %s", code, errOut)
			}
		}
		code, out, errOut := runCLI(append(args, "--dry-run", "--json")...)
		if code != 0 && code != 4 {
			t.Errorf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
			continue
		}
		tg := parseMutation(t, out, nil).Target
		if tg.Disk != nil && *tg.Disk != img {
			t.Errorf("%s: target.disk %q, want %q", strings.Join(args, " "), *tg.Disk, img)
		}
		if tg.Disk == nil && (tg.Path == nil || !filepath.IsAbs(*tg.Path)) {
			t.Errorf("%s: target %s, want an absolute disk or path", strings.Join(args, " "), tg.key())
		}
	}
}
