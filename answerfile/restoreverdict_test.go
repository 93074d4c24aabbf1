package answerfile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/versionfile"
)

// TestRestoreSupportCoversGenerations: every installer generation of the
// model has its answer-file rule, and the rules follow the history of
// answerfile.py: nothing before 8ba98e79f6c8, a stub until d787e219afc5
// (6.0 and 6.1), parseRestore from 6.2 on, unknown for 5.6 SP2.
func TestRestoreSupportCoversGenerations(t *testing.T) {
	t.Parallel()
	want := map[string]string{"5.0": "no", "5.5": "no", "5.6": "no", "5.6-fp1": "no", "5.6-sp2": "unknown", "6.0": "no"}
	for _, g := range versionfile.Generations() {
		s, ok := restoreSupport[g.ID]
		if !ok {
			t.Errorf("generation %s has no answer-file restore rule", g.ID)
			continue
		}
		w := want[g.ID]
		if w == "" {
			w = "yes"
		}
		if s.Status != w || s.Reason == "" || s.Source == "" {
			t.Errorf("generation %s: %+v, want status %s", g.ID, s, w)
		}
		if w == "yes" && !strings.Contains(s.Source, g.Commit) {
			t.Errorf("generation %s: source %q does not name the commit the row was read at (%s)", g.ID, s.Source, g.Commit)
		}
	}
	if len(restoreSupport) != len(versionfile.Generations()) {
		t.Errorf("%d answer-file rules for %d generations", len(restoreSupport), len(versionfile.Generations()))
	}
}

func TestMatchBackupDisk(t *testing.T) {
	t.Parallel()
	const byID = "/dev/disk/by-id/scsi-SATA_ST3500418AS_9VM155XS"
	for _, tc := range []struct{ name, primary, want string }{
		{"disk/by-id/scsi-SATA_ST3500418AS_9VM155XS", byID, MatchYes},
		{"sda", "/dev/sda", MatchYes},
		{"cciss/c0d0", "/dev/cciss/c0d0", MatchYes},
		{"sdb", "/dev/sda", MatchNo},
		{"cciss/c0d1", "/dev/cciss/c0d0", MatchNo},
		{"nvme0n1", "/dev/sda", MatchNo},
		{"sda", byID, MatchUnknown},
		{"disk/by-id/wwn-0x5000c500", byID, MatchUnknown}, // two links may name one disk
		{"mapper/3600508b1001c", "/dev/sda", MatchUnknown},
		{"md_d0", "/dev/md_d0", MatchUnknown},
		{"iscsi:10.0.0.1::3260:1:iqn.x", "/dev/sda", MatchUnknown},
		{"sda", "", MatchNo},
	} {
		got, why := MatchBackupDisk(tc.name, tc.primary)
		if got != tc.want || why == "" {
			t.Errorf("MatchBackupDisk(%q, %q) = %s (%s), want %s", tc.name, tc.primary, got, why, tc.want)
		}
	}
}

// inventory is the etc/xensource-inventory a fixture root of release rel
// gets, as partition.ParseInventory reads it.
func inventory(t *testing.T, rel, primary string) map[string]string {
	t.Helper()
	kv, err := fixtures.RootSpec{Release: rel, PrimaryDisk: primary}.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range kv {
		b.WriteString(e[0] + "='" + e[1] + "'\n")
	}
	return partition.ParseInventory([]byte(b.String()))
}

