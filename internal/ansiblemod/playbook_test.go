package ansiblemod

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/zfsroot"
)

// ansible runs the collection as Ansible does, with Debian's ansible-core
// on localhost (connection local): the collection built by
// scripts/build-collection.sh and installed from its tarball with
// ansible-galaxy, a copy of a fixture disk, each playbook of
// testdata/playbooks a separate ansible-playbook run.
// needPlaybookRuns skips the real ansible-playbook runs (a minute of
// Python on 2 cores) unless XSRESCUE_TEST_ANSIBLE=1 asks for them:
// scripts/test.sh (CI) sets it, a plain go test ./... stays fast.
func needPlaybookRuns(t *testing.T) {
	t.Helper()
	if os.Getenv("XSRESCUE_TEST_ANSIBLE") != "1" {
		t.Skip("the ansible-playbook runs are in scripts/test.sh (XSRESCUE_TEST_ANSIBLE=1)")
	}
}

type ansible struct {
	t    *testing.T
	dir  string
	env  []string
	vars map[string]any
}

func TestPlaybooks(t *testing.T) {
	needPlaybookRuns(t)
	testutil.NeedTools(t, "ansible-playbook", "ansible-galaxy", "mkfs.ext3")
	testutil.NeedRoot(t, "the apply mounts the fixture disk's root partition read-write")
	a := newAnsible(t)
	img, err := fixtures.BuildDisk(a.dir, fixtures.MiniRescue("ansible"))
	testutil.Must(t, err)
	a.vars["img"] = img
	a.vars["journal"] = filepath.Join(a.dir, "journal.db")
	a.vars["image"] = filepath.Join(a.dir, "root.img")
	start := testutil.FileSHA256(t, img)

	// Read-only facts, in check mode: the module still runs.
	out := a.play("facts.yml", "--check")
	var facts struct {
		Facts struct {
			Changed bool `json:"changed"`
			Rc      int  `json:"rc"`
		} `json:"facts"`
		Xsrescue struct {
			Disk   map[string]any `json:"disk"`
			Doctor struct {
				Plan []any `json:"plan"`
			} `json:"doctor"`
			Problems *bool `json:"problems"`
		} `json:"xsrescue"`
	}
	a.results(&facts)
	if facts.Facts.Changed || facts.Xsrescue.Disk == nil || len(facts.Xsrescue.Doctor.Plan) == 0 || facts.Xsrescue.Problems == nil {
		t.Fatalf("facts: want unchanged, ansible_facts.xsrescue with disk, doctor's plan and problems; got %+v\n%s", facts, out)
	}

	// --check --diff: the unified diff shown, reported changed, not a byte written.
	out = a.play("version.yml", "--check", "--diff")
	for _, want := range []string{"-PRODUCT_VERSION='5.5.0'", "+PRODUCT_VERSION='5.0.0'", "--- before: etc/xensource-inventory (from line 1)", "changed: [localhost]"} {
		if !strings.Contains(out, want) {
			t.Errorf("--check --diff output lacks %q:\n%s", want, out)
		}
	}
	var checked struct {
		Version taskResult `json:"version"`
	}
	a.results(&checked)
	if !checked.Version.Changed || checked.Version.Failed || len(checked.Version.Undo) != 0 {
		t.Errorf("--check: want changed, not failed, no undo; got %+v", checked.Version)
	}
	if got := testutil.FileSHA256(t, img); got != start {
		t.Fatal("--check wrote to the disk image")
	}
	if _, err := os.Stat(a.vars["journal"].(string)); err == nil {
		t.Fatal("--check created the journal")
	}

	// The root partition's image, for the byte-identical end; in check
	// mode first: would change, and no image is written.
	a.play("save.yml", "--check")
	var wouldSave struct {
		Save taskResult `json:"save"`
	}
	a.results(&wouldSave)
	if _, err := os.Stat(a.vars["image"].(string)); !wouldSave.Save.Changed || wouldSave.Save.Failed || err == nil {
		t.Fatalf("save-partition --check: want changed and no image; got %+v (image: %v)", wouldSave.Save, err)
	}
	a.play("save.yml")
	var saved struct {
		Save taskResult `json:"save"`
	}
	a.results(&saved)
	if !saved.Save.Changed || testutil.FileSHA256(t, img) != start {
		t.Fatalf("save-partition: want changed and the disk untouched; got %+v", saved.Save)
	}
	a.play("save.yml", "--check")
	a.results(&saved)
	if saved.Save.Changed || saved.Save.Failed {
		t.Errorf("save-partition --check of a saved partition: want ok; got %+v", saved.Save)
	}

	// Apply: changed, with the undo argv; again: ok.
	a.play("version.yml")
	var applied struct {
		Version taskResult `json:"version"`
	}
	a.results(&applied)
	v := applied.Version
	if !v.Changed || v.Failed || v.Rc != 0 || len(v.Undo) != 1 || len(v.Undo[0]) < 4 || v.Undo[0][1] != "journal" || v.Undo[0][2] != "undo" {
		t.Fatalf("apply: want changed with one undo command line; got %+v", v)
	}
	op := v.Undo[0][3]
	out = a.play("version.yml")
	var again struct {
		Version taskResult `json:"version"`
	}
	a.results(&again)
	if again.Version.Changed || again.Version.Failed || !strings.Contains(out, "ok: [localhost]") {
		t.Errorf("second apply: want ok (unchanged); got %+v\n%s", again.Version, out)
	}

	// A refusal fails the task with xsrescue's message and rc 3, and
	// changes nothing.
	before := testutil.FileSHA256(t, img)
	a.play("refused.yml")
	var refused struct {
		Refused taskResult `json:"refused"`
	}
	a.results(&refused)
	if r := refused.Refused; !r.Failed || r.Rc != 3 || r.Changed || !strings.Contains(r.Msg, "newer than the installed") {
		t.Errorf("refused: want failed, rc 3, the refusal message; got %+v", r)
	}
	if testutil.FileSHA256(t, img) != before {
		t.Error("the refused task wrote to the disk image")
	}

	// Check mode of the undo and the restore: both would change; nothing
	// is written.
	a.vars["op"] = op
	before = testutil.FileSHA256(t, img)
	a.play("undo.yml", "--check")
	var wouldUndo undoResults
	a.results(&wouldUndo)
	if !wouldUndo.Undo.Changed || wouldUndo.Undo.Failed || !wouldUndo.Restore.Changed || wouldUndo.Restore.Failed {
		t.Errorf("undo and restore --check: want both changed; got %+v", wouldUndo)
	}
	if testutil.FileSHA256(t, img) != before {
		t.Fatal("undo and restore --check wrote to the image")
	}

	// Undo, then the root partition's image back: byte-identical.
	a.play("undo.yml")
	var undone undoResults
	a.results(&undone)
	if !undone.Undo.Changed || undone.Undo.Failed || !undone.Restore.Changed || undone.Restore.Failed {
		t.Fatalf("undo and restore: want both changed; got %+v", undone)
	}
	if got := testutil.FileSHA256(t, img); got != start {
		t.Fatalf("after journal undo and the partition restore the image differs from the start")
	}

	// Again: both ok, nothing written.
	a.play("undo.yml")
	var again2 undoResults
	a.results(&again2)
	if again2.Undo.Changed || again2.Undo.Failed || again2.Restore.Changed || again2.Restore.Failed {
		t.Errorf("undo and restore again: want both ok, unchanged; got %+v", again2)
	}
	if got := testutil.FileSHA256(t, img); got != start {
		t.Error("the second undo and restore wrote to the image")
	}
}

