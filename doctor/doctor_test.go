package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/target"
)

// rescueTrees writes the rescue disk's root (5.5) and backup (5.0) trees,
// with their databases, as plain directories.
func rescueTrees(t *testing.T, extra func(root string)) (root, backup string) {
	t.Helper()
	spec := fixtures.RescueDisk()
	dir := t.TempDir()
	root, backup = filepath.Join(dir, "root"), filepath.Join(dir, "backup")
	for n, d := range map[int]string{1: root, 2: backup} {
		if err := fixtures.WriteXenServerRoot(d, *spec.Partition(n).Root); err != nil {
			t.Fatal(err)
		}
	}
	if extra != nil {
		extra(root)
	}
	return root, backup
}

func diagnose(t *testing.T, root, backup, installer string) *Report {
	t.Helper()
	r, err := target.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in := Input{Root: r, Installer: installer, SaveDir: "/save"}
	if backup != "" {
		b, err := target.OpenRoot(backup)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		in.Backup = ReadBackup(b, 2, installer)
	}
	rep, err := Diagnose(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func severities(r *Report) map[string]string {
	m := map[string]string{}
	for _, f := range r.Findings {
		m[f.ID] = f.Severity
	}
	return m
}

func commands(r *Report) []string {
	var c []string
	for _, s := range r.Plan {
		c = append(c, s.Command)
	}
	return c
}

func TestDiagnoseRoot(t *testing.T) {
	t.Parallel()
	root, backup := rescueTrees(t, nil)
	rep := diagnose(t, root, backup, "5.0")
	want := map[string]string{
		"markers": OK, "installer-verdict/5.0.0": Broken, "installer-verdict/5.0.0/version": Broken,
		"statedb-location": OK, "statedb-schema": Broken, "statedb-manifest": OK,
		"statedb-unknown-tables": Broken, "statedb-unknown-columns": Warn, "statedb-data-loss": Warn,
		// --backup-root is examined like a backup partition.
		"backup-restorable": OK, "backup-not-saved": Warn,
	}
	if d := cmp.Diff(want, severities(rep)); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	if len(rep.Alternatives) != 1 || rep.Alternatives[0].Name != "restore" {
		t.Errorf("alternatives %+v: want the installer's Restore", rep.Alternatives)
	}
	wantPlan := []string{
		"xsrescue disk save-partition DISK --role backup --output /save/backup.img (DISK: the disk whose backup partition is mounted on " + backup + "; unmount it first)",
		"xsrescue version set --root " + root + " --for-installer 5.0.0 --yes",
		"cp -p " + filepath.Join(root, "var/xapi/state.db") + " /save/state-before-5.0.0.db",
		"xsrescue statedb patch --root " + root + " --like " + filepath.Join(backup, "var/xapi/state.db") + " --drop-data --keep-copy /save/state-before-5.0.0.db --yes",
		"boot the XenServer 5.0 installer and choose Upgrade (or answerfile=/save/answerfile-upgrade-5.0.0.xml)",
	}
	if d := cmp.Diff(wantPlan, commands(rep)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	if rep.Root != root || rep.Disk != "" || rep.Installed["product_version"] != "5.5.0" || rep.Clean() {
		t.Errorf("report %+v", rep)
	}
}

// A root without etc/xensource-inventory is a finding, not an error: the
// installer skips it silently, and the backup is still examined.
func TestDiagnoseNoInventory(t *testing.T) {
	t.Parallel()
	root, backup := rescueTrees(t, func(root string) { os.Remove(filepath.Join(root, "etc/xensource-inventory")) })
	rep := diagnose(t, root, backup, "5.0")
	sev := severities(rep)
	if sev["inventory-missing"] != Broken || sev["backup-restorable"] != OK {
		t.Errorf("findings %v", sev)
	}
	if len(rep.Alternatives) != 1 || rep.Alternatives[0].Name != "restore" {
		t.Errorf("alternatives %+v: want the installer's Restore", rep.Alternatives)
	}
}

// TestDiagnoseInstallerTooNew: a 5.5 root and an 8.2 installer. version set
// refuses to fake 5.5 as 8.2 (below the installer's 2.1.0 floor), so the plan
// must not contain that step; the refusal is a finding instead.
func TestDiagnoseInstallerTooNew(t *testing.T) {
	t.Parallel()
	root, backup := rescueTrees(t, nil)
	rep := diagnose(t, root, backup, "8.2")
	if sev := severities(rep); sev["installer-verdict/8.2.0/version-set"] != Broken {
		t.Errorf("findings %v: want the version set refusal", sev)
	}
	for _, s := range rep.Plan {
		if strings.Contains(s.Command, "version set") {
			t.Errorf("plan step %q: version set would refuse it", s.Command)
		}
	}
}

func TestDiagnoseSideFilesAndVerdicts(t *testing.T) {
	t.Parallel()
	root, _ := rescueTrees(t, func(root string) {
		db, _ := os.ReadFile(filepath.Join(root, "var/xapi/state.db"))
		os.WriteFile(filepath.Join(root, "var/xapi/restore_db.db"), db, 0o600)
	})
	rep := diagnose(t, root, "", "")
	sev := severities(rep)
	if sev["statedb-restore-pending"] != Broken || sev["installer-verdicts"] != OK || sev["statedb-schema"] != OK {
		t.Errorf("findings %v", sev)
	}
	var manual bool
	for _, s := range rep.Plan {
		manual = manual || (s.Manual && strings.Contains(s.Command, "restore_db.db"))
	}
	if !manual {
		t.Errorf("plan %+v: want restore_db.db set aside", rep.Plan)
	}
	for _, f := range rep.Findings {
		if f.ID == "statedb-location" && !strings.Contains(f.Evidence, "restore_db.db") {
			t.Errorf("location %q: xapi loads restore_db.db", f.Evidence)
		}
	}
}

func TestDiagnoseCleanAfterUpgradeTo50(t *testing.T) {
	t.Parallel()
	// A 5.0 root with a 5.0 database: what the rescue ends with.
	dir := t.TempDir()
	db, err := fixtures.StateDB(fixtures.StateDBSpec{Release: "5.0", VMs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.WriteXenServerRoot(dir, fixtures.RootSpec{Release: "5.0", Extra: map[string][]byte{"var/xapi/state.db": db}}); err != nil {
		t.Fatal(err)
	}
	rep := diagnose(t, dir, "", "5.0")
	if !rep.Clean() {
		t.Errorf("not clean: %+v", rep)
	}
}

// TestDiagnoseStateDBFifo: a FIFO at the state.db path is not "xapi starts
// with an empty database": xapi takes the path and hangs opening it.
func TestDiagnoseStateDBFifo(t *testing.T) {
	root, _ := rescueTrees(t, func(root string) {
		p := filepath.Join(root, "var/xapi/state.db")
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	rep := diagnose(t, root, "", "")
	if sev := severities(rep); sev["statedb-not-a-file"] != Broken || sev["statedb-missing"] != "" {
		t.Errorf("findings %v", sev)
	}
	for _, f := range rep.Findings {
		if f.ID == "statedb-not-a-file" && !strings.Contains(f.Evidence, "/var/xapi/state.db is a fifo, not a database file, yet xapi takes it") {
			t.Errorf("evidence %q", f.Evidence)
		}
	}
}

// A 3-pair database for a 12-pair target, and a root without pool.conf and
// ptoken: statedb patch --to-release would stop for want of those host
// values, so doctor names them and plans the step by hand, not the patch.
func TestDiagnoseHostKeysMissing(t *testing.T) {
	t.Parallel()
	root, _ := rescueTrees(t, func(root string) {
		db := filepath.Join(root, "var/xapi/state.db")
		if err := fixtures.WriteStateDBFile(db, fixtures.StateDBSpec{Release: "6.0", VMs: 1, Seed: "hostkeys"}, false); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(root, "etc/xensource/pool.conf"))
		os.Remove(filepath.Join(root, "etc/xensource/ptoken"))
	})
	rep := diagnose(t, root, "", "5.0")
	if sev := severities(rep); sev["statedb-manifest"] != Broken || sev["statedb-host-keys"] != Broken {
		t.Fatalf("findings %v", sev)
	}
	var manual string
	for _, s := range rep.Plan {
		if strings.Contains(s.Command, "statedb patch") && !s.Manual {
			t.Errorf("plans %q, which would stop without the host values", s.Command)
		}
		if s.Manual && strings.Contains(s.Command, "pool_conf") {
			manual = s.Command
		}
	}
	if !strings.Contains(manual, "pool_token") || !strings.Contains(manual, "/etc/xensource/ptoken") {
		t.Errorf("no manual step naming pool_conf and pool_token: %q", commands(rep))
	}
}

// TestDiagnoseFirstbootNoStateDir: an 8.2 root (first boot recorded in
// var/lib/misc/ran-*-init) with digit scripts and no
// etc/firstboot.d/state, for the 7.1 installer, which wants that
// directory: the plan never says "boot it once" (a boot never creates the
// directory), and the mark-firstboot-done alternative makes the directory
// by hand before version set, which refuses without it.
func TestDiagnoseFirstbootNoStateDir(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "root")
	spec := fixtures.RootSpec{Release: "8.2", NeverBooted: true, Populate: fixtures.WithFirstbootScripts("01-prepare-storage", "10-prepare-network")}
	if err := fixtures.WriteXenServerRoot(root, spec); err != nil {
		t.Fatal(err)
	}
	rep := diagnose(t, root, "", "7.1")
	var by string
	for _, s := range rep.Plan {
		if s.Manual && strings.Contains(s.Command, "firstboot") {
			by = s.Command
		}
	}
	if by == "" || strings.Contains(by, "boot it once") || !strings.Contains(by, "a state file for each executable script") {
		t.Errorf("firstboot step %q; plan %q", by, commands(rep))
	}
	var alt *Alternative
	for i, a := range rep.Alternatives {
		if a.Name == "mark-firstboot-done" {
			alt = &rep.Alternatives[i]
		}
	}
	if alt == nil || len(alt.Steps) != 2 || !alt.Steps[0].Manual || !strings.HasPrefix(alt.Steps[0].Command, "mkdir -p ROOT/etc/firstboot.d/state") ||
		!strings.Contains(alt.Steps[1].Command, "--mark-firstboot-done") || !strings.HasPrefix(alt.Why, "WARNING") {
		t.Errorf("alternative %+v", alt)
	}
}
