package partition_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/partimage"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/partition"
)

// named builds the named fixture disks once per test binary.
var named = sync.OnceValues(func() (map[string]string, error) {
	dir, err := os.MkdirTemp("", "partition-fixtures-")
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for _, s := range fixtures.Specs() {
		p, err := fixtures.BuildDisk(dir, s)
		if err != nil {
			return nil, err
		}
		paths[s.Name] = p
	}
	return paths, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if paths, err := named(); err == nil {
		for _, p := range paths {
			os.RemoveAll(filepath.Dir(p))
			break
		}
	}
	os.Exit(code)
}

func namedDisk(t *testing.T, name string) string {
	t.Helper()
	testutil.NeedTools(t, "mke2fs", "mkswap", "mkfs.vfat", "mkfs.xfs", "debugfs")
	paths, err := named()
	if err != nil {
		t.Fatal(err)
	}
	return paths[name]
}

func inspectFile(t *testing.T, path string) *partition.Disk {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	d, err := partition.Inspect(f, st.Size())
	if err != nil {
		t.Fatalf("Inspect(%s): %v", path, err)
	}
	d.ReadMarkers(f)
	return d
}

// row is the part of a partition checked field by field.
type row struct {
	Number        int
	Type, FS      string
	Label, Role   string
	Bootable      bool
	NeedsRecovery bool
}

func rows(d *partition.Disk) []row {
	var out []row
	for _, p := range d.Partitions {
		out = append(out, row{p.Number, p.Type, p.FS, p.Label, p.Role, p.Bootable, p.NeedsRecovery})
	}
	return out
}

const (
	basic = fixtures.GPTBasicData
	lvm   = fixtures.GPTLinuxLVM
)

func TestInspectNamedDisks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, table, layout string
		rows                []row
		root, backup        int
		rootVersion         string // PRODUCT_VERSION of the root's inventory
		backupMarker        bool
		backupVersion       string
		warnings            []string // substrings, in order
	}{
		{
			name: fixtures.NameXS55FailedDowngrade, table: "dos", layout: "legacy",
			rows: []row{
				{1, "83", "ext3", "root-dwypmffu", "root", true, false},
				{2, "83", "ext3", "", "backup", false, false},
				{3, "8e", "lvm2", "", "sr", false, false},
			},
			root: 1, backup: 2, rootVersion: "5.5.0", backupMarker: true, backupVersion: "5.0.0",
		},
		{
			name: fixtures.NameXS62Dell, table: "dos", layout: "legacy",
			rows: []row{
				{1, "de", "vfat", "DELLUTILITY", "utility", false, false},
				{2, "83", "ext3", "root-anbbhdms", "root", true, false},
				{3, "83", "", "", "backup", false, false},
				{4, "8e", "lvm2", "", "sr", false, false},
			},
			root: 2, backup: 3, rootVersion: "6.2.0",
			warnings: []string{"backup partition 3 holds no filesystem"},
		},
		{
			name: fixtures.NameXS70New, table: "gpt", layout: "new",
			rows: []row{
				{1, basic, "ext3", "root-kpymff", "root", false, false},
				{2, basic, "", "", "backup", false, false},
				{3, lvm, "lvm2", "", "sr", false, false},
				{4, fixtures.GPTESP, "vfat", "BOOT-QWYSAK", "boot", false, false},
				{5, basic, "ext3", "logs-nabpae", "logs", false, false},
				{6, fixtures.GPTLinuxSwap, "swap", "swap-fmfwlo", "swap", false, false},
			},
			root: 1, backup: 2, rootVersion: "7.0.0",
			warnings: []string{"backup partition 2 holds no filesystem"},
		},
		{
			name: fixtures.NameXS71OldGPT, table: "gpt", layout: "legacy+boot",
			rows: []row{
				{1, basic, "ext3", "root-ipymyr", "root", false, false},
				{2, basic, "ext3", "", "backup", false, false},
				{3, lvm, "lvm2", "", "sr", false, false},
				{4, fixtures.GPTBIOSBoot, "", "", "boot", false, false},
			},
			root: 1, backup: 2, rootVersion: "7.1.0", backupMarker: true, backupVersion: "6.5.0",
		},
		{
			name: fixtures.NameNonXen, table: "dos", layout: "unknown",
			rows: []row{
				{1, "0c", "vfat", "EFIBOOT", "", true, false},
				{2, "05", "", "", "", false, false},
				{5, "83", "ext4", "rootfs", "", false, false},
				{6, "82", "swap", "swap", "", false, false},
				{7, "83", "xfs", "data", "", false, false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := namedDisk(t, tt.name)
			d := inspectFile(t, path)
			if d.Table != tt.table || d.Layout != tt.layout || d.SectorSize != 512 {
				t.Errorf("table %s layout %s sector %d, want %s %s 512", d.Table, d.Layout, d.SectorSize, tt.table, tt.layout)
			}
			if diff := cmp.Diff(tt.rows, rows(d)); diff != "" {
				t.Errorf("partitions (-want +got):\n%s", diff)
			}
			checkWarnings(t, d.Warnings, tt.warnings)
			x := d.XenServer
			if tt.root == 0 {
				if x != nil {
					t.Errorf("xenserver = %+v, want null", x)
				}
				return
			}
			if x == nil || x.RootPartition != tt.root {
				t.Fatalf("xenserver = %+v, want root %d", x, tt.root)
			}
			if got := x.Inventory["PRODUCT_VERSION"]; got != tt.rootVersion {
				t.Errorf("root PRODUCT_VERSION = %q, want %q", got, tt.rootVersion)
			}
			if x.Inventory["PRODUCT_NAME"] != "xenenterprise" || x.Inventory["INSTALLATION_UUID"] == "" {
				t.Errorf("root inventory incomplete: %v", x.Inventory)
			}
			if x.Backup == nil || x.Backup.Partition != tt.backup || x.Backup.Marker == nil || *x.Backup.Marker != tt.backupMarker {
				t.Fatalf("backup = %+v, want partition %d marker %v", x.Backup, tt.backup, tt.backupMarker)
			}
			if got := x.Backup.Inventory["PRODUCT_VERSION"]; got != tt.backupVersion {
				t.Errorf("backup PRODUCT_VERSION = %q, want %q", got, tt.backupVersion)
			}
		})
	}
}