func installer(t *testing.T, v string) versionfile.Installer {
	t.Helper()
	in, err := versionfile.LookupInstaller(v)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestVerdictFor: one backup, two that match (the installer aborts), two
// that a name tells apart, one too old for 8.x beside a newer one, one
// that might match, and a name that does not select the backup.
func TestVerdictFor(t *testing.T) {
	t.Parallel()
	const byID = fixtures.DefaultPrimaryDisk
	name := DiskName(byID)
	b76 := partition.Backup{Partition: 2, Marker: ptr(true), Inventory: inventory(t, "7.6", byID)}
	b65 := partition.Backup{Partition: 5, Marker: ptr(true), Inventory: inventory(t, "6.5", byID)}
	b76other := partition.Backup{Partition: 5, Marker: ptr(true), Inventory: inventory(t, "7.6", "/dev/sda")}
	b76sda := partition.Backup{Partition: 2, Marker: ptr(true), Inventory: inventory(t, "7.6", "/dev/sda")}
	b76sdb := partition.Backup{Partition: 5, Marker: ptr(true), Inventory: inventory(t, "7.6", "/dev/sdb")}
	noMarker := partition.Backup{Partition: 5, Marker: ptr(false), Inventory: inventory(t, "7.6", byID)}
	for _, tc := range []struct {
		what      string
		installer string
		backups   []partition.Backup
		chosen    int
		name      string
		status    string
		backup    string
		others    []int
		maybe     []int
		reason    string
	}{
		{"one backup", "8.2", []partition.Backup{b76}, 2, name, StatusRestore, MatchYes, nil, nil, "within [2.1.0, 3.2.0]"},
		{"6.1 has no restore code", "6.1", []partition.Backup{b76}, 2, name, StatusNo, StatusNo, nil, nil, "FIXME add restore support"},
		{"5.5 has no answer-file restore", "5.5", []partition.Backup{b76}, 2, name, StatusNo, StatusNo, nil, nil, "taken for a fresh installation"},
		{"5.6 SP2 is not public", "5.6.199", []partition.Backup{b76}, 2, name, StatusUnknown, StatusUnknown, nil, nil, "not in the public history"},
		{"two matching backups, 7.1 finds both", "7.1", []partition.Backup{b76, b65}, 2, name, StatusAborts, MatchYes, []int{5}, nil, "Multiple backups were found"},
		{"the 6.5 backup is too old for 8.2", "8.2", []partition.Backup{b76, b65}, 2, name, StatusRestore, MatchYes, nil, nil, ""},
		{"too old for 8.2 when chosen", "8.2", []partition.Backup{b76, b65}, 5, name, StatusNo, MatchNo, []int{2}, nil, "outside [2.1.0, 3.2.0]: the installer skips it; this answer file selects the backup on partition(s) 2 instead"},
		{"by-id and /dev/sda might be one disk", "8.2", []partition.Backup{b76, b76other}, 2, name, StatusUnknown, MatchYes, nil, []int{5}, "might match"},
		{"kernel names tell them apart", "8.2", []partition.Backup{b76sda, b76sdb}, 5, "sdb", StatusRestore, MatchYes, nil, nil, "is the backup's PRIMARY_DISK /dev/sdb"},
		{"no marker, not found", "7.1", []partition.Backup{b76, noMarker}, 2, name, StatusRestore, MatchYes, nil, nil, ""},
		{"the name selects another disk", "8.2", []partition.Backup{b76sda}, 2, "sdc", StatusNo, MatchNo, nil, nil, "does not select"},
		{"the name might be the disk", "8.2", []partition.Backup{b76}, 2, "sda", StatusUnknown, MatchUnknown, nil, nil, "whether <backup-disk> selects"},
		{"XCP-ng needs PRIMARY_DISK on the host", "8.3", []partition.Backup{b76}, 2, name, StatusRestore, MatchYes, nil, nil, "only if PRIMARY_DISK exists on the host"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			v := VerdictFor(installer(t, tc.installer), tc.backups, tc.chosen, tc.name)
			if tc.others == nil {
				tc.others = []int{}
			}
			if tc.maybe == nil {
				tc.maybe = []int{}
			}
			if v.Status != tc.status || v.Backup != tc.backup || !slices.Equal(v.Others, tc.others) || !slices.Equal(v.MaybeOthers, tc.maybe) || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("got %+v\nwant status %s backup %s others %v maybe %v reason containing %q", v, tc.status, tc.backup, tc.others, tc.maybe, tc.reason)
			}
			if v.Source == "" {
				t.Error("no source")
			}
			if got := v.Restorable(false); got != (tc.status == StatusRestore) {
				t.Errorf("Restorable(false) = %v", got)
			}
			if got := v.Restorable(true); got != (tc.backup == MatchYes) {
				t.Errorf("Restorable(true) = %v", got)
			}
		})
	}
}

