package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/partimage"
)

// scribble overwrites len bytes of the backup partition (partition 2 of a
// Mini disk) with a pattern.
func scribble(t *testing.T, img string, off int64) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("xsrescue", 300000)), off); err != nil {
		t.Fatal(err)
	}
}

func TestDiskImageSaveRestore(t *testing.T) {
	t.Parallel()
	for _, compress := range []bool{false, true} {
		img := cliImage(t)
		dir := t.TempDir()
		snap := filepath.Join(dir, "backup.img")
		jpath := filepath.Join(dir, "journal.db")
		start := testutil.FileSHA256(t, img)

		argv := []string{"disk", "save-partition", img, "--role", "backup", "--to", snap, "--journal", jpath, "--json"}
		if compress {
			argv = append(argv, "--compress")
		}
		code, out, errOut := runCLI(argv...)
		if code != 0 {
			t.Fatalf("save: exit %d\n%s\n%s", code, out, errOut)
		}
		if testutil.FileSHA256(t, img) != start {
			t.Fatal("save-partition wrote to the disk")
		}
		var doc struct {
			Partition   int    `json:"partition"`
			Size        int64  `json:"size"`
			SHA256      string `json:"sha256"`
			Compression string `json:"compression"`
			Verified    bool   `json:"verified"`
			Sidecar     string `json:"sidecar"`
		}
		m := parseMutation(t, out, &doc)
		wantComp := map[bool]string{false: "none", true: "zstd"}[compress]
		if doc.Partition != 2 || doc.Size != 64*fixtures.MiB || !doc.Verified || doc.Compression != wantComp || doc.Sidecar != snap+".json" || m.Op == nil || m.Op.ID != 1 {
			t.Errorf("save document %+v\n%s", doc, out)
		}
		if !m.Changed || len(m.Changes) != 1 || m.Changes[0].Path != snap || *m.Target.Disk != img || *m.Target.Partition != 2 ||
			!slices.Equal(m.Op.Undo, []string{"rm", "--", snap, snap + ".json"}) || m.Op.Journal.Path != jpath {
			t.Errorf("mutation document:\n%s", out)
		}
		// The sha256 is the partition's, as sha256sum would say.
		whole, _ := os.ReadFile(img)
		if got := sha256Hex(whole[fixtures.MiB+64*fixtures.MiB : fixtures.MiB+128*fixtures.MiB]); got != doc.SHA256 {
			t.Errorf("sidecar sha256 %s, partition bytes hash to %s", doc.SHA256, got)
		}
		j, err := journal.OpenReadOnly(jpath)
		if err != nil {
			t.Fatal(err)
		}
		op, err := j.Op(t.Context(), 1)
		j.Close()
		if err != nil || len(op.Changes) != 1 || op.Changes[0].External == nil || op.Changes[0].External.Type != "partition-image" || op.Changes[0].External.SHA256 != doc.SHA256 {
			t.Fatalf("journal record: %+v %v", op, err)
		}

		// journal show names the disk and partition; nothing was mounted
		// (the op's root is the journal's directory).
		if code, out, _ := runCLI("journal", "show", "1", "--journal", jpath); code != 0 || strings.Contains(out, "mounted at") || !strings.Contains(out, "disk "+img+" partition 2") {
			t.Errorf("journal show of a save: exit %d\n%s", code, out)
		}
		// Undo has nothing to put back for an image saved outside any root:
		// refused before the partition is even mounted (a read-write mount
		// would write its superblock), and the op stays applied.
		if code, _, errOut := runCLI("journal", "undo", "1", "--journal", jpath, "--yes"); code != 3 || !strings.Contains(errOut, "made no change that undo can put back") || !strings.Contains(errOut, "rm -- "+snap+" "+snap+".json") {
			t.Errorf("undo of save-partition: exit %d %s", code, errOut)
		}
		// Named by its disk instead of its journal: the partition is looked
		// at read-only, and neither undo (no journal there) nor recover
		// (nothing to do) mounts it read-write.
		if code, _, errOut := runCLI("journal", "undo", "1", "--disk", img, "--partition", "2", "--yes"); code != 1 || !strings.Contains(errOut, "no journal at") {
			t.Errorf("undo --disk: exit %d %s", code, errOut)
		}
		if code, out, errOut := runCLI("journal", "recover", "--disk", img, "--partition", "2", "--yes"); code != 0 || !strings.Contains(out, "Nothing to recover") {
			t.Errorf("recover --disk: exit %d %s %s", code, out, errOut)
		}
		if testutil.FileSHA256(t, img) != start {
			t.Fatal("undo or recover of save-partition wrote to the disk")
		}

		scribble(t, img, fixtures.MiB+64*fixtures.MiB+4096)
		damaged := testutil.FileSHA256(t, img)
		restore := []string{"disk", "restore-partition", img, "--partition", "2", "--from", snap, "--journal", jpath}
		if code, out, _ := runCLI(append(restore, "--dry-run", "--json")...); code != 0 || !strings.Contains(out, `"changed_blocks": 3`) || !strings.Contains(out, `"written": false`) {
			t.Errorf("dry run: exit %d\n%s", code, out)
		}
		if code, _, _ := runCLI(restore...); code != 3 {
			t.Errorf("restore without --yes and no terminal: exit %d, want 3", code)
		}
		if testutil.FileSHA256(t, img) != damaged {
			t.Fatal("dry run or refused restore wrote to the disk")
		}
		if code, out, errOut := runCLI(append(restore, "--yes")...); code != 0 || !strings.Contains(out, "written and verified") {
			t.Fatalf("restore: exit %d\n%s\n%s", code, out, errOut)
		}
		if testutil.FileSHA256(t, img) != start {
			t.Fatal("restored disk differs from the start")
		}
		if code, out, _ := runCLI(append(restore, "--yes")...); code != 0 || !strings.Contains(out, "nothing to do") {
			t.Errorf("second restore: exit %d\n%s", code, out)
		}
		// The blocks the restore overwrote were kept next to the journal, and
		// the journal's roll-back command puts the partition back.
		kept, _ := filepath.Glob(filepath.Join(dir, "*-p2-before-restore-*.img"))
		if len(kept) != 1 {
			t.Fatalf("undo files %v, want one", kept)
		}
		j, err = journal.OpenReadOnly(jpath)
		if err != nil {
			t.Fatal(err)
		}
		op, err = j.Op(t.Context(), 2)
		j.Close()
		if err != nil || len(op.Changes) != 1 || op.Changes[0].External == nil || !strings.HasSuffix(op.Changes[0].External.Rollback, "--from "+kept[0]) {
			t.Fatalf("restore's journal record: %+v %v", op, err)
		}
		// journal undo refuses and names that command; nothing moves.
		if code, _, errOut := runCLI("journal", "undo", "2", "--journal", jpath, "--yes"); code != 3 || !strings.Contains(errOut, "--from "+kept[0]) || testutil.FileSHA256(t, img) != start {
			t.Errorf("journal undo of restore-partition: exit %d %s", code, errOut)
		}
		if code, _, errOut := runCLI("disk", "restore-partition", img, "--partition", "2", "--from", kept[0], "--journal", jpath, "--yes"); code != 0 {
			t.Fatalf("undo: exit %d %s", code, errOut)
		}
		if testutil.FileSHA256(t, img) != damaged {
			t.Fatal("undoing the restore did not give back the partition it overwrote")
		}
		// Re-saving to the same file is "already as requested" only while the
		// partition still holds the saved bytes.
		save := []string{"disk", "save-partition", img, "--partition", "2", "--to", snap, "--journal", jpath}
		if code, _, errOut := runCLI(save...); code != 3 || !strings.Contains(errOut, snap+" exists and holds other content") {
			t.Errorf("re-save over other content: exit %d %s", code, errOut)
		}
		if code, _, _ := runCLI("disk", "restore-partition", img, "--partition", "2", "--from", snap, "--journal", jpath, "--yes"); code != 0 {
			t.Fatal("restore again failed")
		}
		if code, out, errOut := runCLI(save...); code != 0 || !strings.Contains(out, "already as requested") {
			t.Errorf("re-save of the same partition: exit %d\n%s%s", code, out, errOut)
		}
	}
}