func checkWarnings(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("warnings = %q, want %d matching %q", got, len(want), want)
		return
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("warning %d = %q, want it to contain %q", i, got[i], want[i])
		}
	}
}

// TestAgainstReferenceTools checks every fixture against sfdisk --json (the
// table) and blkid -p -O OFFSET (each signature): the reference tools' view
// is the golden answer.
func TestAgainstReferenceTools(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "sfdisk", "blkid")
	for _, s := range fixtures.Specs() {
		t.Run(s.Name, func(t *testing.T) {
			path := namedDisk(t, s.Name)
			d := inspectFile(t, path)
			ref := sfdiskJSON(t, path)
			if ref.Label != d.Table {
				t.Errorf("sfdisk label %q, Inspect table %q", ref.Label, d.Table)
			}
			var want, got []string
			for _, p := range ref.Partitions {
				n, _ := strconv.Atoi(strings.TrimPrefix(p.Node, path))
				typ := p.Type
				if len(typ) < 2 {
					typ = "0" + typ
				}
				want = append(want, fmt.Sprintf("%d %d %d %s %v %s", n, p.Start*512, p.Size*512, typ, p.Bootable, strings.ToUpper(p.UUID)))
			}
			for _, p := range d.Partitions {
				uuid := ""
				if d.Table == "gpt" {
					uuid = strings.ToUpper(fixtures.UUID(fmt.Sprintf("%s/part%d", s.Name, p.Number)))
				}
				got = append(got, fmt.Sprintf("%d %d %d %s %v %s", p.Number, p.Start, p.Size, p.Type, p.Bootable, uuid))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("table vs sfdisk --json (-sfdisk +inspect):\n%s", diff)
			}
			for _, p := range d.Partitions {
				b := blkid(t, path, p.Start)
				fs := map[string]string{"LVM2_member": "lvm2"}[b["TYPE"]]
				if fs == "" {
					fs = b["TYPE"]
				}
				if b["PTTYPE"] != "" { // the extended partition's EBR
					fs = ""
				}
				wantSig := fmt.Sprintf("%s|%s|%s", fs, b["LABEL"], b["UUID"])
				gotSig := fmt.Sprintf("%s|%s|%s", p.FS, p.Label, p.UUID)
				if wantSig != gotSig {
					t.Errorf("partition %d: blkid %s, Inspect %s", p.Number, wantSig, gotSig)
				}
			}
		})
	}
}

