package zfsroot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/zfsroot"
)

// TestParseZoneIndex: the index reads as illumos getzoneent_private
// reads it (getzoneent.c at illumos-gate 01a4de58).
func TestParseZoneIndex(t *testing.T) {
	long := "z8:installed:/zones/" + strings.Repeat("x", 1200) + ":u\n"
	in := string(readTestdata(t, "zones/index")) +
		"z3:installed:\"/zones/a:b\":6a1f5c7e-0c2d-4a35-9b0e-4f6a7d2e9c13\n" +
		"z5:running:/zones/z5:\n" +
		"nonsense\n" +
		":installed:/x:\n" +
		"z6:installed:zones/z6:6A1F5C7E-0C2D-4A35-9B0E-4F6A7D2E9C16\n" +
		"z7:installed:/zones/z7:not-a-uuid\n" +
		"z8u:unavailable:/zones/z8u:\n" +
		strings.Repeat("n", 64) + ":installed:/zones/long:\n" +
		strings.Repeat("n", 63) + ":installed:/zones/ok:\n" +
		"z10:incomplete:/zones/z10\r\n" +
		"z11:installed:\"/unterminated:quote\n" +
		" #z12:installed:/zones/z12:\n" +
		long +
		"z13:installed:/zones/z13:\x00hidden\n" +
		"z9:installed:/zones/z9:"
	idx, err := zfsroot.ParseZoneIndex(strings.NewReader(in), "etc/zones/index")
	if err != nil {
		t.Fatal(err)
	}
	want := []zfsroot.ZoneEntry{
		{Line: 7, Name: "global", State: "installed", Zonepath: "/"},
		{Line: 8, Name: "z1", State: "installed", Zonepath: "/zones/z1", UUID: "6a1f5c7e-0c2d-4a35-9b0e-4f6a7d2e9c11"},
		{Line: 9, Name: "z2", State: "configured", Zonepath: "/zones/z2"},
		{Line: 10, Name: "z3", State: "installed", Zonepath: "/zones/a:b", UUID: "6a1f5c7e-0c2d-4a35-9b0e-4f6a7d2e9c13"},
		{Line: 14, Name: "z6", State: "installed", Zonepath: "zones/z6", UUID: "6A1F5C7E-0C2D-4A35-9B0E-4F6A7D2E9C16"},
		{Line: 15, Name: "z7", State: "installed", Zonepath: "/zones/z7", UUIDCleared: "not-a-uuid"},
		{Line: 18, Name: strings.Repeat("n", 63), State: "installed", Zonepath: "/zones/ok"},
		{Line: 19, Name: "z10", State: "incomplete", Zonepath: "/zones/z10"},
		{Line: 20, Name: "z11", State: "installed", Zonepath: "/unterminated:quote"},
		{Line: 21, Name: " #z12", State: "installed", Zonepath: "/zones/z12"}, // '#' only in column 1 starts a comment
	}
	if d := cmp.Diff(want, idx.Zones); d != "" {
		t.Errorf("zones (-want +got):\n%s", d)
	}
	wantSkipped := []zfsroot.SkippedLine{
		{Line: 11, Text: "z5:running:/zones/z5:", Reason: `state "running" is not configured, incomplete or installed`},
		{Line: 12, Text: "nonsense", Reason: "empty state"},
		{Line: 13, Text: ":installed:/x:", Reason: "zone name empty or 64 characters or longer"},
		{Line: 16, Text: "z8u:unavailable:/zones/z8u:", Reason: `state "unavailable" (a Solaris 11 state): illumos getzoneent skips the zone`},
		{Line: 17, Text: strings.Repeat("n", 64) + ":installed:/zones/long:", Reason: "zone name empty or 64 characters or longer"},
		{Line: 22, Text: long[:1141], Reason: "no line end within 1141 bytes: getzoneent skips it as too long"},
		// fgets goes on where the long piece ended: the rest is a line.
		{Line: 22, Text: long[1141 : len(long)-1], Reason: "zone name empty or 64 characters or longer"},
		{Line: 23, Text: "z13:installed:/zones/z13:", Reason: "a NUL byte before the line end: getzoneent skips the line"},
		{Line: 24, Text: "z9:installed:/zones/z9:", Reason: "the last line has no newline (a truncated index?): getzoneent skips it"},
	}
	if d := cmp.Diff(wantSkipped, idx.Skipped); d != "" {
		t.Errorf("skipped (-want +got):\n%s", d)
	}
}