// TestDiskImageOtherPartition restores the backup partition's image onto the
// root partition of the same size: refused unless --force, and then undoable.
func TestDiskImageOtherPartition(t *testing.T) {
	t.Parallel()
	img, _, snap, jpath := savedBackup(t)
	start := testutil.FileSHA256(t, img)
	restore := []string{"disk", "restore-partition", img, "--partition", "1", "--from", snap, "--journal", jpath}
	for _, extra := range [][]string{{"--yes"}, {"--dry-run"}} {
		code, _, errOut := runCLI(append(restore, extra...)...)
		if code != 3 || !strings.Contains(errOut, "saved from another partition (partition 2, not 1") || !strings.Contains(errOut, "--force") {
			t.Errorf("%v: exit %d %s", extra, code, errOut)
		}
	}
	if testutil.FileSHA256(t, img) != start {
		t.Fatal("a refused restore wrote to the disk")
	}
	code, out, errOut := runCLI(append(restore, "--force", "--yes", "--json")...)
	var doc struct {
		Written   bool   `json:"written"`
		KeptImage string `json:"kept_image"`
	}
	parseMutation(t, out, &doc)
	if code != 0 || !doc.Written || doc.KeptImage == "" {
		t.Fatalf("--force: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI("disk", "restore-partition", img, "--partition", "1", "--from", doc.KeptImage, "--journal", jpath, "--yes"); code != 0 {
		t.Fatalf("undo: exit %d %s", code, errOut)
	}
	if testutil.FileSHA256(t, img) != start {
		t.Fatal("the undo file did not give the root partition back")
	}
}

func sha256Hex(b []byte) string {
	dir, _ := os.MkdirTemp("", "sum")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "b")
	os.WriteFile(p, b, 0o600)
	s, _ := fixtures.FileSHA256(p)
	return s
}

