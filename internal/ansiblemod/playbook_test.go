package ansiblemod

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// ansible runs the collection as Ansible does, with Debian's ansible-core
// on localhost (connection local): the collection built by
// scripts/build-collection.sh and installed from its tarball with
// ansible-galaxy, a copy of a fixture disk, each playbook of
// testdata/playbooks a separate ansible-playbook run.
type ansible struct {
	t    *testing.T
	dir  string
	env  []string
	vars map[string]string
}

func TestPlaybooks(t *testing.T) {
	testutil.NeedTools(t, "ansible-playbook", "ansible-galaxy", "mkfs.ext3")
	testutil.NeedRoot(t, "the apply mounts the fixture disk's root partition read-write")
	a := newAnsible(t)
	img := a.vars["img"]
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
	if _, err := os.Stat(a.vars["journal"]); err == nil {
		t.Fatal("--check created the journal")
	}

	// The root partition's image, for the byte-identical end.
	a.play("save.yml")
	var saved struct {
		Save taskResult `json:"save"`
	}
	a.results(&saved)
	if !saved.Save.Changed || testutil.FileSHA256(t, img) != start {
		t.Fatalf("save-partition: want changed and the disk untouched; got %+v", saved.Save)
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

	// Undo, then the root partition's image back: byte-identical.
	a.vars["op"] = op
	a.play("undo.yml")
	var undone struct {
		Undo    taskResult `json:"undo"`
		Restore taskResult `json:"restore"`
	}
	a.results(&undone)
	if !undone.Undo.Changed || undone.Undo.Failed || !undone.Restore.Changed || undone.Restore.Failed {
		t.Fatalf("undo and restore: want both changed; got %+v", undone)
	}
	if got := testutil.FileSHA256(t, img); got != start {
		t.Fatalf("after journal undo and the partition restore the image differs from the start")
	}

	// Again: both ok, nothing written.
	a.play("undo.yml")
	var again2 struct {
		Undo    taskResult `json:"undo"`
		Restore taskResult `json:"restore"`
	}
	a.results(&again2)
	if again2.Undo.Changed || again2.Undo.Failed || again2.Restore.Changed || again2.Restore.Failed {
		t.Errorf("undo and restore again: want both ok, unchanged; got %+v", again2)
	}
	if got := testutil.FileSHA256(t, img); got != start {
		t.Error("the second undo and restore wrote to the image")
	}
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
	img, err := fixtures.BuildDisk(dir, fixtures.MiniRescue("ansible"))
	testutil.Must(t, err)
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
		vars: map[string]string{
			"img": img, "journal": filepath.Join(dir, "journal.db"), "image": filepath.Join(dir, "root.img"),
			"save_dir": dir, "out": filepath.Join(dir, "results.json"),
		},
	}
}

// play runs one playbook (extra: --check, --diff) and returns its output;
// ansible-playbook itself must succeed.
func (a *ansible) play(book string, extra ...string) string {
	a.t.Helper()
	os.Remove(a.vars["out"])
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
	b, err := os.ReadFile(a.vars["out"])
	testutil.Must(a.t, err)
	testutil.Must(a.t, json.Unmarshal(b, v))
}
