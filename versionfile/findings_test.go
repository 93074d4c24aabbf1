package versionfile_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/versionfile"
)

// symlink is a RootSpec.Populate that adds links (path in the root ->
// target, written as is).
func symlink(links map[string]string) func(string) error {
	return func(dir string) error {
		for p, to := range links {
			if err := os.Symlink(to, filepath.Join(dir, p)); err != nil {
				return err
			}
		}
		return nil
	}
}

// inventory is a RootSpec.Populate that replaces etc/xensource-inventory.
func inventory(text string) func(string) error {
	return func(dir string) error {
		return os.WriteFile(filepath.Join(dir, versionfile.InventoryPath), []byte(text), 0o644)
	}
}

func chain(fs ...func(string) error) func(string) error {
	return func(dir string) error {
		for _, f := range fs {
			if err := f(dir); err != nil {
				return err
			}
		}
		return nil
	}
}

// xcp16 is an XCP 1.6 host's inventory: PLATFORM_NAME and
// PLATFORM_VERSION, no PRODUCT_* keys (host-installer eab10e4 reads
// PLATFORM_NAME when PRODUCT_NAME is missing for exactly these hosts).
const xcp16 = `PLATFORM_NAME='XCP'
PLATFORM_VERSION='1.6.10'
BUILD_NUMBER='61809c'
PRIMARY_DISK='/dev/disk/by-id/scsi-SATA_ST3500418AS_9VM1XSRC'
BACKUP_PARTITION='/dev/disk/by-id/scsi-SATA_ST3500418AS_9VM1XSRC-part2'
INSTALLATION_UUID='3d3e5a0e-1111-4222-8333-444455556666'
CONTROL_DOMAIN_UUID='6a1c2e77-aaaa-4bbb-8ccc-ddddeeeeffff'
MANAGEMENT_INTERFACE='xenbr0'
`

// inv55 is a 5.5 inventory with PRODUCT_VERSION written as value.
func inv55(productVersion string) string {
	return "PRODUCT_BRAND='XenServer'\nPRODUCT_NAME='xenenterprise'\nPRODUCT_VERSION=" + productVersion + "\nBUILD_NUMBER='15119p'\n" +
		"PRIMARY_DISK='/dev/disk/by-id/scsi-SATA_ST3500418AS_9VM1XSRC'\nBACKUP_PARTITION='/dev/disk/by-id/scsi-SATA_ST3500418AS_9VM1XSRC-part2'\n" +
		"INSTALLATION_UUID='3d3e5a0e-1111-4222-8333-444455556666'\nCONTROL_DOMAIN_UUID='6a1c2e77-aaaa-4bbb-8ccc-ddddeeeeffff'\n"
}

// twoRootsDOS: a 5.5 root on partition 1 (active) and a 6.2 root on
// partition 4: up to 6.5 the installers take partition 1, from 7.0 the
// last root-*.
func twoRootsDOS(name string) fixtures.DiskSpec {
	const mib, part = fixtures.MiB, 64 * fixtures.MiB
	a := fixtures.RootSpec{Release: "5.5", Seed: name + "-a"}
	b := fixtures.RootSpec{Release: "6.2", Seed: name + "-b"}
	ra, _ := release.Lookup(a.Release)
	rb, _ := release.Lookup(b.Release)
	return fixtures.DiskSpec{Name: name, Table: "dos", Size: 2*mib + 3*part + 16*mib, Partitions: []fixtures.PartSpec{
		{Number: 1, Start: mib, Size: part, Type: "83", Bootable: true, FS: "ext3", Label: fixtures.RootLabel(a.Seed, ra), Root: &a},
		{Number: 2, Start: mib + part, Size: part, Type: "83"},
		{Number: 3, Start: mib + 2*part, Size: 16 * mib, Type: "8e", FS: "lvm2"},
		{Number: 4, Start: mib + 2*part + 16*mib, Size: part, Type: "83", FS: "ext3", Label: fixtures.RootLabel(b.Seed, rb), Root: &b},
	}}
}