func TestParseZoneXML(t *testing.T) {
	c, err := zfsroot.ParseZoneXML(bytes.NewReader(readTestdata(t, "zones/z1.xml")), "etc/zones/z1.xml")
	if err != nil {
		t.Fatal(err)
	}
	want := &zfsroot.ZoneConfig{Name: "z1", Zonepath: "/zones/z1", Brand: "ipkg", Autoboot: "true", IPType: "shared"}
	if d := cmp.Diff(want, c); d != "" || zfsroot.ZoneRoot(c.Zonepath) != "/zones/z1/root" {
		t.Errorf("(-want +got):\n%s root %s", d, zfsroot.ZoneRoot(c.Zonepath))
	}
	for in, want := range map[string]string{
		"<?xml version=\"1.0\"?>\n<zone name=\"z\"\n zonepath=\"/z\">\n<net></zone>": "etc/zones/z.xml line 4: element <net> closed by </zone>",
		"<zone name=\"z\"/>": "etc/zones/z.xml: <zone> has no zonepath attribute",
		"":                   "etc/zones/z.xml: EOF",
	} {
		_, err := zfsroot.ParseZoneXML(strings.NewReader(in), "etc/zones/z.xml")
		if err == nil || err.Error() != want || xerr.Code(err) != 2 {
			t.Errorf("%q: err %v, want %q (exit 2)", in, err, want)
		}
	}
}

func FuzzZoneIndex(f *testing.F) {
	f.Add([]byte("global:installed:/\nz1:installed:\"/a:b\":u\n"))
	f.Add([]byte("z:installed:\"/unterminated\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := zfsroot.ParseZoneIndex(bytes.NewReader(b), "index")
		if err != nil {
			if xerr.Code(err) != 2 {
				t.Fatal(err)
			}
			return
		}
		for _, z := range idx.Zones {
			if z.Name == "" || len(z.Name) >= 64 || len(z.Zonepath) >= 1024 || (z.UUID != "" && z.UUIDCleared != "") {
				t.Fatalf("bad entry %+v", z)
			}
			if strings.ContainsAny(z.Name+z.State+z.Zonepath+z.UUID, "\r\n\x00") {
				t.Fatalf("line break or NUL in %+v", z)
			}
		}
	})
}

func TestMountSource(t *testing.T) {
	mi := `22 1 8:1 / / rw - ext4 /dev/sda1 rw
42 22 0:39 / /tmp/gz/zones/z1 rw,relatime - fuse.zfs pool/zones/z1 rw
43 42 0:40 / /tmp/gz/zones/z1/root rw,relatime - fuse.zfs pool/zones/z1/ROOT/zbe-1 rw
44 22 0:41 / /tmp/my\040dir rw - zfs pool/sp rw
`
	for dir, want := range map[string]string{
		"/tmp/gz/zones/z1/root":     "pool/zones/z1/ROOT/zbe-1",
		"/tmp/gz/zones/z1/root/etc": "pool/zones/z1/ROOT/zbe-1",
		"/tmp/gz/zones/z1/rootx":    "pool/zones/z1",
		"/tmp/my dir":               "pool/sp",
		"/var":                      "/dev/sda1",
	} {
		if _, got, _ := zfsroot.MountSource(strings.NewReader(mi), dir); got != want {
			t.Errorf("MountSource(%s) = %s, want %s", dir, got, want)
		}
	}
}

// zonePool builds the fixtures.BuildZFSZones layout on a fresh pool.
func zonePool(t *testing.T, version int, zoneFiles map[string][]byte) *fixtures.ZFSZones {
	t.Helper()
	needZFS(t)
	dir := t.TempDir()
	p, err := fixtures.NewZFSPool(dir, fmt.Sprintf("xszfs%dz%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "")), version, 128<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Destroy(); err != nil {
			t.Error(err)
		}
	})
	z, err := fixtures.BuildZFSZones(p, filepath.Join(dir, "gz"), zoneFiles)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestFindZBEs: the OpenSolaris and Solaris 11 layouts on a real pool give