// savedBackup builds a Mini disk and saves its backup partition (2) to
// DIR/backup.img, journalled in DIR/journal.db.
func savedBackup(t *testing.T) (img, dir, snap, jpath string) {
	t.Helper()
	img, dir = cliImage(t), t.TempDir()
	snap, jpath = filepath.Join(dir, "backup.img"), filepath.Join(dir, "journal.db")
	if code, _, errOut := runCLI("disk", "save-partition", img, "--role", "backup", "--to", snap, "--journal", jpath); code != 0 {
		t.Fatalf("save: %d %s", code, errOut)
	}
	return img, dir, snap, jpath
}

func TestDiskImageRefusals(t *testing.T) {
	t.Parallel()
	img, dir, snap, _ := savedBackup(t)
	start := testutil.FileSHA256(t, img)
	for _, tc := range []struct {
		name string
		argv []string
		code int
	}{
		{"same --to again", []string{"disk", "save-partition", img, "--partition", "2", "--to", snap}, 0},
		{"existing --to of another partition", []string{"disk", "save-partition", img, "--partition", "1", "--to", snap}, 3},
		{"both selectors", []string{"disk", "save-partition", img, "--partition", "2", "--role", "backup", "--to", snap + "2"}, 2},
		{"unknown role", []string{"disk", "save-partition", img, "--role", "logs", "--to", snap + "3"}, 2},
		{"no partition 9", []string{"disk", "restore-partition", img, "--partition", "9", "--from", snap, "--yes"}, 2},
		{"size differs", []string{"disk", "restore-partition", img, "--partition", "3", "--from", snap, "--yes"}, 3},
		{"no sidecar", []string{"disk", "restore-partition", img, "--partition", "2", "--from", img, "--yes"}, 2},
	} {
		if code, _, errOut := runCLI(tc.argv...); code != tc.code {
			t.Errorf("%s: exit %d, want %d (%s)", tc.name, code, tc.code, errOut)
		}
	}
	if testutil.FileSHA256(t, img) != start {
		t.Fatal("a refused command wrote to the disk")
	}
	// A truncated snapshot (its sidecar intact) is refused before a byte is written.
	b, _ := os.ReadFile(snap)
	trunc := filepath.Join(dir, "trunc.img")
	os.WriteFile(trunc, b[:len(b)/3], 0o600)
	sc, _ := os.ReadFile(partimage.SidecarPath(snap))
	os.WriteFile(partimage.SidecarPath(trunc), sc, 0o644)
	scribble(t, img, fixtures.MiB+64*fixtures.MiB+4096)
	damaged := testutil.FileSHA256(t, img)
	code, _, errOut := runCLI("disk", "restore-partition", img, "--partition", "2", "--from", trunc, "--yes")
	if code != 3 || !strings.Contains(errOut, "truncated") {
		t.Errorf("truncated snapshot: exit %d, %s", code, errOut)
	}
	if testutil.FileSHA256(t, img) != damaged {
		t.Fatal("a refused restore wrote to the disk")
	}
}