// TestAcceptanceFindings: the verdicts of every installer on the disks of
// the acceptance round's findings, checked against the real installer
// code (docs/version.md): golden tables testdata/verdicts/acc-*.txt with
// the detail of one installer (-update rewrites them).
func TestAcceptanceFindings(t *testing.T) {
	if _, err := exec.LookPath("mke2fs"); err != nil {
		t.Skip("mke2fs not installed (scripts/test.sh installs it)")
	}
	cases := []struct {
		name, installer string
		disk            func(name string) fixtures.DiskSpec
		examine         int
		want            map[string]string // installer -> outcome, checked besides the golden
	}{
		// A dangling relative link: os.stat raises; 5.6-8.0 do not catch it.
		{"acc-firstboot-dangling-relative", "7.1", func(n string) fixtures.DiskSpec {
			return fixtures.Mini(n, "gpt", fixtures.RootSpec{Release: "7.1", Populate: symlink(map[string]string{"etc/firstboot.d/98-gone": "../init.d/gone"})}, nil)
		}, 1, map[string]string{"7.0.0": "stops", "7.1.0": "stops", "8.0.0": "stops", "8.1.0": "no", "8.2.0": "no", "8.4.0": "no"}},
		// A symlink loop: ELOOP, the same.
		{"acc-firstboot-loop", "8.0", func(n string) fixtures.DiskSpec {
			return fixtures.Mini(n, "gpt", fixtures.RootSpec{Release: "7.1", Populate: symlink(map[string]string{"etc/firstboot.d/97-a": "97-b", "etc/firstboot.d/97-b": "97-a"})}, nil)
		}, 1, map[string]string{"7.1.0": "stops", "8.0.0": "stops", "8.2.0": "no"}},
		// An absolute link is resolved on the installer's ramdisk: unknown,
		// never "upgrade".
		{"acc-firstboot-absolute-dangling", "8.2", func(n string) fixtures.DiskSpec {
			return fixtures.Mini(n, "gpt", fixtures.RootSpec{Release: "8.2", Populate: chain(
				func(dir string) error { return os.MkdirAll(filepath.Join(dir, "etc/firstboot.d/state"), 0o755) },
				symlink(map[string]string{"etc/firstboot.d/98-link": "/nonexistent"}))}, nil)
		}, 1, map[string]string{"8.2.0": "unknown", "8.4.0": "unknown", "7.1.0": "stops", "8.1.0": "no"}},
		// The re-test's N6: a link to a file any ramdisk has, on an 8.2
		// root. The 7.1 installer's version gate fails after
		// isUpgradeable, which may stop first: "stops", never "unknown";
		// 8.1 on catch the stat error: "no".
		{"retest-n6-ramdisk-link", "7.1", func(n string) fixtures.DiskSpec {
			return fixtures.Mini(n, "gpt", fixtures.RootSpec{Release: "8.2", Populate: chain(
				func(dir string) error { return os.MkdirAll(filepath.Join(dir, "etc/firstboot.d/state"), 0o755) },
				symlink(map[string]string{"etc/firstboot.d/98-sh": "/bin/sh"}),
				func(dir string) error {
					return os.WriteFile(filepath.Join(dir, "etc/firstboot.d/state/98-sh"), nil, 0o644)
				})}, nil)
		}, 1, map[string]string{"5.0.0": "no", "7.0.0": "stops", "7.1.0": "stops", "8.0.0": "stops", "8.1.0": "no", "8.2.0": "unknown", "8.4.0": "unknown"}},
		// The re-test's #6: an 8.2 root (first boot recorded in
		// var/lib/misc/ran-*-init, never booted here) with digit scripts
		// and no etc/firstboot.d/state, for the 7.1 installer: the remedy
		// names a state file per script, never "boot it once".
		{"retest-6-no-state-dir-8.2", "7.1", func(n string) fixtures.DiskSpec {
			return fixtures.Mini(n, "gpt", fixtures.RootSpec{Release: "8.2", NeverBooted: true, Populate: fixtures.WithFirstbootScripts("01-prepare-storage", "10-prepare-network")}, nil)
		}, 1, map[string]string{"7.1.0": "no", "8.2.0": "no"}},
		{"acc-firstboot-absolute-inside", "7.1", func(n string) fixtures.DiskSpec {
			return fixtures.Mini(n, "gpt", fixtures.RootSpec{Release: "7.1", Extra: map[string][]byte{"opt/xensource/libexec/xs-firstboot-x": []byte("#!/bin/sh\n")},
				Populate: chain(symlink(map[string]string{"etc/firstboot.d/98-abs": "/opt/xensource/libexec/xs-firstboot-x"}),
					func(dir string) error {
						return os.WriteFile(filepath.Join(dir, "etc/firstboot.d/state/98-abs"), nil, 0o644)
					})}, nil)
		}, 1, map[string]string{"7.1.0": "unknown", "8.2.0": "unknown"}},
		// ".." above the root lands on the installer's ramdisk too.
		{"acc-firstboot-above-root", "7.1", func(n string) fixtures.DiskSpec {
			return fixtures.Mini(n, "gpt", fixtures.RootSpec{Release: "7.1", Populate: symlink(map[string]string{"etc/firstboot.d/96-up": "../../../../x"})}, nil)
		}, 1, map[string]string{"7.1.0": "unknown"}},
		// XCP 1.6: XCPUpgrader of the 6.2 and 6.5 installers.
		{"acc-xcp-1.6", "6.5", func(n string) fixtures.DiskSpec {
			return fixtures.Mini(n, "dos", fixtures.RootSpec{Release: "6.1", Populate: inventory(xcp16)}, nil)
		}, 1, map[string]string{"6.0.0": "no", "6.1.0": "no", "6.2.0": "upgrade", "6.5.0": "upgrade", "7.0.0": "no"}},
		// A version the class compares by raising: the installer stops.
		{"acc-double-quoted-version", "6.2", func(n string) fixtures.DiskSpec {
			return fixtures.Mini(n, "dos", fixtures.RootSpec{Release: "5.5", Populate: inventory(inv55(`"5.5.0"`))}, nil)
		}, 1, map[string]string{"5.6.100": "stops", "6.0.0": "stops", "6.2.0": "stops", "6.5.0": "stops"}},
		// A space after the closing quote: readKeyValueFile keeps the quote
		// and the space, 5.5.0' reads as 5.5.0 with a suffix.
		{"acc-space-after-quote", "5.5", func(n string) fixtures.DiskSpec {
			return fixtures.Mini(n, "dos", fixtures.RootSpec{Release: "5.5", Populate: inventory(inv55("'5.5.0' "))}, nil)
		}, 1, map[string]string{"5.5.0": "upgrade"}},
		// Two roots: which one each generation takes.
		{"acc-two-roots-dos", "5.5", twoRootsDOS, 4, map[string]string{"5.5.0": "other-root", "5.6.0": "other-root", "6.5.0": "other-root", "7.0.0": "no"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			spec := c.disk(c.name)
			img, err := fixtures.BuildDisk(dir, spec)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			d, err := partition.Inspect(f, spec.Size)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			var root *fixtures.RootSpec
			for _, p := range spec.Partitions {
				if p.Number == c.examine {
					root = p.Root
				}
			}
			rootDir := filepath.Join(dir, "root")
			if err := fixtures.WriteXenServerRoot(rootDir, *root); err != nil {
				t.Fatal(err)
			}
			r, err := target.OpenRoot(rootDir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			st, err := versionfile.Inspect(r)
			if err != nil {
				t.Fatal(err)
			}
			st.Disk = &versionfile.DiskFacts{Disk: d, Partition: c.examine}
			for _, v := range st.Verdicts(versionfile.Installers()) {
				if want, ok := c.want[v.Installer]; ok && v.Outcome != want {
					t.Errorf("installer %s: %s (%s), want %s", v.Installer, v.Outcome, v.Reason, want)
				}
				if v.Outcome == versionfile.OutcomeOtherRoot && v.RootPartition == c.examine {
					t.Errorf("installer %s: other-root naming the examined partition", v.Installer)
				}
			}
			in := mustInstaller(t, c.installer)
			vd := st.Verdict(in)
			var full strings.Builder
			fmt.Fprintf(&full, "# %s, partition %d examined; the %s installer:\n# outcome %s (root partition %d): %s\n", c.name, c.examine, in.Release.Product, vd.Outcome, vd.RootPartition, vd.Reason)
			for _, g := range append(append([]versionfile.Gate{}, vd.Gates...), vd.DuringUpgrade...) {
				fmt.Fprintf(&full, "#   %-18s %-11s %s\n", g.Name, g.Status, g.Reason)
			}
			fmt.Fprintf(&full, "# firstboot remedy: %s\n", orDash(st.FirstbootRemedy(in)))
			golden(t, filepath.Join("testdata", "verdicts", c.name+".txt"), full.String()+statusTable(st))
		})
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// TestBuildAdviceSlashBuild: an 8.x build kept under a 7.x version is
// newer than the installer's own (the class keeps it in the last arc); the
// advice names the release table's real build, never "purely numeric" nor
// a build with a letter appended that the class cannot parse.
func TestBuildAdviceSlashBuild(t *testing.T) {
	in := mustInstaller(t, "7.1")
	for _, c := range []struct{ build, want, not string }{
		{"release/stockholm/master/7", "the release's real build 137272c", "purely numeric"},
		{"137272", "the build 137272 is purely numeric", "real build"},
	} {
		g := in.VersionGate(map[string]string{"PRODUCT_NAME": "xenenterprise", "PLATFORM_VERSION": "2.2.0", "BUILD_NUMBER": c.build})
		if g.Status != versionfile.StatusFail || !strings.Contains(g.Reason, c.want) || strings.Contains(g.Reason, c.not) {
			t.Errorf("%s: %s: %s", c.build, g.Status, g.Reason)
		}
	}
}

// TestPlanWhyNamesAddedKeys: a plan that only adds a key says which
// (the acceptance round saw "why: inventory: unchanged" while
// BACKUP_PARTITION was added).
func TestPlanWhyNamesAddedKeys(t *testing.T) {
	r := fixtureRoot(t, fixtures.RootSpec{Release: "5.5", Populate: func(dir string) error {
		p := filepath.Join(dir, versionfile.InventoryPath)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var keep []string
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if !strings.HasPrefix(l, "BACKUP_PARTITION=") {
				keep = append(keep, l)
			}
		}
		return os.WriteFile(p, []byte(strings.Join(keep, "")), 0o644)
	}})
	sp, err := versionfile.PlanSet(r, versionfile.SetRequest{ForInstaller: "5.5"})
	if err != nil {
		t.Fatal(err)
	}
	var why string
	for _, c := range sp.Plan.Changes {
		if c.Path == versionfile.InventoryPath {
			why = c.Why
		}
	}
	if !strings.Contains(why, "BACKUP_PARTITION=/dev/disk/by-id/") || strings.Contains(why, "unchanged") {
		t.Errorf("inventory change: why %q", why)
	}
}

// TestFirstbootRemedyOwnRelease: an 8.2 root records its first boot in
// var/lib/misc/ran-*-init and never creates etc/firstboot.d/state. For an
// installer that wants that directory the advice is never "boot it once",
// and with executable scripts never an empty directory alone: a state file
// per script, through --mark-firstboot-done with its WARNING, after the
// directory is made by hand (which version set asks for when it refuses).
// The 8.2 installer itself takes the markers, which a boot writes.
func TestFirstbootRemedyOwnRelease(t *testing.T) {
	scripts := fixtures.WithFirstbootScripts("01-prepare-storage", "10-prepare-network")
	for _, c := range []struct {
		name      string
		spec      fixtures.RootSpec
		installer string
		want, not []string
		needsDir  bool
	}{
		{"8.2 root, 7.1 installer", fixtures.RootSpec{Release: "8.2", NeverBooted: true, Populate: scripts}, "7.1",
			[]string{"never creates etc/firstboot.d/state", "a state file for each executable script", "01-prepare-storage, 10-prepare-network", "an empty directory does not do", "mkdir -p ROOT/etc/firstboot.d/state", "--mark-firstboot-done (WARNING"},
			[]string{"boot it once", "boot the installed system"}, true},
		{"8.2 root booted, 6.5 installer", fixtures.RootSpec{Release: "8.2", Populate: scripts}, "6.5",
			[]string{"both var/lib/misc/ran-*-init present", "a state file for each executable script"}, []string{"boot it once"}, true},
		{"8.2 root, no scripts, 7.1 installer", fixtures.RootSpec{Release: "8.2", NeverBooted: true}, "7.1",
			[]string{"an empty etc/firstboot.d/state satisfies the 7.1.0 installer"}, []string{"boot it once", "--mark-firstboot-done"}, true},
		{"8.2 root, 8.2 installer", fixtures.RootSpec{Release: "8.2", NeverBooted: true, Populate: scripts}, "8.2",
			[]string{"boot it once", "ran-*-init"}, nil, false},
		// An older root without the directory: a boot may still be the
		// answer, but the empty directory is not offered as enough.
		{"7.1 root without state dir, 7.1 installer", fixtures.RootSpec{Release: "7.1", Populate: func(dir string) error {
			return os.RemoveAll(filepath.Join(dir, "etc/firstboot.d/state"))
		}}, "7.1",
			[]string{"an empty directory does not do", "a state file for each executable script", "--mark-firstboot-done (WARNING"}, []string{"create the directory by hand if"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := fixtureRoot(t, c.spec)
			st, err := versionfile.Inspect(r)
			if err != nil {
				t.Fatal(err)
			}
			in := mustInstaller(t, c.installer)
			got := st.FirstbootRemedy(in)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("remedy %q does not say %q", got, w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(got, w) {
					t.Errorf("remedy %q says %q", got, w)
				}
			}
			if st.FirstbootNeedsStateDir(in) != c.needsDir {
				t.Errorf("FirstbootNeedsStateDir = %v, want %v", !c.needsDir, c.needsDir)
			}
			if !c.needsDir {
				return
			}
			_, err = versionfile.PlanSet(r, versionfile.SetRequest{ForInstaller: c.installer, MarkFirstbootDone: true})
			if err == nil || !strings.Contains(err.Error(), "mkdir -p ROOT/etc/firstboot.d/state") || strings.Contains(err.Error(), "known to have run") {
				t.Errorf("--mark-firstboot-done without the directory: %v", err)
			}
		})
	}
}

// TestVerdictFailingGateAndUnknown: a failing gate decides the outcome
// even when another gate is unknown (the re-test's N6): "no" naming the
// failing gate first and what stays open, or "stops" when the unknown
// gate comes first in the installer's order (isUpgradeable before the
// range) and may raise; never "unknown", never offered.
func TestVerdictFailingGateAndUnknown(t *testing.T) {
	r := fixtureRoot(t, fixtures.RootSpec{Release: "8.2", Populate: chain(
		func(dir string) error { return os.MkdirAll(filepath.Join(dir, "etc/firstboot.d/state"), 0o755) },
		symlink(map[string]string{"etc/firstboot.d/98-sh": "/bin/sh"}),
		func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "etc/firstboot.d/state/98-sh"), nil, 0o644)
		})})
	st, err := versionfile.Inspect(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ installer, outcome, prefix, open string }{
		{"7.1", versionfile.OutcomeStops, "no Upgrade either way: version: ", "may stop (INSTALL FAILED, nothing offered), which is open: root-partition: "},
		{"8.0", versionfile.OutcomeStops, "no Upgrade either way: version: ", "firstboot: etc/firstboot.d/98-sh"},
		{"8.1", versionfile.OutcomeNo, "no: version: ", "; open, without changing the outcome: root-partition: "},
		{"5.0", versionfile.OutcomeNo, "no: version: ", "; open, without changing the outcome: root-partition: "},
	} {
		vd := st.Verdict(mustInstaller(t, c.installer))
		if vd.Outcome != c.outcome || vd.OffersUpgrade || !strings.HasPrefix(vd.Reason, c.prefix) || !strings.Contains(vd.Reason, c.open) {
			t.Errorf("installer %s: %s offers=%v %q, want %s %q ... %q", c.installer, vd.Outcome, vd.OffersUpgrade, vd.Reason, c.outcome, c.prefix, c.open)
		}
	}
}