// the active zbe and both zoneadm failure messages with their fix.
func TestFindZBEs(t *testing.T) {
	z := zonePool(t, 22, nil)
	ctx := context.Background()
	cli := zfsroot.CLI{}
	pool := strings.SplitN(z.ZBE, "/", 2)[0]
	tests := []struct {
		zone, layout, current, err, fix string
	}{
		{"z1", "opensolaris", z.ZBE, "", ""},
		{"z2", "opensolaris", "", "no active dataset.", "zfs set org.opensolaris.libbe:parentbe=" + fixtures.ZFSCurrentBEUUID + " " + pool + "/zones/z2/ROOT/zbe && zfs set org.opensolaris.libbe:active=on " + pool + "/zones/z2/ROOT/zbe"},
		{"z3", "solaris11", "", "multiple active datasets.", "zfs set org.opensolaris.libbe:active=off " + pool + "/zones/z3/rpool/ROOT/solaris (keeps " + pool + "/zones/z3/rpool/ROOT/solaris-1"},
	}
	for _, tc := range tests {
		t.Run(tc.zone, func(t *testing.T) {
			r, err := zfsroot.FindZBEs(ctx, cli, "/zones/"+tc.zone, z.GZRoot, "")
			if err != nil {
				t.Fatal(err)
			}
			if r.Layout != tc.layout || r.Current != tc.current || r.Error != tc.err || !strings.HasPrefix(r.Fix, tc.fix) {
				t.Errorf("report %+v\nwant layout %s current %q error %q fix %q", r, tc.layout, tc.current, tc.err, tc.fix)
			}
			if r.GlobalBE != z.Bootfs || r.GlobalUUID != fixtures.ZFSCurrentBEUUID || r.GlobalBESource != "bootfs" {
				t.Errorf("global BE %s %s", r.GlobalBE, r.GlobalUUID)
			}
		})
	}
	// --global-be: the zbes of z2 belong to the older BE; named by BE
	// name, dataset or uuid it is the current one there.
	for _, be := range []string{"opensolaris", pool + "/ROOT/opensolaris", fixtures.ZFSOldBEUUID} {
		r, err := zfsroot.FindZBEs(ctx, cli, "/zones/z2", z.GZRoot, be)
		if err != nil || r.Error != "" || r.Current != pool+"/zones/z2/ROOT/zbe" || r.GlobalBE != pool+"/ROOT/opensolaris" || r.GlobalBESource != "--global-be" {
			t.Errorf("--global-be %s: %+v %v", be, r, err)
		}
	}
	if _, err := zfsroot.FindZBEs(ctx, cli, "/zones/z2", z.GZRoot, "nosuch"); !errors.Is(err, zfsroot.ErrNoSuchBE) || xerr.Code(err) != 2 {
		t.Errorf("--global-be nosuch: %v", err)
	}
	if _, err := zfsroot.FindZBEs(ctx, cli, "/zones/z4", z.GZRoot, ""); !errors.Is(err, zfsroot.ErrNoZFS) {
		t.Errorf("z4 without datasets: %v", err)
	}
	ds, err := zfsroot.DatasetOf(z.ZoneRoot)
	if err != nil || ds != z.ZBE {
		t.Errorf("DatasetOf(%s) = %q, %v; want %s", z.ZoneRoot, ds, err, z.ZBE)
	}
}