func TestPlaybooksOnRoots(t *testing.T) {
	needPlaybookRuns(t)
	testutil.NeedTools(t, "ansible-playbook", "ansible-galaxy")
	testutil.NeedRoot(t, "the AIX fixture's device nodes (mknod)")
	a := newAnsible(t)
	a.docs()
	guest := filepath.Join(a.dir, "guest")
	testutil.Must(t, fixtures.WriteGuestRoot(guest, fixtures.CentOS46Guest()))
	aix, err := fixtures.BuildAIX(filepath.Join(a.dir, "aix"))
	testutil.Must(t, err)
	statedb := filepath.Join(a.dir, "state.db")
	testutil.Must(t, fixtures.WriteStateDBFile(statedb, fixtures.StateDBSpec{Release: "5.5", VMs: 2}, false))
	a.vars["guest_root"], a.vars["odm_dir"], a.vars["dev_dir"], a.vars["statedb_file"] = guest, aix.ODMDir, aix.DevDir, statedb
	state := func() map[string]string {
		all := map[string]string{"state.db": testutil.FileSHA256(t, statedb)}
		for _, dir := range []string{guest, aix.Dir, aix.ODMDir} {
			tree, err := fixtures.TreeState(dir, func(rel string) bool { return rel == "var/lib/xsrescue" })
			testutil.Must(t, err)
			for k, v := range tree {
				all[dir+"/"+k] = v
			}
		}
		return all
	}
	start := state()
	type results struct{ Guest, Odm, Statedb taskResult }
	each := func(r results) map[string]taskResult {
		return map[string]taskResult{"guest": r.Guest, "odm": r.Odm, "statedb": r.Statedb}
	}

	out := a.play("roots.yml", "--check", "--diff")
	var checked results
	a.results(&checked)
	for name, r := range each(checked) {
		if !r.Changed || r.Failed || len(r.Undo) != 0 {
			t.Errorf("%s --check: want changed, no undo; got %+v", name, r)
		}
	}
	if diff := cmp.Diff(start, state()); diff != "" {
		t.Fatalf("--check changed the roots (-start +now):\n%s", diff)
	}
	// A database is rewritten as a stream: its diff is the command's own
	// account of the plan.
	if !strings.Contains(out, "schema 5.57 -> 5.55") || !strings.Contains(out, "+++ after: etc/yum.conf") {
		t.Errorf("--check --diff shows neither the database plan nor the guest's diffs:\n%s", out)
	}

	a.play("roots.yml")
	var applied results
	a.results(&applied)
	var undo [][]string
	for name, r := range each(applied) {
		if !r.Changed || r.Failed || len(r.Undo) == 0 {
			t.Errorf("%s apply: want changed with undo; got %+v", name, r)
		}
		undo = append(undo, r.Undo...)
	}
	a.play("roots.yml")
	var again results
	a.results(&again)
	for name, r := range each(again) {
		if r.Changed || r.Failed {
			t.Errorf("%s second apply: want ok; got %+v", name, r)
		}
	}

	a.vars["undo_lines"] = undo
	a.play("undo-roots.yml")
	var undone struct {
		Undone []taskResult `json:"undone"`
	}
	a.results(&undone)
	if len(undone.Undone) != len(undo) {
		t.Fatalf("%d undo tasks for %d undo lines", len(undone.Undone), len(undo))
	}
	for i, r := range undone.Undone {
		if !r.Changed || r.Failed {
			t.Errorf("undo %v: want changed; got %+v", undo[i], r)
		}
	}
	if diff := cmp.Diff(start, state()); diff != "" {
		t.Errorf("after the undo the roots differ from the start (-start +now):\n%s", diff)
	}
}