// TestDiskImageMounted mounts the backup partition through a loop device
// and expects both commands to refuse.
func TestDiskImageMounted(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "mounting a partition of an image")
	img := cliImage(t)
	dir := t.TempDir()
	off := strconv.FormatInt(fixtures.MiB+64*fixtures.MiB, 10)
	out, err := exec.Command("losetup", "--find", "--show", "--read-only", "--offset", off, "--sizelimit", strconv.FormatInt(64*fixtures.MiB, 10), img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	loop := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", loop).Run()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-o", "ro,noload", loop, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	snap := filepath.Join(dir, "b.img")
	code, _, errOut := runCLI("disk", "save-partition", img, "--role", "backup", "--to", snap, "--journal", filepath.Join(dir, "j.db"))
	if code != 3 || !strings.Contains(errOut, mnt) {
		t.Errorf("save of a mounted partition: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(snap); err == nil {
		t.Error("a refused save left an image")
	}
	if code, _, errOut := runCLI("disk", "save-partition", img, "--role", "root", "--to", snap, "--journal", filepath.Join(dir, "j.db")); code != 0 {
		t.Errorf("the root is not mounted and may be saved: exit %d %s", code, errOut)
	}
}

// TestDiskImageDryRun: --dry-run, before or after the arguments, writes
// nothing: no image, no sidecar, no journal, no undo file, not the disk.
func TestDiskImageDryRun(t *testing.T) {
	t.Parallel()
	img := cliImage(t)
	dir := t.TempDir()
	snap := filepath.Join(dir, "backup.img")
	start := testutil.FileSHA256(t, img)
	save := []string{"disk", "save-partition", img, "--partition", "2", "--to", snap}
	for _, argv := range [][]string{
		append([]string{"--dry-run"}, save...),
		append(append([]string{}, save...), "--dry-run"),
		append(append([]string{"-n"}, save...), "--json"),
	} {
		code, out, errOut := runCLI(argv...)
		if code != 0 || !strings.Contains(out, "would save partition 2") && !strings.Contains(out, `"dry_run": true`) {
			t.Errorf("%v: exit %d\n%s\n%s", argv, code, out, errOut)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("%v wrote %v", argv, ents)
		}
	}
	// A real save, then a dry-run restore in both positions after damage.
	if code, out, errOut := runCLI(append(save, "--journal", filepath.Join(dir, "j.db"))...); code != 0 {
		t.Fatalf("save: exit %d\n%s\n%s", code, out, errOut)
	}
	scribble(t, img, fixtures.MiB+64*fixtures.MiB+4096)
	damaged := testutil.FileSHA256(t, img)
	before, _ := os.ReadDir(dir)
	jsum := testutil.FileSHA256(t, filepath.Join(dir, "j.db"))
	restore := []string{"disk", "restore-partition", img, "--partition", "2", "--from", snap, "--journal", filepath.Join(dir, "j.db")}
	for _, argv := range [][]string{append([]string{"--dry-run"}, restore...), append(append([]string{}, restore...), "-n")} {
		code, out, errOut := runCLI(argv...)
		if code != 0 || !strings.Contains(out, "dry run: nothing written") {
			t.Errorf("%v: exit %d\n%s\n%s", argv, code, out, errOut)
		}
		if after, _ := os.ReadDir(dir); len(after) != len(before) || testutil.FileSHA256(t, img) != damaged || testutil.FileSHA256(t, filepath.Join(dir, "j.db")) != jsum {
			t.Fatalf("%v wrote something: %v", argv, after)
		}
	}
	if start == damaged {
		t.Fatal("scribble changed nothing")
	}
}

// twoDisks is cliImage and a second disk image in its directory, whose
// partition-image ops share the journal beside them.
func twoDisks(t *testing.T) (img, other, dir string) {
	t.Helper()
	img = cliImage(t)
	dir = filepath.Dir(img)
	other, err := fixtures.BuildDisk(dir, fixtures.Mini("cli-other", "dos", fixtures.RootSpec{Release: "5.5"}, &fixtures.RootSpec{Release: "5.0"}))
	if err != nil {
		t.Fatal(err)
	}
	return img, other, dir
}

// TestJournalListImageJournal: journal list --disk IMG lists the ops disk
// save-partition and restore-partition recorded in xsrescue-journal.db
// beside IMG (acceptance acc21a #14: "xsrescue has not changed this
// target" right after a restore) — only this disk's, and with --partition
// only that partition's — and writes nothing; without such a journal it
// says where those ops are kept.
func TestJournalListImageJournal(t *testing.T) {
	t.Parallel()
	img, other, dir := twoDisks(t)
	type listDoc struct {
		Ops          []journal.OpInfo `json:"ops"`
		ImageJournal *struct {
			Path string           `json:"path"`
			Ops  []journal.OpInfo `json:"ops"`
		} `json:"image_journal"`
	}
	list := func(args ...string) (listDoc, string) {
		t.Helper()
		code, out, errOut := runCLI(append([]string{"journal", "list", "--json"}, args...)...)
		var d listDoc
		if code != 0 || json.Unmarshal([]byte(out), &d) != nil {
			t.Fatalf("journal list %v --json: exit %d\n%s%s", args, code, out, errOut)
		}
		_, text, _ := runCLI(append([]string{"journal", "list"}, args...)...)
		return d, text
	}
	if d, text := list("--disk", img); len(d.Ops) != 0 || d.ImageJournal != nil ||
		!strings.Contains(text, "record their ops in xsrescue-journal.db beside the image file") {
		t.Fatalf("before any op: %+v\n%s", d, text)
	}

	snap := filepath.Join(dir, "p2.img")
	if code, out, errOut := runCLI("disk", "save-partition", img, "--partition", "2", "-o", snap); code != 0 {
		t.Fatalf("save: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI("disk", "save-partition", other, "--partition", "2", "-o", filepath.Join(dir, "other-p2.img")); code != 0 {
		t.Fatalf("save of the other disk: exit %d\n%s%s", code, out, errOut)
	}
	scribble(t, img, fixtures.MiB+64*fixtures.MiB+4096)
	if code, out, errOut := runCLI("disk", "restore-partition", img, "--partition", "2", "--from", snap, "--yes"); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}
	jpath := filepath.Join(dir, "xsrescue-journal.db")
	before := testutil.FileSHA256(t, img) + testutil.FileSHA256(t, jpath)

	d, text := list("--disk", img)
	if len(d.Ops) != 0 || d.ImageJournal == nil || d.ImageJournal.Path != jpath || len(d.ImageJournal.Ops) != 2 ||
		d.ImageJournal.Ops[0].Command != "disk save-partition" || d.ImageJournal.Ops[1].Command != "disk restore-partition" ||
		*d.ImageJournal.Ops[1].Disk != img {
		t.Fatalf("after save and restore: %+v", d)
	}
	for _, want := range []string{"No journal: xsrescue has not changed the files of this target", "Partition images of " + img,
		"disk restore-partition --yes --partition=2", "journal " + jpath, "journal show OP --journal " + jpath} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "cli-other") {
		t.Errorf("the other disk's op is listed:\n%s", text)
	}
	if d, _ := list("--disk", img, "--partition", "2"); d.ImageJournal == nil || len(d.ImageJournal.Ops) != 2 {
		t.Errorf("--partition 2: %+v", d.ImageJournal)
	}
	if d, _ := list("--disk", img, "--partition", "1"); d.ImageJournal != nil {
		t.Errorf("--partition 1 lists the ops on partition 2: %+v", d.ImageJournal)
	}
	if d, _ := list("--journal", jpath); len(d.Ops) != 3 || d.ImageJournal != nil {
		t.Errorf("--journal: %+v", d)
	}
	if testutil.FileSHA256(t, img)+testutil.FileSHA256(t, jpath) != before {
		t.Fatal("journal list wrote to the disk or the journal")
	}
}