func TestChooseBackup(t *testing.T) {
	t.Parallel()
	parts := func(n ...int) []partition.Partition {
		var p []partition.Partition
		for _, x := range n {
			p = append(p, partition.Partition{Number: x})
		}
		return p
	}
	backups := func(n ...int) []partition.Backup {
		b := []partition.Backup{}
		for _, x := range n {
			b = append(b, partition.Backup{Partition: x, Marker: ptr(true)})
		}
		return b
	}
	disk := func(backup int, bs []partition.Backup) *partition.Disk {
		x := &partition.XenServer{RootPartition: 1, Backups: bs}
		if backup > 0 {
			x.Backup = &partition.Backup{Partition: backup}
		}
		return &partition.Disk{Path: "d.img", Partitions: parts(1, 2, 3, 5), XenServer: x}
	}
	for _, tc := range []struct {
		what string
		d    *partition.Disk
		want int
		got  int
		code int
		msg  string
	}{
		{"the only one", disk(2, backups(2)), 0, 2, 0, "the only partition carrying"},
		{"the only one, not the root's", disk(2, backups(5)), 0, 5, 0, "the only partition carrying"},
		{"several: the root's", disk(2, backups(2, 5)), 0, 2, 0, "the root's backup partition; partitions 2, 5 carry"},
		{"several, none the root's", disk(2, backups(3, 5)), 0, 0, xerr.ExitInvalid, "choose one with --partition N"},
		{"asked for", disk(2, backups(2, 5)), 5, 5, 0, "--partition"},
		{"asked for one without marker", disk(2, backups(2)), 3, 0, xerr.ExitRefused, "partition 3 of d.img carries no .xen-backup-partition"},
		{"asked for one that does not exist", disk(2, backups(2)), 9, 0, xerr.ExitInvalid, "d.img has no partition 9"},
		{"none", disk(2, backups()), 0, 0, xerr.ExitRefused, "partition 2, after the root, has no marker"},
		{"no root", &partition.Disk{Path: "d.img"}, 0, 0, xerr.ExitRefused, "no XenServer root partition"},
		{"not scanned", &partition.Disk{Path: "d.img", Warnings: []string{"cannot read markers: debugfs (e2fsprogs) not found"}, XenServer: &partition.XenServer{}}, 0, 0, xerr.ExitFailed, "debugfs (e2fsprogs) not found"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			b, why, err := ChooseBackup(tc.d, tc.want)
			if tc.code != 0 {
				if err == nil || xerr.Code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("err %v (exit %d), want exit %d with %q", err, xerr.Code(err), tc.code, tc.msg)
				}
				return
			}
			if err != nil || b.Partition != tc.got || !strings.Contains(why, tc.msg) {
				t.Errorf("partition %d %q %v, want %d with %q", b.Partition, why, err, tc.got, tc.msg)
			}
		})
	}
}

// TestComparePaths: real files and symlinks stand for the devices; a
// disk/by-id name of another device refuses, a kernel name warns.
func TestComparePaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	byID := filepath.Join(dir, "disk", "by-id")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(byID, 0o755))
	sda, sdb := filepath.Join(dir, "sda"), filepath.Join(dir, "sdb")
	must(os.WriteFile(sda, nil, 0o644))
	must(os.WriteFile(sdb, nil, 0o644))
	must(os.Symlink("../../sda", filepath.Join(byID, "scsi-A")))
	must(os.Symlink("../../sdb", filepath.Join(byID, "scsi-B")))
	for _, tc := range []struct {
		primary, status string
		refuse          bool
		msg             string
	}{
		{filepath.Join(byID, "scsi-A"), HostSame, false, "the installer restores onto this disk"},
		{sda, HostSame, false, ""},
		{filepath.Join(byID, "scsi-B"), HostOther, true, "the installer would restore onto " + sdb},
		{sdb, HostOther, false, "if the installer enumerates the disks as this system does"},
		{filepath.Join(byID, "scsi-C"), HostAbsent, false, "does not exist on this system"},
	} {
		h := comparePaths(sda, tc.primary)
		if h.Status != tc.status || h.Refuse != tc.refuse || !strings.Contains(h.Message, tc.msg) {
			t.Errorf("%s: %+v, want %s refuse %v %q", tc.primary, h, tc.status, tc.refuse, tc.msg)
		}
	}
	if h := CheckHost(sda, "/dev/sda"); h.Status != HostImage {
		t.Errorf("a regular file is an image: %+v", h)
	}
}