func TestPlaybooksOnAZone(t *testing.T) {
	needPlaybookRuns(t)
	testutil.NeedTools(t, "ansible-playbook", "ansible-galaxy")
	testutil.NeedRoot(t, "zfs-fuse pools")
	if err := fixtures.EnsureZFSFuse(); errors.Is(err, fixtures.ErrNoZFS) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
	a := newAnsible(t)
	pool, err := fixtures.NewZFSPool(a.dir, fmt.Sprintf("xsansible%d", os.Getpid()), 22, 128<<20)
	testutil.Must(t, err)
	t.Cleanup(func() {
		if err := pool.Destroy(); err != nil {
			t.Error(err)
		}
	})
	ips := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "zfsroot", "testdata", "ips", name))
		testutil.Must(t, err)
		return b
	}
	z, err := fixtures.BuildZFSZones(pool, filepath.Join(a.dir, "gz"), map[string][]byte{
		zfsroot.ImageFileCfgCache: ips("cfg_cache.snv134"),
		zfsroot.ImageFileDisabled: ips("disabled_auth.snv134"),
	})
	testutil.Must(t, err)
	a.vars["zone_root"] = z.ZoneRoot
	pkg := func() map[string]string {
		tree, err := fixtures.TreeState(filepath.Join(z.ZoneRoot, "var/pkg"), nil)
		testutil.Must(t, err)
		return tree
	}
	start := pkg()
	type results struct{ Unset, Sticky taskResult }

	out := a.play("zone.yml", "--check", "--diff")
	var checked results
	a.results(&checked)
	if !checked.Unset.Changed || checked.Unset.Failed || !checked.Sticky.Changed || checked.Sticky.Failed {
		t.Errorf("--check: want both changed; got %+v", checked)
	}
	if !strings.Contains(out, "-[authority_za21342]") {
		t.Errorf("--check --diff does not show the publisher's section going:\n%s", out)
	}
	if diff := cmp.Diff(start, pkg()); diff != "" {
		t.Fatalf("--check changed the zone image (-start +now):\n%s", diff)
	}

	a.play("zone.yml")
	var applied results
	a.results(&applied)
	if !applied.Unset.Changed || !applied.Sticky.Changed || len(applied.Unset.Undo) != 1 || len(applied.Sticky.Undo) != 1 {
		t.Fatalf("apply: want both changed with their undo; got %+v", applied)
	}
	a.play("zone.yml")
	var again results
	a.results(&again)
	if again.Unset.Changed || again.Sticky.Changed || again.Unset.Failed || again.Sticky.Failed {
		t.Errorf("second apply: want both ok; got %+v", again)
	}

	// Newest first, as each task's undo is.
	a.vars["undo_lines"] = append(applied.Sticky.Undo, applied.Unset.Undo...)
	a.play("undo-roots.yml")
	if diff := cmp.Diff(start, pkg()); diff != "" {
		t.Errorf("after the undo the zone image differs from the start (-start +now):\n%s", diff)
	}
}