type sfdiskTable struct {
	Label      string `json:"label"`
	Partitions []struct {
		Node     string `json:"node"`
		Start    int64  `json:"start"`
		Size     int64  `json:"size"`
		Type     string `json:"type"`
		UUID     string `json:"uuid"`
		Bootable bool   `json:"bootable"`
	} `json:"partitions"`
}

func sfdiskJSON(t *testing.T, path string) sfdiskTable {
	t.Helper()
	out, err := exec.Command("sfdisk", "--json", path).Output()
	if err != nil {
		t.Fatalf("sfdisk --json %s: %v", path, err)
	}
	var doc struct {
		PartitionTable sfdiskTable `json:"partitiontable"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.PartitionTable
}

// blkid returns blkid's low-level probe of the signature at offset.
func blkid(t *testing.T, path string, offset int64) map[string]string {
	t.Helper()
	out, err := exec.Command("blkid", "-p", "-o", "export", "-O", strconv.FormatInt(offset, 10), path).Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 2) { // 2: nothing found
		t.Fatalf("blkid -p -O %d %s: %v", offset, path, err)
	}
	m := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = v
		}
	}
	return m
}

// sparseDigest hashes a sparse file by its data extents (offset, length and
// bytes, found with SEEK_DATA/SEEK_HOLE): any byte written, even into a
// hole, changes it, without reading gigabytes of holes.
func sparseDigest(t *testing.T, path string) string {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// The fingerprint hashes every non-zero block with its offset, whatever
	// the extent layout (which writeback may report differently between two
	// calls); the mtime catches a write of identical bytes.
	fp, err := partimage.Fingerprint(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s mtime %d", fp, st.ModTime().UnixNano())
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	sum, err := fixtures.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestReadOnly proves Inspect and ReadMarkers write nothing: the sha256 of
// a whole small image, with an ext3 root whose journal needs recovery (set by
// debugfs -w on this copy, as after a crash), is the same before and after;
// the large named images keep their data-extent digest.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "mke2fs", "debugfs")
	dir := t.TempDir()
	spec := fixtures.Mini("readonly", "dos", fixtures.RootSpec{Release: "5.5"}, &fixtures.RootSpec{Release: "5.0"})
	img, err := fixtures.BuildDisk(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	root := spec.Partition(1)
	if out, err := exec.Command("debugfs", "-w", "-R", "feature needs_recovery", fmt.Sprintf("%s?offset=%d", img, root.Start)).CombinedOutput(); err != nil {
		t.Fatalf("debugfs -w: %v: %s", err, out)
	}
	before := fileSHA256(t, img)
	d := inspectFile(t, img)
	if after := fileSHA256(t, img); after != before {
		t.Fatalf("image changed: sha256 %s -> %s", before, after)
	}
	p := d.Partition(1)
	if !p.NeedsRecovery || p.FS != "ext3" || p.Role != "root" {
		t.Errorf("root = %+v, want ext3 root with needs_recovery", p)
	}
	if d.XenServer.Inventory["PRODUCT_VERSION"] != "5.5.0" || d.XenServer.Backup.Inventory["PRODUCT_VERSION"] != "5.0.0" {
		t.Errorf("inventories not read from a needs_recovery root: %+v", d.XenServer)
	}
	checkWarnings(t, d.Warnings, []string{"root partition 1: ext journal needs recovery (unclean shutdown): its files are read with the journal's committed transactions replayed in memory"})
	if out, err := exec.Command("debugfs", "-R", "features", fmt.Sprintf("%s?offset=%d", img, root.Start)).Output(); err != nil || !strings.Contains(string(out), "needs_recovery") {
		t.Errorf("needs_recovery no longer set after inspect (journal replayed?): %s %v", out, err)
	}

	for _, s := range fixtures.Specs() {
		path := namedDisk(t, s.Name)
		before := sparseDigest(t, path)
		inspectFile(t, path)
		if after := sparseDigest(t, path); after != before {
			t.Errorf("%s changed by inspect", s.Name)
		}
	}
}

// TestMarkerSymlinks: a symlinked inventory is followed inside the
// filesystem, loops are bounded, and a link that leaves the filesystem
// (absolute, or ".." above its root) is unknown — the installer resolves
// it on its own ramdisk — and never reaches the rescue system's files.
func TestMarkerSymlinks(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "mke2fs", "debugfs")
	relink := func(target string, extra ...string) func(string) error {
		return func(dir string) error {
			inv := filepath.Join(dir, "etc", "xensource-inventory")
			data, err := os.ReadFile(inv)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dir, "var", "lib", "inv"), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "var", "lib", "inv", "real"), data, 0o644); err != nil {
				return err
			}
			if err := os.Remove(inv); err != nil {
				return err
			}
			for i := 0; i+1 < len(extra); i += 2 {
				if err := os.Symlink(extra[i+1], filepath.Join(dir, extra[i])); err != nil {
					return err
				}
			}
			return os.Symlink(target, inv)
		}
	}
	tests := []struct {
		name            string
		root, backup    func(string) error
		rootVersion     string
		rootUnknown     bool
		backupInventory bool
		warnings        []string
	}{
		{
			name:        "relative links",
			root:        relink("../var/lib/inv/../inv/link", "var/lib/inv/link", "real"),
			backup:      relink("../var/lib/inv/real"),
			rootVersion: "7.1.0", backupInventory: true,
		},
		{
			name:        "absolute link",
			root:        relink("/var/lib/inv/real"),
			backup:      relink("../var/lib/inv/real"),
			rootUnknown: true, backupInventory: true,
			warnings: []string{
				"root partition 1: etc/xensource-inventory -> /var/lib/inv/real: leads out of the root",
			},
		},
		{
			name:        "loop and escape",
			root:        relink("../../../../../../etc/passwd"),
			backup:      relink("loop", "etc/loop", "xensource-inventory"),
			rootVersion: "", rootUnknown: true,
			warnings: []string{
				`root partition 1: etc/xensource-inventory: ".." climbs above the root: leads out of the root`,
				"backup partition 2: /etc/xensource-inventory: too many levels of symbolic links",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := fixtures.Mini("links", "gpt", fixtures.RootSpec{Release: "7.1", Populate: tt.root}, &fixtures.RootSpec{Release: "6.5", Populate: tt.backup})
			img, err := fixtures.BuildDisk(t.TempDir(), spec)
			if err != nil {
				t.Fatal(err)
			}
			d := inspectFile(t, img)
			checkWarnings(t, d.Warnings, tt.warnings)
			if got := d.XenServer.Inventory["PRODUCT_VERSION"]; got != tt.rootVersion {
				t.Errorf("root PRODUCT_VERSION %q, want %q", got, tt.rootVersion)
			}
			b := d.XenServer.Backup
			if got := b.Inventory != nil; got != tt.backupInventory || !b.HasMarker() {
				t.Errorf("backup inventory read %v (want %v), marker %v", got, tt.backupInventory, b.Marker)
			}
			// A loop is unknown (null with the reason), an absent file is not.
			if (d.XenServer.InventoryError != nil) != tt.rootUnknown || (b.InventoryError != nil) == tt.backupInventory {
				t.Errorf("inventory errors: root %v, backup %v", d.XenServer.InventoryError, b.InventoryError)
			}
		})
	}
}

// TestProbeExtKinds: ext2 and ext4 are told apart from ext3 by their
// features, as blkid does.
func TestProbeExtKinds(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "mke2fs", "blkid")
	spec := tinySpecWithFS("ext2", "ext4")
	img, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	d := inspectFile(t, img)
	for i, want := range []string{"ext2", "ext4"} {
		p := d.Partitions[i]
		if p.FS != want || p.Label != "l-"+want {
			t.Errorf("partition %d: %s %q, want %s", p.Number, p.FS, p.Label, want)
		}
		if b := blkid(t, img, p.Start); b["TYPE"] != p.FS || b["UUID"] != p.UUID {
			t.Errorf("partition %d: blkid %v, Inspect %s %s", p.Number, b, p.FS, p.UUID)
		}
	}
}

// TestWholeDisk: a filesystem from byte 0 without a table (a partition
// image) is Disk.Whole; a disk with a table has none.
func TestWholeDisk(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "mke2fs", "tune2fs")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	bare, err := fixtures.BuildExt(dir, tree, fixtures.ExtSpec{Name: "bare", Type: "ext3", BlockSize: 1024, Size: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tune2fs", "-L", "root-bare", bare).CombinedOutput(); err != nil {
		t.Fatalf("tune2fs: %v\n%s", err, out)
	}
	if w := inspectFile(t, bare).Whole; w == nil || w.FS != "ext3" || w.Label != "root-bare" {
		t.Errorf("bare ext3: Whole = %+v", w)
	}
	img, err := fixtures.BuildDisk(dir, tinySpecWithFS("ext2", "ext4"))
	if err != nil {
		t.Fatal(err)
	}
	if w := inspectFile(t, img).Whole; w != nil {
		t.Errorf("a disk with a table: Whole = %+v", w)
	}
}

func tinySpecWithFS(fs ...string) fixtures.DiskSpec {
	s := tinySpec("dos", 8<<20)
	for i := range s.Partitions {
		s.Partitions[i].FS, s.Partitions[i].Label = fs[i], "l-"+fs[i]
	}
	return s
}

// TestInspectBlockDevice: the same answers through a read-only loop device
// (size from Seek, markers through debugfs on the device).
func TestInspectBlockDevice(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "loop devices")
	testutil.NeedTools(t, "losetup", "mke2fs", "debugfs")
	img, err := fixtures.BuildDisk(t.TempDir(), fixtures.Mini("blockdev", "gpt", fixtures.RootSpec{Release: "7.1"}, &fixtures.RootSpec{Release: "6.5"}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", "--read-only", img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", dev).Run()
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		t.Fatal(err)
	}
	d, err := partition.Inspect(f, size)
	if err != nil {
		t.Fatal(err)
	}
	d.ReadMarkers(f)
	want := inspectFile(t, img)
	if diff := cmp.Diff(want, d, cmp.Exporter(func(reflect.Type) bool { return true })); diff != "" {
		t.Errorf("loop device vs image (-image +device):\n%s", diff)
	}
}

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestGolden compares the whole JSON document of every named disk (markers
// read) with testdata/golden/NAME.json; fixtures are deterministic (UUIDs
// and labels derive from the spec names). go test -run TestGolden -update
// rewrites them.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, s := range fixtures.Specs() {
		t.Run(s.Name, func(t *testing.T) {
			d := inspectFile(t, namedDisk(t, s.Name))
			d.Path = s.Name + ".img"
			got, err := json.MarshalIndent(d, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", s.Name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestProbeZFSMember: a real pool's vdev (zfs-fuse) inside a Solaris GPT
// disk is a ZFS member, as blkid says.
func TestProbeZFSMember(t *testing.T) {
	t.Parallel()
	if err := fixtures.EnsureZFSFuse(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	pool, err := fixtures.NewZFSPool(dir, fmt.Sprintf("partition%d", os.Getpid()), 23, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Destroy()
	if err := pool.Export(); err != nil {
		t.Fatal(err)
	}
	z, err := fixtures.ZFSDiskGPT(filepath.Join(dir, "solaris.img"), pool.Vdev)
	if err != nil {
		t.Fatal(err)
	}
	d := inspectFile(t, z.Path)
	p := d.Partition(z.Partition)
	if p == nil || p.FS != "zfs" || p.Start != z.VdevOffset {
		t.Fatalf("partition %d = %+v, want a zfs member at byte %d", z.Partition, p, z.VdevOffset)
	}
	if b := blkid(t, z.Path, p.Start); b["TYPE"] != "zfs_member" {
		t.Errorf("blkid says %v", b)
	}
}

// TestMarkerUnknown: when the backup partition's root directory is damaged
// the marker and inventory are unknown — null with the reason — never
// "absent", both for the partition after the root and in the scan of every
// partition; the root's are still read, and each reason is warned once.
func TestMarkerUnknown(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "mke2fs", "debugfs")
	spec := fixtures.Mini("unknown", "dos", fixtures.RootSpec{Release: "5.5"}, &fixtures.RootSpec{Release: "5.0"})
	img, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	backup := spec.Partition(2)
	out, err := exec.Command("debugfs", "-R", "bmap / 0", fmt.Sprintf("%s?offset=%d", img, backup.Start)).Output()
	if err != nil {
		t.Fatalf("debugfs bmap: %v", err)
	}
	blk, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("debugfs bmap: %q", out)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	logBS := make([]byte, 1)
	if _, err := f.ReadAt(logBS, backup.Start+1024+0x18); err != nil {
		t.Fatal(err)
	}
	// The first record's length becomes 3, which no directory can have.
	if _, err := f.WriteAt([]byte{3, 0}, backup.Start+blk*(1024<<logBS[0])+4); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d := inspectFile(t, img)
	x := d.XenServer
	if x.Inventory["PRODUCT_VERSION"] != "5.5.0" || x.InventoryError != nil {
		t.Errorf("root inventory %v (error %v), want it read", x.Inventory, x.InventoryError)
	}
	b := x.Backup
	if b.Marker != nil || b.MarkerError == nil || b.Inventory != nil || b.InventoryError == nil {
		t.Fatalf("backup marker %v (%v), inventory %v (%v): want both unknown with a reason", b.Marker, b.MarkerError, b.Inventory, b.InventoryError)
	}
	for _, why := range []string{*b.MarkerError, *b.InventoryError} {
		if !strings.Contains(why, "partition 2") || !strings.Contains(why, "record length 3") || !strings.Contains(why, "corrupt filesystem") {
			t.Errorf("reason %q: want the partition, the damage and that it is corruption", why)
		}
	}
	js, err := json.Marshal(b)
	if err != nil || !strings.Contains(string(js), `"marker":null,"marker_error":"`) {
		t.Errorf("JSON %s: want marker null with marker_error", js)
	}
	// The Restore scan of every partition lists it too, as unknown: the
	// installer might take it. The root (no marker) is not listed.
	if len(x.Backups) != 1 || x.Backups[0].Partition != 2 || x.Backups[0].Marker != nil || x.Backups[0].MarkerError == nil || *x.Backups[0].MarkerError != *b.MarkerError {
		t.Errorf("backups %+v: want partition 2 alone, marker unknown with the same reason", x.Backups)
	}
	for _, w := range d.Warnings {
		if strings.Contains(w, "partition 2") && !strings.HasPrefix(w, "backup partition 2: ") {
			t.Errorf("warning %q: the scan names the backup partition as ReadMarkers does", w)
		}
	}
	if n := strings.Count(strings.Join(d.Warnings, "\n"), "record length 3"); n != 2 {
		t.Errorf("%d warnings about the damage, want one for the marker and one for the inventory: %q", n, d.Warnings)
	}
}

