package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/doctor"
	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partimage"
	"github.com/xsrescue/xsrescue/statedb"
)

var updateDoctor = flag.Bool("update-doctor", false, "rewrite testdata/doctor/*.json")

// doctorJSON runs doctor --json: exit 0, or 4 exactly when a finding is
// broken.
func doctorJSON(t *testing.T, argv ...string) *doctorDoc {
	t.Helper()
	code, out, errOut := runCLI(append([]string{"doctor", "--json"}, argv...)...)
	var doc doctorDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("doctor %v: exit %d, %v\n%s\n%s", argv, code, err, out, errOut)
	}
	if want := map[bool]int{false: 0, true: xerr.ExitProblems}[len(doc.Broken()) > 0]; code != want {
		t.Fatalf("doctor %v: exit %d, want %d (broken: %q)\n%s\n%s", argv, code, want, doc.Broken(), out, errOut)
	}
	return &doc
}

// clean: nothing broken or questionable, and no plan.
func (d *doctorDoc) clean() bool { return len(d.Plan) == 0 && d.Report.Clean() }

func needRootAndE2fs(t *testing.T) {
	t.Helper()
	testutil.NeedRoot(t, "doctor mounts the root and backup partitions read-only")
	testutil.NeedTools(t, "mke2fs", "debugfs")
}

// TestDoctorGolden runs doctor on every fixture disk and compares the whole
// document (temporary paths replaced by $DIR) with testdata/doctor. It also
// proves doctor read-only: the image hashes the same before and after.
func TestDoctorGolden(t *testing.T) {
	t.Parallel()
	needRootAndE2fs(t)
	specs := append(fixtures.Specs(), fixtures.RescueDisk())
	specs[len(specs)-1].Name = "rescue"
	for _, spec := range specs {
		t.Run(spec.Name, func(t *testing.T) {
			dir := t.TempDir()
			img, err := fixtures.BuildDisk(dir, spec)
			if err != nil {
				t.Fatal(err)
			}
			argv := []string{"--disk", img, "--save-dir", dir}
			if spec.Partition(1) != nil && spec.Partition(1).Root != nil && strings.HasPrefix(spec.Partition(1).Root.Release, "5.") {
				argv = append(argv, "--installer", "5.0")
			}
			before := fingerprint(t, img)
			rep := doctorJSON(t, argv...)
			if fingerprint(t, img) != before {
				t.Fatal("doctor wrote to the disk")
			}
			b, _ := json.MarshalIndent(rep, "", "  ")
			got := strings.ReplaceAll(string(b), dir, "$DIR") + "\n"
			golden := filepath.Join("testdata", "doctor", spec.Name+".json")
			if *updateDoctor {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), got); d != "" {
				t.Errorf("doctor %s (-golden +got):\n%s", spec.Name, d)
			}
		})
	}
}