// TestRestorePlanFromSnapshot restores etc from a real snapshot through a
// temporary clone (zfs-fuse has no .zfs directory) and checks the plans:
// content first, then owner and mode in later plans (one change per path
// and plan), files only in the zone root listed as kept.
func TestRestorePlanFromSnapshot(t *testing.T) {
	z := zonePool(t, 23, map[string][]byte{"etc/passwd": []byte("root:x:0:0::/root:/bin/sh\n"), "etc/hosts": []byte("127.0.0.1 localhost\n"),
		"etc/group": []byte("root::0:\n"), "etc/inet/netmasks": []byte("# netmasks\n")})
	ctx := context.Background()
	cli := zfsroot.CLI{}
	snap := z.ZBE + "@before"
	if err := cli.Snapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	// Damage the zone's etc after the snapshot.
	testutil.Must(t, os.WriteFile(filepath.Join(z.ZoneRoot, "etc/passwd"), []byte("garbage\n"), 0o644))
	testutil.Must(t, os.Chmod(filepath.Join(z.ZoneRoot, "etc/passwd"), 0o600))
	testutil.Must(t, os.Chown(filepath.Join(z.ZoneRoot, "etc/group"), 5, 5))
	testutil.Must(t, os.Remove(filepath.Join(z.ZoneRoot, "etc/hosts")))
	testutil.Must(t, os.RemoveAll(filepath.Join(z.ZoneRoot, "etc/inet")))
	testutil.Must(t, os.WriteFile(filepath.Join(z.ZoneRoot, "etc/extra"), []byte("new\n"), 0o644))
	if _, _, _, err := cli.SnapshotTree(ctx, snap, true); !errors.Is(err, zfsroot.ErrNeedsClone) {
		t.Errorf("no-clone view: %v, want ErrNeedsClone", err)
	}
	noClone(t, z.ZBE)
	dir, how, cleanup, err := cli.SnapshotTree(ctx, snap, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(how, "temporary clone ") {
		t.Errorf("how = %q", how)
	}
	src, err := target.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := target.OpenRoot(z.ZoneRoot)
	if err != nil {
		t.Fatal(err)
	}
	plans, skipped, unrestored, err := zfsroot.RestorePlan(src, dst, []string{"etc"})
	src.Close()
	dst.Close()
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, p := range plans {
		var g []string
		for _, c := range p.Changes {
			g = append(g, fmt.Sprintf("%s %s %q %o %d:%d", c.Kind, c.Path, c.Content, c.Mode, c.UID, c.GID))
		}
		got = append(got, g)
	}
	want := [][]string{{
		`chown etc/group "" 0 0:0`,
		`create etc/hosts "127.0.0.1 localhost\n" 644 0:0`,
		`write etc/passwd "root:x:0:0::/root:/bin/sh\n" 0 0:0`,
	}, {
		`chmod etc/passwd "" 644 0:0`,
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("plans (-want +got):\n%s", d)
	}
	wantSkipped := []string{"etc/extra: only in the zone root (kept, not restored)", "etc/inet: directory missing"}
	if len(skipped) != 2 || skipped[0] != wantSkipped[0] || !strings.HasPrefix(skipped[1], wantSkipped[1]) {
		t.Errorf("skipped %q, want %q…", skipped, wantSkipped)
	}
	if len(unrestored) != 1 || unrestored[0] != skipped[1] {
		t.Errorf("unrestored %q, want only %q (a kept file is as asked)", unrestored, skipped[1])
	}
	noClone(t, z.ZBE)
	if _, _, _, err := zfsroot.RestorePlan(nil, nil, []string{"../x"}); xerr.Code(err) != 2 {
		t.Errorf("../x: %v", err)
	}
	if _, _, _, err := cli.SnapshotTree(ctx, z.ZBE+"@nosuch", false); xerr.Code(err) != 2 {
		t.Errorf("missing snapshot: %v", err)
	}
}

// noClone fails when the pool holding ds (only that pool: other tests'
// pools come and go in parallel on one zfs-fuse daemon) still has a
// temporary restore clone.
func noClone(t *testing.T, ds string) {
	t.Helper()
	pool, _, _ := strings.Cut(ds, "/")
	if out, _ := fixtures.ZFS("list", "-H", "-o", "name", "-r", pool); strings.Contains(out, "xsrescue-restore") {
		t.Errorf("clone left behind:\n%s", out)
	}
}

// TestSnapshotTreeAltroot reads a snapshot of a pool imported with an
// altroot, where zfs mounts the clone by itself below the altroot: the
// tree is found there and nothing is left behind.
func TestSnapshotTreeAltroot(t *testing.T) {
	needZFS(t)
	z, err := fixtures.NewZFSAltrootZone(t.TempDir(), fmt.Sprintf("xszfs%dalt", os.Getpid()), 23)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := z.Pool.Destroy(); err != nil {
			t.Error(err)
		}
	})
	ds, alt := z.Dataset, z.Alt
	ctx := context.Background()
	cli := zfsroot.CLI{}
	testutil.Must(t, cli.Snapshot(ctx, ds+"@before"))
	before, err := os.ReadDir(alt)
	if err != nil {
		t.Fatal(err)
	}
	tree, how, cleanup, err := cli.SnapshotTree(ctx, ds+"@before", false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(tree, "etc/passwd"))
	if cerr := cleanup(); cerr != nil {
		t.Error(cerr)
	}
	if err != nil || string(b) != "root:x:0:0\n" || !strings.HasPrefix(tree, alt+"/") {
		t.Errorf("read %q through %s at %s: %v", b, how, tree, err)
	}
	noClone(t, z.Dataset)
	after, err := os.ReadDir(alt)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("altroot holds %v after, %v before", after, before)
	}
}

func FuzzZoneXML(f *testing.F) {
	f.Add(readTestdataF(f, "zones/z1.xml"))
	f.Add([]byte(`<zone name="z" zonepath="/z"><dataset name="a/b"/></zone>`))
	f.Add([]byte(`<zone name="z" zonepath="/z"><net`))
	f.Add([]byte(`<!DOCTYPE zone [<!ENTITY x "&x;">]><zone zonepath="&x;"/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := zfsroot.ParseZoneXML(bytes.NewReader(b), "z.xml")
		if err != nil {
			if xerr.Code(err) != 2 || !strings.HasPrefix(err.Error(), "z.xml") {
				t.Fatalf("error %v", err)
			}
			return
		}
		if c.Zonepath == "" {
			t.Fatal("config without zonepath")
		}
	})
}

func FuzzMountSource(f *testing.F) {
	f.Add("42 22 0:39 / /tmp/gz/zones/z1 rw - fuse.zfs pool/zones/z1 rw\n", "/tmp/gz/zones/z1/root")
	f.Add("1 2 3 / / - \n - - -\n", "/")
	f.Fuzz(func(t *testing.T, mi, dir string) {
		fstype, source, mp := zfsroot.MountSource(strings.NewReader(mi), dir)
		if mp == "" && (fstype != "" || source != "") {
			t.Fatalf("type %q source %q without a mount point", fstype, source)
		}
	})
}

func readTestdataF(f *testing.F, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}
