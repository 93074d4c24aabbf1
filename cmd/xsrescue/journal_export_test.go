package main

import (
	"path/filepath"
	"testing"

	"github.com/xsrescue/xsrescue/internal/testutil"
)

// TestJournalExportDiskTarget: journal export --disk names its target as
// every --disk command does (the disk as an absolute path, the partition,
// the journal's path inside it), dry run or not; never the private copy
// the journal is read from, which is gone when the command returns.
func TestJournalExportDiskTarget(t *testing.T) {
	testutil.NeedRoot(t, "loop devices and mount")
	img := cliImage(t)
	dir := filepath.Dir(img)
	t.Chdir(dir)
	rel := filepath.Base(img)
	if code, out, errOut := runCLI("version", "set", "--disk", rel, "--for-installer", "5.0", "--yes"); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, extra := range [][]string{{"--dry-run"}, {}} {
		args := append([]string{"journal", "export", "1", "-o", filepath.Join(dir, "op1.tar.gz"), "--disk", rel, "--json"}, extra...)
		code, out, errOut := runCLI(args...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s\n%s", args, code, out, errOut)
		}
		tg := parseMutation(t, out, nil).Target
		if tg.Root != nil || deref(tg.Disk) != img || deref0(tg.Partition) != 1 || deref(tg.Path) != "/var/lib/xsrescue/journal.db" {
			t.Errorf("%q: target %s, want disk %s partition 1 path /var/lib/xsrescue/journal.db", args, tg.key(), img)
		}
	}
}