// TestPartitionImageAsDisk: an image save-partition wrote (a filesystem
// from byte 0, no table) given as --disk is refused with exit 2 saying
// what it is (acceptance acc21a: "no XenServer root partition found",
// "no partition 1 (partitions: )"); wrapped as partition 1 of a disk image
// as docs/disk.md shows (dd, sfdisk), it is read.
func TestPartitionImageAsDisk(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "sfdisk", "dd", "truncate")
	img := cliImage(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "p.img")
	if code, out, errOut := runCLI("disk", "save-partition", img, "--partition", "1", "-o", p); code != 0 {
		t.Fatalf("save: exit %d\n%s%s", code, out, errOut)
	}
	before := testutil.FileSHA256(t, p)
	for _, argv := range [][]string{
		{"version", "show", "--disk", p},
		{"version", "show", "--disk", p, "--partition", "1"},
		{"version", "set", "--disk", p, "--for-installer", "5.0", "--yes", "--journal", filepath.Join(dir, "j.db")},
		{"statedb", "show", "--disk", p},
	} {
		code, _, errOut := runCLI(argv...)
		if code != 2 || !strings.Contains(errOut, "no partition table: the whole disk holds ext3 (label \"root-") ||
			!strings.Contains(errOut, "a partition image") || !strings.Contains(errOut, "wrap a copy as partition 1") {
			t.Errorf("%v: exit %d %s", argv, code, errOut)
		}
	}
	if testutil.FileSHA256(t, p) != before {
		t.Fatal("a refused command wrote to the image")
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := filepath.Join(dir, "wrapped.img")
	script := fmt.Sprintf(`truncate -s %d %[2]s && dd if=%[3]s of=%[2]s bs=1M seek=1 conv=sparse,notrunc status=none && echo 'start=2048, type=83' | sfdisk -q --wipe-partitions never %[2]s`,
		fixtures.MiB+fi.Size(), wrapped, p)
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("wrap: %v\n%s", err, out)
	}
	doc := versionShowJSON(t, "--disk", wrapped, "--partition", "1")
	if doc.Inventory["PRODUCT_VERSION"] != "5.5.0" {
		t.Errorf("the wrapped image: %+v", doc.Inventory)
	}
}