// TestDirtyJournalReplayed: on a root and a backup whose journals hold
// committed transactions not yet written to their place (the acceptance
// test's cases), the inventory and the marker read as the installer's
// mount shows them, the journal replayed, and a warning says so for each;
// the image is not written.
func TestDirtyJournalReplayed(t *testing.T) {
	testutil.NeedTools(t, "mke2fs", "debugfs", "dumpe2fs")
	dir := t.TempDir()
	spec := fixtures.Mini("dirty", "dos", fixtures.RootSpec{Release: "5.0"}, &fixtures.RootSpec{Release: "5.0"})
	img, err := fixtures.BuildDisk(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	root, backup := spec.Partition(1), spec.Partition(2)
	// Root: a transaction rewrites the inventory (5.0.0 -> 5.5.0).
	if err := fixtures.DirtyJournal(img, root.Start, "/etc/xensource-inventory", []byte("PRODUCT_VERSION='5.5.0'\nBUILD_NUMBER='15119p'\n")); err != nil {
		t.Fatal(err)
	}
	// Backup: the marker's directory entry exists only in the journal.
	blks, err := fixtures.ExtFileBlocks(img, backup.Start, "/")
	if err != nil {
		t.Fatal(err)
	}
	withMarker, err := fixtures.ExtBlock(img, backup.Start, blks[0])
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("debugfs", "-w", "-R", "unlink /.xen-backup-partition", fmt.Sprintf("%s?offset=%d", img, backup.Start)).CombinedOutput(); err != nil {
		t.Fatalf("debugfs unlink: %v: %s", err, out)
	}
	if err := fixtures.WriteJournal(img, backup.Start, 0, fixtures.JournalTx{Blocks: map[uint64][]byte{blks[0]: withMarker}}); err != nil {
		t.Fatal(err)
	}
	before := fileSHA256(t, img)
	d := inspectFile(t, img)
	if after := fileSHA256(t, img); after != before {
		t.Fatalf("image changed: sha256 %s -> %s", before, after)
	}
	if v := d.XenServer.Inventory["PRODUCT_VERSION"]; v != "5.5.0" || d.XenServer.InventoryError != nil {
		t.Errorf("root inventory PRODUCT_VERSION = %q (error %v), want the journal's 5.5.0", v, d.XenServer.InventoryError)
	}
	if b := d.XenServer.Backup; b.Marker == nil || !*b.Marker {
		t.Errorf("backup marker = %v (error %v), want true (the journal's directory block)", b.Marker, b.MarkerError)
	}
	checkWarnings(t, d.Warnings, []string{
		"root partition 1: ext journal needs recovery (unclean shutdown): its files are read with the journal's committed transactions replayed",
		"backup partition 2: ext journal needs recovery",
	})
}

// TestDirtyJournalUnreplayable: a backup partition that needs recovery
// but whose journal cannot be replayed here (an external journal) has an
// unknown marker — null with the reason — never false.
func TestDirtyJournalUnreplayable(t *testing.T) {
	testutil.NeedTools(t, "mke2fs", "debugfs")
	dir := t.TempDir()
	spec := fixtures.Mini("dirty-ext", "dos", fixtures.RootSpec{Release: "5.0"}, &fixtures.RootSpec{Release: "5.0"})
	img, err := fixtures.BuildDisk(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	dev := fmt.Sprintf("%s?offset=%d", img, spec.Partition(2).Start)
	for _, req := range []string{"ssv journal_inum 0", "ssv journal_dev 0xfe01", "feature needs_recovery"} {
		if out, err := exec.Command("debugfs", "-w", "-R", req, dev).CombinedOutput(); err != nil {
			t.Fatalf("debugfs %s: %v: %s", req, err, out)
		}
	}
	d := inspectFile(t, img)
	b := d.XenServer.Backup
	if b.Marker != nil || b.MarkerError == nil || !strings.Contains(*b.MarkerError, "the journal is on another device") {
		t.Errorf("marker %v, error %v: want unknown, the journal named", b.Marker, b.MarkerError)
	}
}