// TestDoctorPlanExecution executes the plan doctor prints for the rescue
// disk, command by command, and expects a clean doctor at the end.
func TestDoctorPlanExecution(t *testing.T) {
	t.Parallel()
	needRootAndE2fs(t)
	// debugfs splits its request on blanks and reads quotes: a save dir
	// holding both is copied to all the same
	dir := filepath.Join(t.TempDir(), `my "save' dir`)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := fixtures.BuildDisk(dir, fixtures.MiniRescue("plan"))
	if err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(dir, "journal.db")
	argv := []string{"--disk", img, "--installer", "5.0", "--save-dir", dir, "--journal", jpath}
	rep := doctorJSON(t, argv...)
	var ran []string
	for _, s := range rep.Plan {
		if s.Manual {
			continue
		}
		words := s.Argv
		if len(words) < 2 || s.Mutates != (words[0] != "xsrescue" || !readOnlyCommand(words[1:])) {
			t.Fatalf("step %d: argv %q (mutates %v) for %q", s.Step, words, s.Mutates, s.Command)
		}
		ran = append(ran, words[0]+" "+words[1])
		if words[1] == "answerfile" && !strings.Contains(s.Command, " --as disk/by-id/") && !strings.Contains(s.Command, " --as sd") {
			t.Errorf("step %d %q: an image's answer file needs --as with the host's PRIMARY_DISK", s.Step, s.Command)
		}
		if slices.Contains(words, "--drop-data") && !slices.Contains(words, "--keep-copy") {
			t.Errorf("step %d %q drops data without checking the copy kept before it", s.Step, s.Command)
		}
		if i := slices.Index(words, "--keep-copy"); i > 0 {
			// the copy step failing (debugfs exits 0 then) must stop
			// the patch that drops data
			kept := words[i+1]
			if err := os.Rename(kept, kept+".aside"); err != nil {
				t.Fatalf("step %d: the copy it names: %v", s.Step, err)
			}
			before := fingerprint(t, img)
			if code, out, errOut := runCLI(words[1:]...); code != 3 || fingerprint(t, img) != before {
				t.Fatalf("step %d %q without its copy: exit %d, want 3 and the disk unchanged\n%s\n%s", s.Step, s.Command, code, out, errOut)
			}
			if err := os.Rename(kept+".aside", kept); err != nil {
				t.Fatal(err)
			}
		}
		switch words[0] {
		case "xsrescue":
			if code, out, errOut := runCLI(words[1:]...); code != 0 {
				t.Fatalf("step %d %q: exit %d\n%s\n%s", s.Step, s.Command, code, out, errOut)
			}
		default:
			if out, err := exec.Command(words[0], words[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("step %d %q: %v\n%s", s.Step, s.Command, err, out)
			}
		}
	}
	// the reference copied out, then the database kept as it was before
	// the patch drops data (--drop-data)
	want := []string{"xsrescue disk", "xsrescue version", "debugfs -R", "debugfs -R", "xsrescue statedb", "xsrescue answerfile"}
	if d := cmp.Diff(want, ran); d != "" {
		t.Errorf("plan steps (-want +ran):\n%s\nplan: %+v", d, rep.Plan)
	}
	if f, err := os.Open(filepath.Join(dir, "state-before-5.0.0.db")); err != nil {
		t.Error(err)
	} else {
		s, err := statedb.Scan(f)
		f.Close()
		if err != nil || s.SchemaMinor != 57 {
			t.Errorf("the copy kept before the patch: %v", err)
		}
	}
	after := doctorJSON(t, argv...)
	if !after.clean() {
		t.Errorf("doctor after the plan is not clean:\n%+v", after)
	}

	// The last op as if a crash had cut it short: the plan is recover, then
	// doctor again (the rest depends on what recover leaves), and it runs.
	markInterrupted(t, jpath, true)
	cut := doctorJSON(t, argv...)
	if len(cut.Plan) != 2 || !strings.HasPrefix(cut.Plan[0].Command, "xsrescue journal recover ") || !strings.HasPrefix(cut.Plan[1].Command, "xsrescue doctor ") {
		t.Fatalf("plan with an interrupted op: %+v", cut.Plan)
	}
	if code, out, errOut := runCLI(cut.Plan[0].Argv[1:]...); code != 0 {
		t.Fatalf("%q: exit %d\n%s\n%s", cut.Plan[0].Command, code, out, errOut)
	}
}

// fingerprint identifies an image's bytes without reading its holes (the
// fixture disks are up to 120 GiB, sparse).
func fingerprint(t *testing.T, img string) string {
	t.Helper()
	s, err := partimage.Fingerprint(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDoctorUsage(t *testing.T) {
	t.Parallel()
	for _, argv := range [][]string{
		{"doctor"},
		{"doctor", "--disk", "x", "--root", "y"},
		{"doctor", "--root", t.TempDir(), "--installer", "1.2.3"},
	} {
		if code, _, _ := runCLI(argv...); code != 2 {
			t.Errorf("%v: exit %d, want 2", argv, code)
		}
	}
}

// TestDoctorAnswerfileName: for an image, the plan's answer file names the
// disk as the host's inventory records it (PRIMARY_DISK); without one it
// cannot be guessed, so the step is left to the engineer with --as NAME.
func TestDoctorAnswerfileName(t *testing.T) {
	t.Parallel()
	needRootAndE2fs(t)
	spec := fixtures.MiniRescue("noprimary")
	inv, err := spec.Partitions[0].Root.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, kv := range inv {
		if kv[0] != "PRIMARY_DISK" {
			b.WriteString(kv[0] + "='" + kv[1] + "'\n")
		}
	}
	spec.Partitions[0].Root.Extra["etc/xensource-inventory"] = []byte(b.String())
	for _, tc := range []struct {
		spec   fixtures.DiskSpec
		want   string
		manual bool
	}{
		{fixtures.MiniRescue("primary"), " --as " + strings.TrimPrefix(fixtures.DefaultPrimaryDisk, "/dev/") + " ", false},
		{spec, " --as NAME ", true},
	} {
		dir := t.TempDir()
		img, err := fixtures.BuildDisk(dir, tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		rep := doctorJSON(t, "--disk", img, "--installer", "5.0", "--save-dir", dir)
		var found bool
		for _, s := range rep.Plan {
			if strings.HasPrefix(s.Command, "xsrescue answerfile upgrade") {
				found = true
				if !strings.Contains(s.Command, tc.want) || s.Manual != tc.manual {
					t.Errorf("%s: step %q manual %v, want %q manual %v", tc.spec.Name, s.Command, s.Manual, tc.want, tc.manual)
				}
			}
		}
		if !found {
			t.Errorf("%s: no answerfile step in %+v", tc.spec.Name, rep.Plan)
		}
	}
}

// TestDoctorDirtyRootWithoutInventory: a root partition whose ext3 journal
// needs recovery and whose inventory is gone. doctor exits 0, reports both
// by disk and partition (never its private mount point), still examines the
// backup partition, and its e2fsck step, run by a shell, leaves no loop
// device attached.
func TestDoctorDirtyRootWithoutInventory(t *testing.T) {
	t.Parallel()
	needRootAndE2fs(t)
	testutil.NeedTools(t, "losetup")
	img := cliImage(t)
	p1 := fmt.Sprintf("%s?offset=%d", img, fixtures.MiB)
	for _, req := range []string{"rm /etc/xensource-inventory", "feature needs_recovery"} {
		if out, err := exec.Command("debugfs", "-w", "-R", req, p1).CombinedOutput(); err != nil {
			t.Fatalf("debugfs %s: %v\n%s", req, err, out)
		}
	}
	code, out, errOut := runCLI("doctor", "--disk", img, "--installer", "5.0")
	if code != xerr.ExitProblems || strings.Contains(out+errOut, "xsrescue-mnt") {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errOut)
	}
	rep := doctorJSON(t, "--disk", img, "--installer", "5.0")
	sev := doctorSeverities(rep.Report)
	if sev["inventory-missing"] != doctor.Broken || sev["fs-needs-recovery/1"] != doctor.Warn || sev["backup-restorable"] != doctor.OK {
		t.Errorf("findings %v", sev)
	}
	for _, f := range rep.Findings {
		if strings.HasPrefix(f.ID, "disk-warning/") && strings.Contains(f.Evidence, "journal needs recovery") {
			t.Errorf("the dirty journal shown twice: %s beside fs-needs-recovery/1: %s", f.ID, f.Evidence)
		}
		if f.ID == "inventory-missing" && !strings.Contains(f.Evidence, img+" partition 1") {
			t.Errorf("evidence %q: name the disk and partition", f.Evidence)
		}
	}
	if len(rep.Alternatives) != 1 || rep.Alternatives[0].Name != "restore" {
		t.Errorf("alternatives %+v: want the installer's Restore", rep.Alternatives)
	}
	// No inventory: the plan must not end "choose Upgrade … it now finds
	// an installation it accepts" (no step gives the root an inventory).
	var fsck string
	last := rep.Plan[len(rep.Plan)-1]
	if !last.Manual || !strings.HasPrefix(last.Command, "cannot be repaired by xsrescue: ") {
		t.Errorf("last step %+v: want \"cannot be repaired by xsrescue\"", last)
	}
	for _, s := range rep.Plan {
		if strings.Contains(s.Command, "e2fsck") {
			fsck = s.Command
		}
		if strings.Contains(s.Command, "choose Upgrade") || strings.Contains(s.Command, "statedb patch") || strings.Contains(s.Command, "version set") {
			t.Errorf("step %q in a plan that cannot make the installer take the root", s.Command)
		}
	}
	if fsck == "" {
		t.Fatalf("plan %+v: no e2fsck step", rep.Plan)
	}
	if out, err := exec.Command("sh", "-c", fsck).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", fsck, err, out)
	}
	// losetup -d while udev still probes the device only marks it for
	// autoclear: it goes when the prober closes it, a moment later.
	var attached []byte
	for i := 0; i < 50; i++ {
		if attached, _ = exec.Command("losetup", "-j", img).Output(); len(attached) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(attached) != 0 {
		for _, line := range strings.Split(strings.TrimSpace(string(attached)), "\n") {
			exec.Command("losetup", "-d", strings.SplitN(line, ":", 2)[0]).Run()
		}
		t.Fatalf("%s left a loop device attached: %s", fsck, attached)
	}
	if sev := doctorSeverities(doctorJSON(t, "--disk", img, "--installer", "5.0").Report); sev["fs-needs-recovery/1"] != "" || sev["root-not-examined"] != "" {
		t.Errorf("after e2fsck: %v", sev)
	}
}

func doctorSeverities(r *doctor.Report) map[string]string {
	m := map[string]string{}
	for _, f := range r.Findings {
		m[f.ID] = f.Severity
	}
	return m
}

// TestDoctorLostLabelAndDamagedGPT: a root that lost its root-* label and a
// damaged primary GPT are findings with steps by hand; the relabel step, run
// by a shell, makes the installation findable again.
func TestDoctorLostLabelAndDamagedGPT(t *testing.T) {
	t.Parallel()
	needRootAndE2fs(t)
	testutil.NeedTools(t, "losetup", "e2label", "gdisk")
	img := cliImage(t)
	loop, err := exec.Command("losetup", "--find", "--show", "--offset", fmt.Sprint(fixtures.MiB), "--sizelimit", fmt.Sprint(64*fixtures.MiB), img).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(string(loop))
	out, err := exec.Command("e2label", dev, "").CombinedOutput()
	exec.Command("losetup", "-d", dev).Run()
	if err != nil {
		t.Fatalf("e2label: %v\n%s", err, out)
	}
	rep := doctorJSON(t, "--disk", img)
	if sev := doctorSeverities(rep.Report); sev["layout"] != doctor.Broken || sev["root-label-missing/1"] != doctor.Broken {
		t.Errorf("findings %v", sev)
	}
	var relabel string
	var saved bool
	for _, s := range rep.Plan {
		saved = saved || strings.Contains(s.Command, "save-partition") && strings.Contains(s.Command, "--partition 2")
		if strings.Contains(s.Command, "e2label") && s.Manual {
			relabel = strings.ReplaceAll(s.Command, "root-xxxxxxxx", "root-abcdefgh")
		}
	}
	if relabel == "" || !saved {
		t.Fatalf("plan %+v: want the backup saved and a relabel by hand", rep.Plan)
	}
	if out, err := exec.Command("sh", "-c", relabel).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", relabel, err, out)
	}
	if sev := doctorSeverities(doctorJSON(t, "--disk", img).Report); sev["layout"] != doctor.OK || sev["backup-restorable"] != doctor.OK {
		t.Errorf("after relabelling: %v", sev)
	}

	var spec fixtures.DiskSpec
	for _, s := range fixtures.Specs() {
		if s.Name == fixtures.NameXS70New {
			spec = s
		}
	}
	gpt, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(gpt, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("XXXX"), 528) // inside the primary header's CRC
	f.Close()
	var gdisk bool
	for _, s := range doctorJSON(t, "--disk", gpt).Plan {
		gdisk = gdisk || s.Manual && strings.Contains(s.Command, "gdisk") && strings.Contains(s.Command, "rebuilding main")
	}
	if !gdisk {
		t.Error("no step rebuilding the primary GPT")
	}
	// The recipe the step gives, run as written, leaves the primary GPT
	// intact.
	cmd := exec.Command("gdisk", gpt)
	cmd.Stdin = strings.NewReader("r\nb\nc\nY\nv\nw\nY\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gdisk: %v\n%s", err, out)
	}
	if code, out, _ := runCLI("--json", "disk", "inspect", gpt); code != 0 || strings.Contains(out, "primary GPT") {
		t.Errorf("after gdisk: exit %d\n%s", code, out)
	}
}