// undoResults are undo.yml's two tasks.
type undoResults struct {
	Undo    taskResult `json:"undo"`
	Restore taskResult `json:"restore"`
}

// taskResult is the part of a module's taskResult the test checks.
type taskResult struct {
	Changed bool       `json:"changed"`
	Failed  bool       `json:"failed"`
	Rc      int        `json:"rc"`
	Msg     string     `json:"msg"`
	Undo    [][]string `json:"undo"`
}

func newAnsible(t *testing.T) *ansible {
	dir := t.TempDir()
	root := repoRoot(t)
	bin := builtBinary(t)
	coll := filepath.Join(dir, "build")
	cmd := exec.Command(filepath.Join(root, "scripts", "build-collection.sh"), coll)
	cmd.Env = append(os.Environ(), "XSRESCUE_BINARY="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build-collection.sh: %v\n%s", err, out)
	}
	tarball := strings.TrimSpace(string(out[strings.LastIndexByte(strings.TrimSpace(string(out)), '\n')+1:]))
	installed := filepath.Join(dir, "collections")
	if out, err := exec.Command("ansible-galaxy", "collection", "install", "-p", installed, tarball).CombinedOutput(); err != nil {
		t.Fatalf("ansible-galaxy collection install %s: %v\n%s", tarball, err, out)
	}
	home := filepath.Join(dir, "home")
	testutil.Must(t, os.MkdirAll(home, 0o755))
	return &ansible{
		t: t, dir: dir,
		env: append(os.Environ(),
			"ANSIBLE_COLLECTIONS_PATH="+installed,
			"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp-local"),
			"ANSIBLE_REMOTE_TEMP="+filepath.Join(dir, "tmp-remote"),
			"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_RETRY_FILES_ENABLED=0",
			"ANSIBLE_PYTHON_INTERPRETER=auto_silent", "HOME="+home),
		vars: map[string]any{"dir": dir, "save_dir": dir, "out": filepath.Join(dir, "results.json")},
	}
}

// docs checks that ansible-doc documents every module of the installed
// collection: its options (those of the fragments merged in) and what it
// returns.
func (a *ansible) docs() {
	a.t.Helper()
	var names []string
	for _, n := range Names() {
		names = append(names, "xsrescue.rescue."+n)
	}
	cmd := exec.Command("ansible-doc", append([]string{"-j"}, names...)...)
	cmd.Env = a.env
	out, err := cmd.Output()
	if err != nil {
		a.t.Fatalf("ansible-doc: %v", err)
	}
	var docs map[string]struct {
		Doc struct {
			Options map[string]any `json:"options"`
		} `json:"doc"`
		Return map[string]any `json:"return"`
	}
	testutil.Must(a.t, json.Unmarshal(out, &docs))
	for _, n := range names {
		d := docs[n]
		if len(d.Doc.Options) == 0 || d.Return["changed"] == nil || d.Return["rc"] == nil {
			a.t.Errorf("ansible-doc %s: options %v, return %v", n, d.Doc.Options, d.Return)
		}
		if !strings.HasSuffix(n, "facts") && (d.Return["undo"] == nil || d.Doc.Options["journal"] == nil) {
			a.t.Errorf("ansible-doc %s: no undo return value or no journal option (the common fragment)", n)
		}
	}
}

// play runs one playbook (extra: --check, --diff) and returns its output;
// ansible-playbook itself must succeed.
func (a *ansible) play(book string, extra ...string) string {
	a.t.Helper()
	os.Remove(a.vars["out"].(string))
	vars, err := json.Marshal(a.vars)
	testutil.Must(a.t, err)
	args := append([]string{"-i", "localhost,", "-e", string(vars)}, extra...)
	args = append(args, filepath.Join("testdata", "playbooks", book))
	cmd := exec.Command("ansible-playbook", args...)
	cmd.Env = a.env
	startedAt := time.Now()
	out, err := cmd.CombinedOutput()
	a.t.Logf("ansible-playbook %s %s: %.1fs", book, strings.Join(extra, " "), time.Since(startedAt).Seconds())
	if err != nil {
		a.t.Fatalf("ansible-playbook %s %v: %v\n%s", book, extra, err, out)
	}
	return string(out)
}

// results reads what the last playbook recorded.
func (a *ansible) results(v any) {
	a.t.Helper()
	b, err := os.ReadFile(a.vars["out"].(string))
	testutil.Must(a.t, err)
	testutil.Must(a.t, json.Unmarshal(b, v))
}
