package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// The journal tests drive a tiny mutating command of their own through the
// real CLI: it writes --content into FILE through apply, as every domain
// command does.
type journalTestWriteOptions struct {
	targetOptions
	Content, Append, ThenRoot string
	Majors                    []int64
}

func newJournalTestWriteCommand(e *env) *cli.Command {
	var o journalTestWriteOptions
	return &cli.Command{
		Name:      "zz-journal-test-write",
		Hidden:    true,
		Usage:     "test only: write --content into FILE (or append an --append line) through apply",
		ArgsUsage: "FILE",
		Description: "Added by the test binary only, to drive apply end to end.\n\n" +
			"WARNING: writes FILE.\n\n" + exitHelp,
		Flags: append(o.targetOptions.flags(), &cli.StringFlag{Name: "content", Destination: &o.Content},
			&cli.StringFlag{Name: "append", Destination: &o.Append, Usage: "append this `LINE` to what FILE holds (a read-modify-write)"},
			&cli.Int64SliceFlag{Name: "major", Destination: &o.Majors, Usage: "ignored; recorded with the op"},
			&cli.StringFlag{Name: "then-root", Destination: &o.ThenRoot, Usage: "then write FILE in this root too, as a second op"}),
		Action: action(1, 1, func(ctx context.Context, a []string) error { return runJournalTestWrite(ctx, e, o, a[0]) }),
	}
}

func runJournalTestWrite(ctx context.Context, e *env, o journalTestWriteOptions, file string) error {
	tgt, err := e.openForChange(ctx, o.target())
	if err != nil {
		return err
	}
	defer tgt.Close()
	p := &plan.Plan{Command: "test write"}
	old, err := tgt.Root.ReadFile(file)
	content := []byte(o.Content)
	if o.Append != "" {
		if err != nil {
			return err
		}
		content = append(old, o.Append+"\n"...)
	}
	if err != nil || string(old) != string(content) {
		p.Changes = append(p.Changes, plan.Change{Kind: plan.Write, Path: file, Content: content, Why: "test"})
	}
	e.setTarget(targetOf(tgt))
	if _, err = e.apply(ctx, tgt, p); err != nil {
		return err
	}
	if o.ThenRoot != "" {
		t2, err := e.openForChange(ctx, target.Options{Root: o.ThenRoot})
		if err != nil {
			return err
		}
		defer t2.Close()
		if _, err := e.apply(ctx, t2, p); err != nil {
			return err
		}
	}
	return e.emitMutation(nil, struct{}{}, nil)
}

