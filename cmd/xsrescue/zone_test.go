package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/zfsroot"
)

func zfsrootTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "zfsroot", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// zoneLayout builds fixtures.BuildZFSZones on a fresh pool; z1's zone root
// holds the snv_134 example cfg_cache and disabled_auth and a small etc.
func zoneLayout(t *testing.T) *fixtures.ZFSZones {
	t.Helper()
	p := zfsPool(t, 22, false)
	z, err := fixtures.BuildZFSZones(p, filepath.Join(t.TempDir(), "gz"), map[string][]byte{
		zfsroot.ImageFileCfgCache: zfsrootTestdata(t, "ips/cfg_cache.snv134"),
		zfsroot.ImageFileDisabled: zfsrootTestdata(t, "ips/disabled_auth.snv134"),
		"etc/passwd":              []byte("root:x:0:0:Super-User:/root:/usr/bin/bash\n"),
		"etc/nodename":            []byte("z1\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func snapshots(t *testing.T, ds string) []string {
	t.Helper()
	out, err := fixtures.ZFS("list", "-H", "-t", "snapshot", "-o", "name", "-r", ds)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, l := range strings.Fields(out) {
		if strings.Contains(l, "@xsrescue-") {
			s = append(s, l)
		}
	}
	return s
}

func TestZoneListCLI(t *testing.T) {
	z := zoneLayout(t)
	before := treeSum(t, filepath.Join(z.GZRoot, "etc"))
	code, stdout, stderr := runCLI("zone", "list", "--root", z.GZRoot, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Zones []struct {
			Name, State, Brand string
			Here               string `json:"zone_root_here"`
			ZBE                *zfsroot.ZBEReport
			ZBENote            string `json:"zbe_note"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, zd := range doc.Zones {
		if zd.Name == "z1" && zd.Here != z.ZoneRoot {
			t.Errorf("z1 zone root here %q, want %q", zd.Here, z.ZoneRoot)
		}
		s := zd.State + " " + zd.Brand
		if zd.ZBE != nil {
			s += " " + zd.ZBE.Layout + " current=" + zd.ZBE.Current + " error=" + zd.ZBE.Error
		} else {
			s += " note=" + zd.ZBENote
		}
		got[zd.Name] = s
	}
	want := map[string]string{
		"z1": "installed ipkg opensolaris current=" + z.ZBE + " error=",
		"z2": "installed ipkg opensolaris current= error=no active dataset.",
		"z3": "installed solaris solaris11 current= error=multiple active datasets.",
		"z4": "configured ipkg note=configured only: no zone boot environments yet",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	code, stdout, _ = runCLI("zone", "list", "--root", z.GZRoot)
	if code != 0 || !strings.Contains(stdout, "zoneadm would fail: no active dataset.\n  fix: zfs set org.opensolaris.libbe:parentbe="+fixtures.ZFSCurrentBEUUID) {
		t.Errorf("text output:\n%s", stdout)
	}
	if treeSum(t, filepath.Join(z.GZRoot, "etc")) != before {
		t.Error("zone list changed the global zone root")
	}
	// A zone in the index without its XML is listed with the problem,
	// the others as before; still exit 0 (a read-only report).
	testutil.Must(t, os.Remove(filepath.Join(z.GZRoot, "etc/zones/z4.xml")))
	code, stdout, stderr = runCLI("zone", "list", "--root", z.GZRoot)
	if code != 0 || !strings.Contains(stdout, "z4  configured  brand -  ") || !strings.Contains(stdout, "\n  problem: etc/zones/z4.xml missing: zoneadm cannot attach it\n") ||
		!strings.Contains(stdout, "z1  installed  brand ipkg") || strings.Contains(stdout, "openat") {
		t.Errorf("missing z4.xml: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI("zone", "list", "--root", z.GZRoot, "--json")
	if code != 0 || !strings.Contains(stdout, `"config_error": "etc/zones/z4.xml missing: zoneadm cannot attach it"`) {
		t.Errorf("missing z4.xml --json: exit %d\n%s", code, stdout)
	}
	// --global-be: z2's only zbe belongs to the older BE, current there;
	// the default (bootfs) is said to be the BE active on reboot.
	if !strings.Contains(stdout, `"global_be_source": "bootfs"`) {
		t.Errorf("no global_be_source:\n%s", stdout)
	}
	code, stdout, stderr = runCLI("zone", "list", "--root", z.GZRoot, "--global-be", "opensolaris")
	if code != 0 || !strings.Contains(stdout, "global BE "+strings.Split(z.Bootfs, "/")[0]+"/ROOT/opensolaris uuid "+fixtures.ZFSOldBEUUID+" (--global-be)") ||
		!strings.Contains(stdout, "* "+strings.Split(z.Bootfs, "/")[0]+"/zones/z2/ROOT/zbe ") {
		t.Errorf("--global-be: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI("zone", "list", "--root", z.GZRoot, "--global-be", "nosuch"); code != 2 || !strings.Contains(stderr, "no such global boot environment") {
		t.Errorf("--global-be nosuch: exit %d %s", code, stderr)
	}
	// A truncated index: the last line (no newline) is skipped, as
	// getzoneent skips it, and said so; a uuid it cannot parse is cleared.
	idx := filepath.Join(z.GZRoot, "etc/zones/index")
	b, err := os.ReadFile(idx)
	testutil.Must(t, err)
	b = []byte(strings.Replace(string(b), "6a1f5c7e-0c2d-4a35-9b0e-4f6a7d2e9c12", "garbage", 1))
	testutil.Must(t, os.WriteFile(idx, b[:len(b)-1], 0o644))
	code, stdout, _ = runCLI("zone", "list", "--root", z.GZRoot)
	if code != 0 || !strings.Contains(stdout, "etc/zones/index line 6 ignored (the last line has no newline (a truncated index?): getzoneent skips it): z4:configured:/zones/z4:") ||
		!strings.Contains(stdout, `problem: etc/zones/index line 4: uuid "garbage" is not a uuid: getzoneent clears it`) || strings.Contains(stdout, "z4  configured") {
		t.Errorf("truncated index: exit %d\n%s", code, stdout)
	}
}

func TestZonePublishersCLI(t *testing.T) {
	zr := t.TempDir()
	gz := t.TempDir()
	for dir, files := range map[string]map[string]string{
		zr: {zfsroot.ImageFileCfgCache: "ips/cfg_cache.snv134", zfsroot.ImageFileDisabled: "ips/disabled_auth.snv134"},
		gz: {zfsroot.ImageFilePkg5: "ips/pkg5.image.s11"},
	} {
		for dst, src := range files {
			testutil.Must(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(dst)), 0o755))
			testutil.Must(t, os.WriteFile(filepath.Join(dir, dst), zfsrootTestdata(t, src), 0o644))
		}
	}
	before := treeSum(t, zr)
	code, stdout, stderr := runCLI("zone", "publishers", "--zone-root", zr, "--global-root", gz, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		File        string
		Preferred   string
		SearchOrder []string `json:"search_order"`
		Publishers  []zfsroot.Publisher
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.File != zfsroot.ImageFileCfgCache || doc.Preferred != "za21342" || len(doc.Publishers) != 3 {
		t.Fatalf("%+v", doc)
	}
	za := doc.Publishers[0]
	if za.Name != "za21342" || strings.Join(za.Suspects, "|") != "zone-only: the global zone has no publisher za21342, so attach leaves it as is|leftover temporary publisher of an interrupted zone attach|dead origin http://localhost:10000/: the temporary depot of a zone attach, gone once attach ends" {
		t.Errorf("za21342 suspects %q", za.Suspects)
	}
	if osorg := doc.Publishers[1]; osorg.Name != "opensolaris.org" || len(osorg.Suspects) != 2 {
		t.Errorf("opensolaris.org suspects %q (the global zone has it)", osorg.Suspects)
	}
	if treeSum(t, zr) != before {
		t.Error("zone publishers changed the zone root")
	}
	if code, _, stderr := runCLI("zone", "publishers", "--zone-root", gz+"/nonexistent"); code != 2 {
		t.Errorf("missing root: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCLI("zone", "publishers", "--zone-root", t.TempDir()); code != 2 || !strings.Contains(stderr, "no IPS image configuration") {
		t.Errorf("empty root: exit %d %s", code, stderr)
	}
}

// TestZoneEditsCLI: on a zone root that is a mounted zbe of a real pool,
// each edit gives exactly the golden file, takes and records the ZFS
// snapshot, is idempotent, and undoes byte-identically.
func TestZoneEditsCLI(t *testing.T) {
	z := zoneLayout(t)
	jdb := filepath.Join(t.TempDir(), "journal.db")
	cfg := filepath.Join(z.ZoneRoot, zfsroot.ImageFileCfgCache)
	orig, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	origSum := treeSum(t, filepath.Join(z.ZoneRoot, "var/pkg"))

	// --dry-run: a diff, no snapshot, nothing written.
	code, stdout, stderr := runCLI("zone", "unset-publisher", "za21342", "--zone-root", z.ZoneRoot, "--journal", jdb, "--dry-run")
	if code != 0 || !strings.Contains(stdout, "-[authority_za21342]") || !strings.Contains(stdout, "+preferred-authority = opensolaris.org") || !strings.Contains(stdout, "zfs-snapshot "+z.ZBE+"@xsrescue-") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if treeSum(t, filepath.Join(z.ZoneRoot, "var/pkg")) != origSum || len(snapshots(t, z.ZBE)) != 0 {
		t.Fatal("dry run changed something")
	}

	code, stdout, stderr = runCLI("zone", "unset-publisher", "za21342", "--zone-root", z.ZoneRoot, "--journal", jdb, "--yes", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var doc struct {
		File     string
		Snapshot string
	}
	m := parseMutation(t, stdout, &doc)
	snaps := snapshots(t, z.ZBE)
	if len(snaps) != 1 || snaps[0] != doc.Snapshot || m.Op == nil || len(m.Op.Changes) != 2 || m.Op.Changes[0].Action != "external" ||
		!strings.Contains(m.Op.Changes[0].Description, "zfs rollback "+doc.Snapshot) || m.Op.Changes[1].Path != zfsroot.ImageFileCfgCache ||
		len(m.Changes) != 2 || m.Changes[1].Diff == nil || *m.Target.Root != z.ZoneRoot {
		t.Fatalf("snapshots %v, doc %+v\n%s", snaps, doc, stdout)
	}
	if got, _ := os.ReadFile(cfg); string(got) != string(zfsrootTestdata(t, "ips/cfg_cache.unset-za21342.golden")) {
		t.Errorf("cfg_cache after unset-publisher:\n%s", got)
	}
	// Idempotent: nothing to do, no new snapshot.
	if code, stdout, _ := runCLI("zone", "unset-publisher", "za21342", "--zone-root", z.ZoneRoot, "--journal", jdb, "--yes"); code != 0 || !strings.Contains(stdout, "already as requested") || len(snapshots(t, z.ZBE)) != 1 {
		t.Errorf("second run: exit %d %s", code, stdout)
	}
	// set-sticky on top, then undo both: byte-identical to the original.
	code, _, stderr = runCLI("zone", "set-sticky", "opensolaris.org", "false", "--zone-root", z.ZoneRoot, "--journal", jdb, "--yes")
	if code != 0 {
		t.Fatalf("set-sticky: exit %d %s", code, stderr)
	}
	if got, _ := os.ReadFile(cfg); !strings.Contains(string(got), "[authority_opensolaris.org]\nalias = None\nprefix = opensolaris.org\ndisabled = False\nsticky = False\n") {
		t.Errorf("after set-sticky:\n%s", got)
	}
	for _, op := range []string{"2", "1"} {
		if code, out, stderr := runCLI("journal", "undo", op, "--root", z.ZoneRoot, "--journal", jdb, "--yes"); code != 0 {
			t.Fatalf("undo %s: exit %d\n%s\n%s", op, code, out, stderr)
		}
	}
	if got, _ := os.ReadFile(cfg); string(got) != string(orig) {
		t.Errorf("undo not byte-identical:\n%s", got)
	}

	// A global-zone image is refused unless --force.
	pkg5 := strings.Replace(string(zfsrootTestdata(t, "ips/pkg5.image.s11")), "variant.opensolaris.zone = nonglobal", "variant.opensolaris.zone = global", 1)
	gzr := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(gzr, "var/pkg"), 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(gzr, zfsroot.ImageFilePkg5), []byte(pkg5), 0o644))
	if code, _, stderr := runCLI("zone", "set-sticky", "solaris", "false", "--zone-root", gzr, "--journal", jdb, "--yes"); code != 3 || !strings.Contains(stderr, "not a non-global zone image") {
		t.Errorf("global image: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCLI("zone", "set-sticky", "solaris", "false", "--zone-root", gzr, "--journal", jdb, "--yes", "--force"); code != 0 {
		t.Errorf("--force: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCLI("zone", "set-sticky", "solaris", "maybe", "--zone-root", gzr); code != 2 {
		t.Errorf("bad bool: exit %d %s", code, stderr)
	}
}

// TestZoneRestoreEtcCLI: the dry run makes nothing in the pool (zfs-fuse
// needs a clone to read the snapshot); the real run restores content,
// mode and owner, lists files only in the zone root, and a second run is
// "already as requested" without another safety snapshot.
func TestZoneRestoreEtcCLI(t *testing.T) {
	z := zoneLayout(t)
	jdb := filepath.Join(t.TempDir(), "journal.db")
	snap := z.ZBE + "@pre-attach"
	if _, err := fixtures.ZFS("snapshot", snap); err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(z.ZoneRoot, "etc/passwd")
	testutil.Must(t, os.WriteFile(passwd, []byte("broken\n"), 0o644))
	testutil.Must(t, os.Chmod(passwd, 0o600))
	testutil.Must(t, os.Chown(passwd, 7, 8))
	testutil.Must(t, os.Remove(filepath.Join(z.ZoneRoot, "etc/nodename")))
	testutil.Must(t, os.WriteFile(filepath.Join(z.ZoneRoot, "etc/extra"), []byte("made after the snapshot\n"), 0o644))
	before := treeSum(t, filepath.Join(z.ZoneRoot, "etc"))
	datasets := poolDatasets(z.ZBE)
	// Arguments are checked before the pool is reached, dry run included.
	for _, bad := range []string{"../../etc", "/", "etc/../.."} {
		code, stdout, stderr := runCLI("zone", "restore-etc", "--zone-root", z.ZoneRoot, "--snapshot", snap, "--journal", jdb, "--dry-run", "--paths", bad)
		if code != 2 || !strings.Contains(stderr, "must name something below the zone root") || strings.Contains(stderr, "dry run") {
			t.Errorf("--paths %s --dry-run: exit %d\n%s\n%s", bad, code, stdout, stderr)
		}
	}
	code, stdout, stderr := runCLI("zone", "restore-etc", "--zone-root", z.ZoneRoot, "--snapshot", snap, "--journal", jdb, "--dry-run")
	if code != 0 || !strings.Contains(stderr, "a dry run does not make") || !strings.Contains(stderr, "zfs clone -o readonly=on "+snap) {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if treeSum(t, filepath.Join(z.ZoneRoot, "etc")) != before {
		t.Fatal("dry run changed etc")
	}
	code, stdout, _ = runCLI("zone", "restore-etc", "--zone-root", z.ZoneRoot, "--snapshot", snap, "--journal", jdb, "--dry-run", "--json")
	pool, _, _ := strings.Cut(snap, "/")
	if code != 0 || !strings.Contains(stdout, `"would_clone": "`+pool+`/xsrescue-restore-`) || !strings.Contains(stdout, `"read_through": null`) {
		t.Errorf("dry run --json: exit %d\n%s", code, stdout)
	}
	if after := poolDatasets(z.ZBE); after != datasets {
		t.Fatalf("dry run changed the pool:\n%s\nwas\n%s", after, datasets)
	}
	code, stdout, stderr = runCLI("zone", "restore-etc", "--zone-root", z.ZoneRoot, "--snapshot", snap, "--journal", jdb, "--yes", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var doc struct {
		Skipped []string `json:"skipped"`
	}
	m := parseMutation(t, stdout, &doc)
	if len(m.Ops) != 3 || len(doc.Skipped) != 1 || doc.Skipped[0] != "etc/extra: only in the zone root (kept, not restored)" {
		t.Errorf("document: %s", stdout)
	}
	if b, _ := os.ReadFile(passwd); string(b) != "root:x:0:0:Super-User:/root:/usr/bin/bash\n" {
		t.Errorf("passwd %q", b)
	}
	if st, err := os.Stat(passwd); err != nil || st.Mode().Perm() != 0o644 || st.Sys().(*syscall.Stat_t).Uid != 0 || st.Sys().(*syscall.Stat_t).Gid != 0 {
		t.Errorf("passwd mode/owner not restored: %v %v", st.Mode(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(z.ZoneRoot, "etc/nodename")); string(b) != "z1\n" {
		t.Errorf("nodename %q", b)
	}
	if out := poolDatasets(z.ZBE); strings.Contains(out, "xsrescue-restore") {
		t.Errorf("temporary clone left behind:\n%s", out)
	}
	if len(snapshots(t, z.ZBE)) != 1 {
		t.Errorf("no safety snapshot taken before the restore")
	}
	code, stdout, stderr = runCLI("zone", "restore-etc", "--zone-root", z.ZoneRoot, "--snapshot", snap, "--journal", jdb, "--yes", "--json")
	if code != 0 || !strings.Contains(stdout, `"op": null`) {
		t.Errorf("second run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := len(snapshots(t, z.ZBE)); n != 1 {
		t.Errorf("second run took another safety snapshot (%d)", n)
	}
	if code, _, stderr := runCLI("zone", "restore-etc", "--zone-root", z.ZoneRoot, "--snapshot", "nosuch", "--journal", jdb); code != 2 {
		t.Errorf("bad snapshot name: exit %d %s", code, stderr)
	}
	// etc a symlink (here to a directory of the rescue host): nothing can
	// be restored, which is not "already as requested" but exit 4 with
	// the reason, and neither the zone root nor the host is touched.
	host := t.TempDir()
	testutil.Must(t, os.WriteFile(filepath.Join(host, "passwd"), []byte("host\n"), 0o600))
	testutil.Must(t, os.Rename(filepath.Join(z.ZoneRoot, "etc"), filepath.Join(z.ZoneRoot, "etc.real")))
	testutil.Must(t, os.Symlink(host, filepath.Join(z.ZoneRoot, "etc")))
	hostBefore := treeSum(t, host)
	code, stdout, stderr = runCLI("zone", "restore-etc", "--zone-root", z.ZoneRoot, "--snapshot", snap, "--journal", jdb, "--yes", "--json")
	const why = "etc: a directory in the snapshot but a symlink in the zone root"
	m = parseMutation(t, stdout, &doc)
	if code != 4 || len(m.Problems) != 1 || m.Problems[0] != why || m.Changed || len(m.Ops) != 0 || !strings.Contains(stderr, why) {
		t.Errorf("etc a symlink --json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI("zone", "restore-etc", "--zone-root", z.ZoneRoot, "--snapshot", snap, "--journal", jdb, "--yes")
	if code != 4 || strings.Contains(stdout+stderr, "already as requested") || !strings.Contains(stdout, "Nothing restored") {
		t.Errorf("etc a symlink: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if treeSum(t, host) != hostBefore || len(snapshots(t, z.ZBE)) != 1 {
		t.Errorf("etc a symlink: the host directory changed or a safety snapshot was taken")
	}
}

// TestZoneRestoreEtcAltrootCLI: on a pool imported with -R (as docs/zfs.md
// says to import), the clone zfs mounts below the altroot is used and
// removed, and the restore works.
func TestZoneRestoreEtcAltrootCLI(t *testing.T) {
	if err := fixtures.EnsureZFSFuse(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	z, err := fixtures.NewZFSAltrootZone(dir, fmt.Sprintf("xszfs%dcalt", os.Getpid()), 22)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := z.Pool.Destroy(); err != nil {
			t.Error(err)
		}
	})
	ds, root, alt := z.Dataset, z.ZoneRoot, z.Alt
	if _, err := fixtures.ZFS("snapshot", ds+"@before"); err != nil {
		t.Fatal(err)
	}
	testutil.Must(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("evil\n"), 0o600))
	code, stdout, stderr := runCLI("zone", "restore-etc", "--zone-root", root, "--snapshot", ds+"@before",
		"--journal", filepath.Join(dir, "j.db"), "--yes")
	if code != 0 || strings.Contains(stderr, "<nil>") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if st, err := os.Stat(filepath.Join(root, "etc/passwd")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("passwd: %v %v", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); string(b) != "root:x:0:0\n" {
		t.Errorf("passwd %q", b)
	}
	if out := poolDatasets(ds); strings.Contains(out, "xsrescue-restore") {
		t.Errorf("temporary clone left behind:\n%s", out)
	}
	if m, _ := filepath.Glob(filepath.Join(alt, ".xsrescue-restore-*")); len(m) != 0 {
		t.Errorf("clone mountpoints left behind: %v", m)
	}
}

// eraZoneRoot is a zone root holding zfsroot/testdata/ips/eras/NAME.
func eraZoneRoot(t *testing.T, name string) string {
	t.Helper()
	zr := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(zr, "var/pkg"), 0o755))
	for _, f := range []string{"cfg_cache", "pkg5.image", "disabled_auth"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "zfsroot", "testdata", "ips", "eras", name, f))
		if os.IsNotExist(err) {
			continue
		}
		testutil.Must(t, err)
		testutil.Must(t, os.WriteFile(filepath.Join(zr, "var/pkg", f), b, 0o644))
	}
	return zr
}

// TestZonePublishersProblemsCLI: what makes the era's pkg refuse the image
// is listed with file and line, and the exit status is 4; a configuration
// pkg reads is exit 0 with what pkg sees (a missing sticky: True for
// snv_134 pkg, False in a version 3 configuration). Nothing is written.
func TestZonePublishersProblemsCLI(t *testing.T) {
	for _, tc := range []struct {
		era, problem string
		code         int
		sticky       bool
		era2, readAs string
		pkg          string // --pkg, when not the default
	}{
		{"v3-cfg-cache-invalid-boolean", `"file": "var/pkg/cfg_cache", "line": 29, "pkg": "solaris11"`, 4, false, "cfg_cache-v3", "Solaris 11 pkg", ""},
		{"pkg5-repeated-key", `"file": "var/pkg/pkg5.image", "line": 59, "pkg": "python3"`, 4, true, "pkg5.image", "Solaris 11 pkg", ""},
		{"v2-missing-sticky", "", 0, false, "cfg_cache-v2", "Solaris 11 pkg", ""},
		{"pkg5-missing-sticky", "", 0, false, "pkg5.image", "Solaris 11 pkg", ""},
		// The zone's own OpenSolaris pkg reads a missing sticky as True.
		{"v2-missing-sticky", "", 0, true, "cfg_cache-v2", "snv_134 pkg", "snv_134"},
		// [DEFAULT]'s keys reach [facet]: every pkg stops (KeyError).
		{"pkg5-default-section", `"file": "var/pkg/pkg5.image", "line": 1, "pkg": "solaris11"`, 4, true, "pkg5.image", "Solaris 11 pkg", ""},
		{"v2-default-section", `"file": "var/pkg/cfg_cache", "line": 1, "pkg": "snv_134"`, 4, true, "cfg_cache-v2", "snv_134 pkg", "snv_134"},
	} {
		t.Run(tc.era+"/"+tc.pkg, func(t *testing.T) {
			zr := eraZoneRoot(t, tc.era)
			before := treeSum(t, zr)
			args := []string{"zone", "publishers", "--zone-root", zr}
			if tc.pkg != "" {
				args = append(args, "--pkg", tc.pkg)
			}
			code, stdout, stderr := runCLI(append(args, "--json")...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, stdout, stderr)
			}
			var doc struct {
				Era        string
				ReadAs     string `json:"read_as"`
				Publishers []zfsroot.Publisher
				Problems   []zfsroot.Problem
			}
			testutil.Must(t, json.Unmarshal([]byte(stdout), &doc))
			flat := strings.Join(strings.Fields(stdout), " ")
			if tc.problem != "" && !strings.Contains(flat, strings.Join(strings.Fields(tc.problem), " ")) {
				t.Errorf("problem %s missing:\n%s", tc.problem, stdout)
			}
			if (len(doc.Problems) > 0) != (tc.code == 4) || doc.Era != tc.era2 || !strings.HasPrefix(doc.ReadAs, tc.readAs) {
				t.Errorf("document %+v", doc)
			}
			if i := slices.IndexFunc(doc.Publishers, func(p zfsroot.Publisher) bool { return p.Name == "opensolaris.org" }); i < 0 || doc.Publishers[i].Sticky != tc.sticky {
				t.Errorf("opensolaris.org sticky, want %v: %+v", tc.sticky, doc.Publishers)
			}
			if tc.code == 4 && !strings.Contains(stderr, "make pkg refuse the image") {
				t.Errorf("stderr %q", stderr)
			}
			if code, stdout, _ := runCLI(args...); code != tc.code || (tc.code == 4) != strings.Contains(stdout, "PROBLEM (") {
				t.Errorf("text: exit %d\n%s", code, stdout)
			}
			if treeSum(t, zr) != before {
				t.Error("zone publishers changed the zone root")
			}
		})
	}
	// A pkg we do not reproduce, and snv_134 on a version 3 file.
	for _, bad := range [][2]string{{"v2-missing-sticky", "pkg7"}, {"pkg5-missing-sticky", "snv_134"}} {
		zr := eraZoneRoot(t, bad[0])
		if code, _, stderr := runCLI("zone", "publishers", "--zone-root", zr, "--pkg", bad[1]); code != 2 || !strings.Contains(stderr, "does not read the configuration") {
			t.Errorf("--pkg %s on %s: exit %d, %s", bad[1], bad[0], code, stderr)
		}
	}
}

// TestZoneEditDefaultSectionCLI: an image pkg refuses for its [DEFAULT]
// section is not edited (exit 3, the zone root byte-identical).
func TestZoneEditDefaultSectionCLI(t *testing.T) {
	zoneEditsRefused(t, eraZoneRoot(t, "pkg5-default-section"), "[DEFAULT]")
}

// zoneEditsRefused: set-sticky and unset-publisher of opensolaris.org on
// zone root zr exit 3 with want in the message, and zr is byte-identical.
func zoneEditsRefused(t *testing.T, zr, want string) {
	t.Helper()
	jdb := filepath.Join(t.TempDir(), "journal.db")
	before := treeSum(t, zr)
	for _, args := range [][]string{{"set-sticky", "opensolaris.org", "false"}, {"unset-publisher", "opensolaris.org"}} {
		code, stdout, stderr := runCLI(append(append([]string{"zone"}, args...), "--zone-root", zr, "--journal", jdb, "--yes")...)
		if code != 3 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, want 3 with %q\n%s\n%s", args[0], code, want, stdout, stderr)
		}
	}
	if treeSum(t, zr) != before {
		t.Error("the zone root changed")
	}
}

// TestZoneUnreadableImageCLI: a configuration pkg cannot parse (a UTF-8
// BOM; for Solaris 11 pkg a key line indented straight after its section
// header) is pkg refusing the image: exit 4 with file and line and an
// empty publisher list, and the edits refuse (exit 3, nothing written).
func TestZoneUnreadableImageCLI(t *testing.T) {
	for _, tc := range []struct{ era, problem string }{
		{"pkg5-bom", `"file": "var/pkg/pkg5.image", "line": 1, "pkg": "solaris11"`},
		{"pkg5-indented-key", `"file": "var/pkg/pkg5.image", "line": 53, "pkg": "solaris11"`},
	} {
		t.Run(tc.era, func(t *testing.T) {
			zr := eraZoneRoot(t, tc.era)
			code, stdout, stderr := runCLI("zone", "publishers", "--zone-root", zr, "--json")
			if flat := strings.Join(strings.Fields(stdout), " "); code != 4 || !strings.Contains(flat, tc.problem) ||
				!strings.Contains(flat, `"publishers": []`) || !strings.Contains(stderr, "pkg refuses the image") {
				t.Fatalf("exit %d, want 4 with %s\n%s\n%s", code, tc.problem, stdout, stderr)
			}
			zoneEditsRefused(t, zr, "pkg refuses the image; nothing changed")
		})
	}
}

// TestZoneSetStickyEraCLI: set-sticky true on a version 3 section without
// the key adds "sticky = True" (a missing key reads False there); a second
// run is "already as requested".
func TestZoneSetStickyEraCLI(t *testing.T) {
	zr := eraZoneRoot(t, "pkg5-missing-sticky")
	jdb := filepath.Join(t.TempDir(), "journal.db")
	code, stdout, stderr := runCLI("zone", "set-sticky", "opensolaris.org", "true", "--zone-root", zr, "--journal", jdb, "--yes")
	if code != 0 || strings.Contains(stdout, "already as requested") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(zr, zfsroot.ImageFilePkg5))
	if string(got) != string(zfsrootTestdata(t, "ips/eras/pkg5-missing-sticky/sticky-true.pkg5.image.golden")) {
		t.Errorf("pkg5.image:\n%s", got)
	}
	if code, stdout, _ := runCLI("zone", "set-sticky", "opensolaris.org", "true", "--zone-root", zr, "--journal", jdb, "--yes"); code != 0 || !strings.Contains(stdout, "already as requested") {
		t.Errorf("second run: exit %d\n%s", code, stdout)
	}
}

// poolDatasets lists every dataset and snapshot of the pool holding ds,
// and only that pool: other tests make and destroy their own pools in
// parallel on the same zfs-fuse daemon.
func poolDatasets(ds string) string {
	pool, _, _ := strings.Cut(ds, "/")
	out, _ := fixtures.ZFS("list", "-H", "-t", "all", "-o", "name", "-r", pool)
	return out
}