// TestPlanRestore: the name comes from the backup's PRIMARY_DISK, or --as;
// a backup without PRIMARY_DISK, or with one that cannot be written, is
// refused; Check refuses per installer and accepts a multiple match only
// with allowMultiple.
func TestPlanRestore(t *testing.T) {
	t.Parallel()
	const byID = fixtures.DefaultPrimaryDisk
	d := func(bs ...partition.Backup) *partition.Disk {
		return &partition.Disk{Path: "d.img", Partitions: []partition.Partition{{Number: 1}, {Number: 2}, {Number: 5}},
			XenServer: &partition.XenServer{RootPartition: 1, Backup: &partition.Backup{Partition: 2}, Backups: bs}, Warnings: []string{}}
	}
	b76 := partition.Backup{Partition: 2, Marker: ptr(true), Inventory: inventory(t, "7.6", byID)}
	b65 := partition.Backup{Partition: 5, Marker: ptr(true), Inventory: inventory(t, "6.5", byID)}
	ins := versionfile.Installers()

	p, err := PlanRestore(d(b76, b65), 0, "", ins)
	if err != nil {
		t.Fatal(err)
	}
	if p.BackupDisk != DiskName(byID) || p.DiskFrom != "inventory" || p.Partition != 2 || len(p.Verdicts) != len(ins) || p.Host.Status != HostImage {
		t.Errorf("plan %+v", p)
	}
	wantBackups := []BackupMatch{
		{Partition: 2, Inventory: b76.Inventory, PrimaryDisk: byID, Match: MatchYes},
		{Partition: 5, Inventory: b65.Inventory, PrimaryDisk: byID, Match: MatchYes},
	}
	if diff := cmp.Diff(wantBackups, p.Backups, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".MatchReason" }, cmp.Ignore())); diff != "" {
		t.Errorf("backups (-want +got):\n%s", diff)
	}
	if _, err := p.Check(installer(t, "8.2"), false); err != nil {
		t.Errorf("8.2: %v", err)
	}
	v, err := p.Check(installer(t, "7.1"), false)
	if xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "Multiple backups were found") || !strings.Contains(err.Error(), "--allow-multiple") || v.Status != StatusAborts {
		t.Errorf("7.1: %+v %v", v, err)
	}
	if _, err := p.Check(installer(t, "7.1"), true); err != nil {
		t.Errorf("7.1 --allow-multiple: %v", err)
	}
	if _, err := p.Check(installer(t, "6.0"), true); xerr.Code(err) != xerr.ExitRefused || strings.Contains(err.Error(), "--allow-multiple") {
		t.Errorf("6.0 --allow-multiple: %v", err)
	}

	p, err = PlanRestore(d(b76), 0, "sdz", ins)
	if err != nil || p.BackupDisk != "sdz" || p.DiskFrom != "as" {
		t.Fatalf("--as: %+v %v", p, err)
	}
	if _, err := p.Check(installer(t, "8.2"), false); xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("--as sdz for a by-id backup: %v", err)
	}

	noPrimary := partition.Backup{Partition: 2, Marker: ptr(true), Inventory: map[string]string{"PRODUCT_VERSION": "7.6.0"}}
	if _, err := PlanRestore(d(noPrimary), 0, "", ins); xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "has no PRIMARY_DISK") {
		t.Errorf("no PRIMARY_DISK: %v", err)
	}
	if _, err := PlanRestore(d(partition.Backup{Partition: 2, Marker: ptr(true)}), 0, "", ins); xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "cannot be read") {
		t.Errorf("no inventory: %v", err)
	}
	odd := partition.Backup{Partition: 2, Marker: ptr(true), Inventory: map[string]string{"PRIMARY_DISK": "/dev/disk/by-id/a b"}}
	if _, err := PlanRestore(d(odd), 0, "", ins); xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), "add --as NAME") {
		t.Errorf("PRIMARY_DISK with a space: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