// treeSum hashes the names, modes and file contents and mtimes of a tree.
func treeSum(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		io.WriteString(h, p+" "+fi.Mode().String()+"\n")
		if fi.Mode().IsRegular() {
			io.WriteString(h, fi.ModTime().String()) // directories' move with every entry
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func journalTestRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/inventory"), []byte("PRODUCT_VERSION='8.2.1'\nBUILD='x'\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestJournalCLIFlow(t *testing.T) {
	t.Parallel()
	dir := journalTestRoot(t)
	newContent := "PRODUCT_VERSION='8.2.0'\nBUILD='x'\n"
	orig := treeSum(t, dir)

	// --dry-run: a diff, and nothing touched, not even the journal.
	code, out, errOut := runCLI("zz-journal-test-write", "etc/inventory", "--content", newContent, "--root", dir, "--dry-run")
	if code != 0 || !strings.Contains(out, "-PRODUCT_VERSION='8.2.1'") || !strings.Contains(out, "+PRODUCT_VERSION='8.2.0'") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	if treeSum(t, dir) != orig {
		t.Fatal("dry run changed the root")
	}

	// No TTY and no --yes: refused, nothing touched.
	if code, _, errOut := runCLI("zz-journal-test-write", "etc/inventory", "--content", newContent, "--root", dir); code != 3 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("no --yes: exit %d: %s", code, errOut)
	}
	if treeSum(t, dir) != orig {
		t.Fatal("refused mutation changed the root")
	}

	code, out, errOut = runCLI("zz-journal-test-write", "etc/inventory", "--content", newContent, "--root", dir, "--yes")
	jpath := filepath.Join(dir, "var/lib/xsrescue/journal.db")
	if code != 0 || !strings.Contains(out, ") applied; journal ") || !strings.Contains(out, jpath) || !strings.Contains(out, "xsrescue journal undo 1 --root "+dir) {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/inventory")); string(b) != newContent {
		t.Fatalf("content %q", b)
	}
	// Already as requested: exit 0, no new op.
	if code, out, _ := runCLI("zz-journal-test-write", "etc/inventory", "--content", newContent, "--root", dir, "--yes"); code != 0 || !strings.Contains(out, "already as requested") {
		t.Fatalf("empty plan: exit %d %s", code, out)
	}

	code, out, _ = runCLI("journal", "list", "--root", dir, "--json")
	var list struct {
		Ops []struct {
			ID      int64    `json:"id"`
			UUID    string   `json:"uuid"`
			Status  string   `json:"status"`
			Argv    []string `json:"argv"`
			Target  string   `json:"target"`
			Started string   `json:"started"`
			Changes int      `json:"changes"`
		} `json:"ops"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list.Ops) != 1 {
		t.Fatalf("list: exit %d %v\n%s", code, err, out)
	}
	if op := list.Ops[0]; op.ID != 1 || op.Status != "applied" || op.Target != dir || op.Changes != 1 || op.Argv[0] != "xsrescue" || !strings.Contains(strings.Join(op.Argv, " "), "--yes") {
		t.Errorf("list op %+v", op)
	}

	code, out, _ = runCLI("journal", "show", "1", "--journal", jpath, "--json")
	var show struct {
		Op struct {
			Changes []struct {
				Path         string `json:"path"`
				BeforeSHA256 string `json:"before_sha256"`
				AfterSHA256  string `json:"after_sha256"`
			} `json:"changes"`
		} `json:"op"`
	}
	if err := json.Unmarshal([]byte(out), &show); code != 0 || err != nil || len(show.Op.Changes) != 1 {
		t.Fatalf("show: exit %d %v\n%s", code, err, out)
	}
	sum := sha256.Sum256([]byte(newContent))
	if c := show.Op.Changes[0]; c.Path != "etc/inventory" || c.AfterSHA256 != hex.EncodeToString(sum[:]) || c.BeforeSHA256 == "" {
		t.Errorf("show change %+v", c)
	}

	export := filepath.Join(t.TempDir(), "op1.tar.gz")
	if code, _, errOut := runCLI("journal", "export", "1", export, "--root", dir); code != 0 {
		t.Fatalf("export: exit %d %s", code, errOut)
	}
	if fi, err := os.Stat(export); err != nil || fi.Size() == 0 {
		t.Fatalf("export file: %v", err)
	}
	// --output is the same as FILE; both naming two archives is a usage error.
	export2 := filepath.Join(t.TempDir(), "op1.tar.gz")
	if code, _, errOut := runCLI("journal", "export", "1", "--root", dir, "-o", export2); code != 0 {
		t.Fatalf("export -o: exit %d %s", code, errOut)
	}
	if a, b := testutil.FileSHA256(t, export), testutil.FileSHA256(t, export2); a != b {
		t.Errorf("export -o wrote another archive (%s, FILE gave %s)", b, a)
	}
	if code, _, errOut := runCLI("journal", "export", "1", export+".x", "--root", dir, "--output", export2+".y"); code != 2 || !strings.Contains(errOut, "name two archives") {
		t.Errorf("FILE and --output: exit %d %s", code, errOut)
	}

	// Another target is refused.
	other := journalTestRoot(t)
	if code, out, errOut := runCLI("journal", "undo", "1", "--root", other, "--journal", jpath, "--yes"); code != 3 || !strings.Contains(errOut, "another target") || strings.Contains(out, "revert:") {
		t.Errorf("undo on another target: exit %d\n%s\n%s", code, out, errOut)
	}
	// Undo with the recorded target (only --journal given).
	if code, out, errOut := runCLI("journal", "undo", "1", "--journal", jpath, "--yes"); code != 0 || !strings.Contains(out, "undone") {
		t.Fatalf("undo: exit %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/inventory")); string(b) != "PRODUCT_VERSION='8.2.1'\nBUILD='x'\n" {
		t.Fatalf("after undo %q", b)
	}
	// Refusals come before the list of what undo would revert.
	if code, out, errOut := runCLI("journal", "undo", "1", "--root", dir, "--yes"); code != 3 || strings.Contains(out, "revert:") || !strings.Contains(errOut, "is undone") {
		t.Errorf("second undo: exit %d, want 3 and no revert list\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := runCLI("journal", "recover", "--root", dir, "--yes"); code != 0 || !strings.Contains(out, "Nothing to recover") {
		t.Errorf("recover: exit %d %s", code, out)
	}
}

func TestJournalCLIErrors(t *testing.T) {
	t.Parallel()
	dir := journalTestRoot(t)
	for _, tc := range []struct {
		argv []string
		code int
	}{
		{[]string{"journal", "show", "x", "--root", dir}, 2},
		{[]string{"journal", "show", "1"}, 2},
		{[]string{"journal", "undo", "1"}, 2},
		{[]string{"journal", "show", "1", "--root", dir}, 1},
		{[]string{"journal", "list", "--root", filepath.Join(dir, "missing")}, 2},
		{[]string{"zz-journal-test-write", "etc/missing", "--content", "x", "--root", dir, "--yes"}, 1},
	} {
		if code, _, errOut := runCLI(tc.argv...); code != tc.code {
			t.Errorf("%v: exit %d, want %d: %s", tc.argv, code, tc.code, errOut)
		}
	}
	code, out, _ := runCLI("journal", "list", "--root", dir, "--json")
	if code != 0 || strings.TrimSpace(out) != "{\n  \"schema_version\": 1,\n  \"ops\": [],\n  \"image_journal\": null\n}" {
		t.Errorf("list without a journal: exit %d %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "var")); !os.IsNotExist(err) {
		t.Error("list created the journal directory")
	}
}

// A hostile root whose var is an absolute symlink out of it still gets its
// journal inside the root.
func TestJournalDefaultPathStaysInRoot(t *testing.T) {
	t.Parallel()
	dir := journalTestRoot(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "var")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("zz-journal-test-write", "etc/inventory", "--content", "x\n", "--root", dir, "--yes")
	if code != 0 {
		t.Fatalf("exit %d %s %s", code, out, errOut)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("journal written outside the root: %v", ents)
	}
	if !strings.Contains(out, filepath.Join(dir, outside[1:], "lib/xsrescue/journal.db")) {
		t.Errorf("journal path not re-rooted: %s", out)
	}
}

// The whole flow on a disk image that xsrescue mounts itself: apply, list,
// undo, each through its own --disk open. Messages name the disk and the
// partition, never the private mount point; the disk is given relative, and
// the undo command is still complete and absolute. The root filesystem's
// journal is dirty: the dry run already says that applying replays it.
func TestJournalCLIDisk(t *testing.T) {
	testutil.NeedRoot(t, "loop devices and mount")
	testutil.NeedTools(t, "mkfs.ext3", "debugfs")
	dir := t.TempDir()
	img, err := fixtures.BuildDisk(dir, fixtures.Mini("journal-cli", "dos", fixtures.RootSpec{Release: "7.1"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	markDirty(t, img, 1)
	t.Chdir(dir)
	rel := filepath.Base(img)
	name := img + " partition 1"

	code, out, errOut := runCLI("zz-journal-test-write", "etc/xensource-inventory", "--content", "PRODUCT_VERSION='7.0.0'\n", "--disk", rel, "--dry-run")
	if code != 0 || !strings.Contains(errOut, "planned on "+name) || !strings.Contains(errOut, "dirty filesystem journal") || !strings.Contains(errOut, "replays it") || strings.Contains(out+errOut, "xsrescue-mnt") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI("zz-journal-test-write", "etc/xensource-inventory", "--content", "PRODUCT_VERSION='7.0.0'\n", "--disk", rel, "--yes", "--json")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	doc := parseMutation(t, out, nil)
	if want := []string{"xsrescue", "journal", "undo", "1", "--disk", img, "--partition", "1"}; !slices.Equal(doc.Op.Undo, want) {
		t.Errorf("undo %q, want %q", doc.Op.Undo, want)
	}
	// The journal is named inside the partition, never by the private
	// mount point that is gone now.
	if j := doc.Op.Journal; j.Disk != img || j.Partition != 1 || j.Path != "/var/lib/xsrescue/journal.db" {
		t.Errorf("op journal %+v", j)
	}
	if *doc.Target.Disk != img || *doc.Target.Partition != 1 || doc.Target.Root != nil || len(doc.Changes) != 1 || doc.Changes[0].Diff == nil {
		t.Errorf("target %+v, changes %+v", doc.Target, doc.Changes)
	}
	code, out, _ = runCLI("journal", "list", "--disk", rel, "--json")
	var list struct {
		Ops []struct {
			Target    string `json:"target"`
			Disk      string `json:"disk"`
			Partition int    `json:"partition"`
		} `json:"ops"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list.Ops) != 1 || list.Ops[0].Disk != img || list.Ops[0].Partition != 1 || len(list.Ops[0].Target) != 36 {
		t.Fatalf("list: exit %d %v %s", code, err, out)
	}
	code, out, _ = runCLI("journal", "list", "--disk", rel)
	if code != 0 || !strings.Contains(out, "journal /var/lib/xsrescue/journal.db on "+name) || strings.Contains(out, "xsrescue-mnt") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	// A missing op names the journal inside the partition, never the
	// private copy it is read from (acceptance acc21a).
	for _, argv := range [][]string{{"journal", "show", "99", "--disk", rel}, {"journal", "undo", "99", "--disk", rel, "--yes"}} {
		code, _, errOut := runCLI(argv...)
		if code != 2 || !strings.Contains(errOut, "journal /var/lib/xsrescue/journal.db on "+name+": op 99: no such op") || strings.Contains(errOut, "xsrescue-copy") {
			t.Errorf("%v: exit %d %s", argv, code, errOut)
		}
	}
	// -1 ends urfave/cli's flags (it is no flag): the OP is what is wrong,
	// not the number of arguments.
	for _, op := range []string{"-1", "abc", "0"} {
		code, _, errOut := runCLI("journal", "undo", op, "--disk", rel, "--yes")
		if code != 2 || !strings.Contains(errOut, fmt.Sprintf("OP must be an op number from 'xsrescue journal list' (1, 2, ...), got %q", op)) {
			t.Errorf("undo %s: exit %d %s", op, code, errOut)
		}
	}
	// undo --dry-run opens read-only: the dirty journal is not replayed, the
	// image does not change by a byte, and the note says applying would.
	markDirty(t, img, 1)
	sum := testutil.FileSHA256(t, img)
	code, out, errOut = runCLI(append(doc.Op.Undo[1:], "--dry-run")...)
	if code != 0 || !strings.Contains(out, "revert: write etc/xensource-inventory") || !strings.Contains(errOut, "replays it") || testutil.FileSHA256(t, img) != sum {
		t.Fatalf("undo --dry-run: exit %d\n%s\n%s", code, out, errOut)
	}
	// The undo command as printed, word for word.
	code, out, errOut = runCLI(append(doc.Op.Undo[1:], "--yes")...)
	if code != 0 || !strings.Contains(out, "Undo op 1 ") || !strings.Contains(out, " on "+name) || strings.Contains(out+errOut, "xsrescue-mnt") {
		t.Fatalf("undo: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI("journal", "show", "1", "--disk", img, "--json")
	if code != 0 || !strings.Contains(out, `"status": "undone"`) {
		t.Errorf("show after undo: exit %d %s", code, out)
	}
}

// markDirty sets needs_recovery on partition n of img, as a crash leaves an
// ext3 filesystem whose journal must be replayed.
func markDirty(t *testing.T, img string, n int) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	d, err := partition.Inspect(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf("%s?offset=%d", img, d.Partition(n).Start)
	if out, err := exec.Command("debugfs", "-w", "-R", "feature needs_recovery", spec).CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	if d, err = partition.Inspect(f, fi.Size()); err != nil || !d.Partition(n).NeedsRecovery {
		t.Fatalf("partition %d not dirty after debugfs: %v", n, err)
	}
}

// A command that applies two ops (guest fix, odm purge --out, zone
// restore-etc) and is refused on the second says that the first was
// applied, and how to undo it: never "nothing was changed" alone.
func TestSecondOpRefused(t *testing.T) {
	t.Parallel()
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := os.WriteFile(filepath.Join(d, "motd"), []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	jb := filepath.Join(b, "journal.db")
	if code, _, errOut := runCLI("zz-journal-test-write", "motd", "--content", "b\n", "--root", b, "--journal", jb, "--yes"); code != 0 {
		t.Fatalf("op on b: exit %d %s", code, errOut)
	}
	markInterrupted(t, jb, false)
	code, _, errOut := runCLI("zz-journal-test-write", "motd", "--content", "new\n", "--root", a, "--then-root", b, "--journal", jb, "--yes")
	if code != 3 || !strings.Contains(errOut, "run xsrescue journal recover first") || !strings.Contains(errOut, "but this command had already applied op(s) before: undo with xsrescue journal undo 2 --root "+a) {
		t.Fatalf("exit %d %s", code, errOut)
	}
}

// An op a crash left "applying" (here: killed after its last change, before
// the status was committed) is rolled back by `journal recover`, which
// finds the target the op recorded.
func TestJournalCLIRecover(t *testing.T) {
	t.Parallel()
	dir := journalTestRoot(t)
	orig := treeSum(t, dir)
	jpath := filepath.Join(t.TempDir(), "j.db")
	if code, _, errOut := runCLI("zz-journal-test-write", "etc/inventory", "--content", "new\n", "--root", dir, "--journal", jpath, "--yes"); code != 0 {
		t.Fatalf("apply: exit %d %s", code, errOut)
	}
	markInterrupted(t, jpath, false)
	if code, _, errOut := runCLI("journal", "undo", "1", "--journal", jpath, "--yes"); code != 3 || !strings.Contains(errOut, "op 1 is applying: op cannot be undone (it was interrupted: run xsrescue journal recover") {
		t.Errorf("undo of an interrupted op: exit %d %s", code, errOut)
	}
	if code, out, _ := runCLI("journal", "recover", "--journal", jpath, "--dry-run"); code != 0 || !strings.Contains(out, "interrupted while applying") || treeSum(t, dir) == orig {
		t.Fatalf("recover --dry-run: exit %d %s", code, out)
	}
	code, out, errOut := runCLI("journal", "recover", "--journal", jpath, "--yes", "--json")
	var doc struct {
		Recovered []plan.Result `json:"recovered"`
	}
	m := parseMutation(t, out, &doc)
	if code != 0 || len(doc.Recovered) != 1 || doc.Recovered[0].Status != "rolled-back" || len(m.Ops) != 1 || m.Op.Status != "rolled-back" || m.Op.Undo != nil || !m.Changed {
		t.Fatalf("recover: exit %d\n%s\n%s", code, out, errOut)
	}
	if treeSum(t, dir) != orig {
		t.Error("recover did not restore the before-state")
	}
}

// Without a terminal (stdin /dev/null, as under kickstart %pre) and without
// --yes, nothing is asked and nothing changes: the refusal says what to add.
func TestJournalCLINoTerminal(t *testing.T) {
	t.Parallel()
	dir := journalTestRoot(t)
	orig := treeSum(t, dir)
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var o, e bytes.Buffer
	code := run(context.Background(), []string{"xsrescue", "zz-journal-test-write", "etc/inventory", "--content", "x\n", "--root", dir}, null, &o, &e)
	if code != 3 || !strings.Contains(e.String(), "stdin is not a terminal: add --yes to apply (or --dry-run to preview)") || strings.Contains(e.String(), "[y/N]") {
		t.Fatalf("exit %d\n%s\n%s", code, o.String(), e.String())
	}
	if treeSum(t, dir) != orig {
		t.Fatal("refused mutation changed the root")
	}
}

// The recorded command line runs again as recorded: a list flag is one
// --name=value per value, not Go's "[44 50]"; the op's "undo" is complete.
func TestJournalCLIArgvAndUndoLine(t *testing.T) {
	t.Parallel()
	dir := journalTestRoot(t)
	code, out, errOut := runCLI("zz-journal-test-write", "etc/inventory", "--content", "x\n", "--major", "44,50", "--major", "7", "--root", dir, "--yes", "--json")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	doc := parseMutation(t, out, nil)
	if want := []string{"xsrescue", "journal", "undo", "1", "--root", dir}; !slices.Equal(doc.Op.Undo, want) || doc.Op.Journal.Path != filepath.Join(dir, "var/lib/xsrescue/journal.db") || doc.Op.Journal.Disk != "" {
		t.Errorf("undo %q, want %q; journal %+v", doc.Op.Undo, want, doc.Op.Journal)
	}
	code, out, _ = runCLI("journal", "list", "--root", dir, "--json")
	var list struct {
		Ops []struct {
			Argv []string `json:"argv"`
		} `json:"ops"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list.Ops) != 1 {
		t.Fatalf("list: exit %d %v\n%s", code, err, out)
	}
	argv := list.Ops[0].Argv
	for _, want := range []string{"--major=44", "--major=50", "--major=7", "--content=x\n", "--root=" + dir} {
		if !slices.Contains(argv, want) {
			t.Errorf("argv %q lacks %q", argv, want)
		}
	}
	// Run as recorded (with --json): the same request, so already as
	// requested, no op.
	var o, e bytes.Buffer
	if code := run(context.Background(), argv, strings.NewReader(""), &o, &e); code != 0 || !strings.Contains(o.String(), `"op": null`) {
		t.Errorf("recorded argv %q: exit %d\n%s\n%s", argv, code, o.String(), e.String())
	}
}

// Leftover staging files (named by the journal's pattern) that no op of
// this journal knows are listed by recover --dry-run, removed and reported
// by recover; other files stay.
func TestJournalCLIRecoverStaleTemps(t *testing.T) {
	t.Parallel()
	dir := journalTestRoot(t)
	// A journal with one finished op, which knows nothing of the staging file.
	if code, _, errOut := runCLI("zz-journal-test-write", "etc/inventory", "--content", "x\n", "--root", dir, "--yes"); code != 0 {
		t.Fatalf("apply: exit %d %s", code, errOut)
	}
	stale := "etc/.xsrescue-5f62b6fb-d2d4-49bf-a390-658cf95b355c-1.tmp"
	if err := os.WriteFile(filepath.Join(dir, stale), bytes.Repeat([]byte("x"), 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/.xsrescue-other.tmp"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := treeSum(t, dir)
	code, out, errOut := runCLI("journal", "recover", "--root", dir, "--dry-run")
	if code != 0 || !strings.Contains(out, "Staging file "+stale) || treeSum(t, dir) != before {
		t.Fatalf("recover --dry-run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI("journal", "recover", "--root", dir, "--yes", "--json")
	var doc struct {
		Recovered    []plan.Result `json:"recovered"`
		RemovedTemps []string      `json:"removed_temps"`
	}
	m := parseMutation(t, out, &doc)
	if code != 0 || len(m.Changes) != 1 || m.Changes[0].Path != stale || doc.Recovered == nil || len(doc.Recovered) != 0 || !slices.Equal(doc.RemovedTemps, []string{stale}) {
		t.Fatalf("recover: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, stale)); !os.IsNotExist(err) {
		t.Errorf("staging file still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/.xsrescue-other.tmp")); err != nil {
		t.Errorf("a file that is not a staging file was removed: %v", err)
	}
	if code, out, _ := runCLI("journal", "recover", "--root", dir, "--yes"); code != 0 || !strings.Contains(out, "Nothing to recover") {
		t.Errorf("second recover: exit %d %s", code, out)
	}
}