// TestJournalOpImageJournal: journal show, export and undo OP --disk IMG
// find an op of the journal of partition images beside IMG, the journal
// list --disk shows it from (acceptance acc22 N11: "no journal at
// /var/lib/xsrescue/journal.db"); another disk's op there is not taken;
// an op number the target's own journal holds keeps meaning that op, with
// a note naming the other.
func TestJournalOpImageJournal(t *testing.T) {
	t.Parallel()
	img, other, dir := twoDisks(t)
	snap := filepath.Join(dir, "p2.img")
	for _, argv := range [][]string{
		{"disk", "save-partition", img, "--partition", "2", "-o", snap},                                 // op 1
		{"disk", "save-partition", other, "--partition", "2", "-o", filepath.Join(dir, "other-p2.img")}, // op 2
		{"disk", "restore-partition", img, "--partition", "2", "--from", snap, "--yes"},                 // op 3
	} {
		if argv[1] == "restore-partition" {
			scribble(t, img, fixtures.MiB+64*fixtures.MiB+4096) // or nothing is to restore
		}
		if code, out, errOut := runCLI(argv...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", argv, code, out, errOut)
		}
	}
	jpath := filepath.Join(dir, "xsrescue-journal.db")
	before := testutil.FileSHA256(t, img) + testutil.FileSHA256(t, jpath)

	code, out, errOut := runCLI("journal", "show", "3", "--disk", img, "--json")
	var shown struct {
		Op journal.OpDetail `json:"op"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil || shown.Op.ID != 3 || shown.Op.Command != "disk restore-partition" {
		t.Fatalf("show 3 --disk: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI("journal", "show", "1", "--disk", img); code != 0 || !strings.Contains(out, "disk save-partition") || !strings.Contains(out, "journal "+jpath) {
		t.Errorf("show 1 --disk: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI("journal", "show", "2", "--disk", img); code == 0 || strings.Contains(out, "cli-other") {
		t.Errorf("show 2 --disk IMG shows the other disk's op: exit %d\n%s%s", code, out, errOut)
	}
	arch := filepath.Join(t.TempDir(), "op3.tar.gz")
	if code, out, errOut := runCLI("journal", "export", "3", arch, "--disk", img); code != 0 {
		t.Errorf("export 3 --disk: exit %d\n%s%s", code, out, errOut)
	} else if _, err := os.Stat(arch); err != nil {
		t.Error(err)
	}
	// A partition restore is put back by restoring the saved image, never
	// by undo: refused (exit 3) with the command, as with --journal.
	if code, out, errOut := runCLI("journal", "undo", "3", "--disk", img, "--yes"); code != 3 || !strings.Contains(errOut, "disk restore-partition "+img+" --partition 2 --from") {
		t.Errorf("undo 3 --disk: exit %d\n%s%s", code, out, errOut)
	}
	if testutil.FileSHA256(t, img)+testutil.FileSHA256(t, jpath) != before {
		t.Fatal("show, export or undo wrote to the disk or the journal")
	}

	// Op 1 of the target's own journal is that op; op 3 is still found.
	if code, out, errOut := runCLI("version", "set", "--disk", img, "--for-installer", "5.0", "--yes"); code != 0 {
		t.Fatalf("version set: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI("journal", "show", "1", "--disk", img)
	if code != 0 || !strings.Contains(out, "version set") || !strings.Contains(errOut, "journal show 1 --journal "+jpath) {
		t.Errorf("show 1 with both journals: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI("journal", "show", "3", "--disk", img); code != 0 || !strings.Contains(out, "disk restore-partition") {
		t.Errorf("show 3 with both journals: exit %d\n%s%s", code, out, errOut)
	}
}
