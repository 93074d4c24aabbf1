package partition_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/partition"
)

// installerActive is the 6.0-6.5 installer's test on the real sgdisk:
// re.match('.*\(legacy BIOS bootable\)', out) on the stdout of
// `sgdisk --attributes=N:show`; re.match anchors at the start and '.' does
// not cross a newline, so it is this regexp on the first line. A failing
// sgdisk raises in cmdWrap: no installation.
var installerActiveRE = regexp.MustCompile(`^.*\(legacy BIOS bootable\)`)

func sgdiskActive(t *testing.T, img string, n string) (bool, string) {
	t.Helper()
	out, err := exec.Command("sgdisk", "--attributes="+n+":show", img).Output()
	first, _, _ := strings.Cut(string(out), "\n")
	return err == nil && installerActiveRE.MatchString(first), first
}

func patchFile(t *testing.T, img string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if off < 0 {
		st, _ := f.Stat()
		off += st.Size()
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// TestInstallerActiveMatchesSgdisk: the 6.0-6.5 root rule on GPT agrees
// with the installer's regexp run on the real sgdisk's output, for other
// attribute bits, damaged GPT copies and damaged sector 0; an empty DOS
// table in sector 0 is what libblkid reports (dos), and then no installer
// finds a root at all.
func TestInstallerActiveMatchesSgdisk(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "sgdisk", "blkid")
	base := buildSpec(t, fixtures.Mini("sgdisk-first-line", "gpt", fixtures.RootSpec{Release: "6.5"}, nil))
	tests := []struct {
		name   string
		damage func(t *testing.T, img string)
		pttype string // blkid -p's answer
		active bool   // the installer's: sgdisk's first line
	}{
		{"bit 2", func(t *testing.T, img string) { run(t, "sgdisk", "-A", "1:set:2", img) }, "gpt", true},
		{"bits 2 and 60", func(t *testing.T, img string) { run(t, "sgdisk", "-A", "1:set:2", "-A", "1:set:60", img) }, "gpt", true},
		{"bits 0 and 2", func(t *testing.T, img string) { run(t, "sgdisk", "-A", "1:set:0", "-A", "1:set:2", img) }, "gpt", false},
		{"bits 1 and 2", func(t *testing.T, img string) { run(t, "sgdisk", "-A", "1:set:1", "-A", "1:set:2", img) }, "gpt", false},
		{"bit 2, backup header zeroed", func(t *testing.T, img string) {
			run(t, "sgdisk", "-A", "1:set:2", img)
			patchFile(t, img, -512, make([]byte, 512))
		}, "gpt", false},
		{"bit 2, backup entry array flipped", func(t *testing.T, img string) {
			run(t, "sgdisk", "-A", "1:set:2", img)
			patchFile(t, img, -512-32*512+100, []byte{0xff})
		}, "gpt", false},
		{"bit 2, primary header CRC flipped", func(t *testing.T, img string) {
			run(t, "sgdisk", "-A", "1:set:2", img)
			patchFile(t, img, 512+16, []byte{1, 2, 3, 4})
		}, "gpt", false},
		{"bit 2, sector 0 zeroed", func(t *testing.T, img string) {
			run(t, "sgdisk", "-A", "1:set:2", img)
			patchFile(t, img, 0, make([]byte, 512))
		}, "", false},
		{"bit 2, sector 0 entries zeroed (55AA kept)", func(t *testing.T, img string) {
			run(t, "sgdisk", "-A", "1:set:2", img)
			patchFile(t, img, 446, make([]byte, 64))
		}, "dos", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := t.TempDir() + "/d.img"
			run(t, "cp", "--sparse=always", base, img)
			tt.damage(t, img)
			out, _ := exec.Command("blkid", "-p", "-s", "PTTYPE", "-o", "value", img).Output()
			if got := strings.TrimSpace(string(out)); got != tt.pttype {
				t.Fatalf("blkid -p PTTYPE = %q, want %q", got, tt.pttype)
			}
			if tt.pttype != "dos" {
				// The installer's own probe of the GPT tool's output.
				if got, first := sgdiskActive(t, img, "1"); got != tt.active {
					t.Fatalf("the real sgdisk's first line %q: active %v, want %v", first, got, tt.active)
				}
			}
			d := inspectWith(t, img, partition.Options{})
			if d.Table != partition.TableGPT || d.XenServer == nil {
				t.Fatalf("table %s, xenserver %v", d.Table, d.XenServer)
			}
			c := d.RootFor(partition.RootActiveLabel)
			if found := c.Status == partition.RootFound; found != tt.active {
				t.Errorf("6.0-6.5 rule: %s (%s), want found=%v", c.Status, c.Reason, tt.active)
			}
			if tt.pttype == "dos" {
				for _, r := range partition.RootRules {
					if c := d.RootFor(r); c.Status != partition.RootNone || !strings.Contains(c.Reason, "empty DOS table") || !strings.Contains(c.Reason, "sgdisk -e DISK") {
						t.Errorf("rule %s on an empty DOS sector 0: %s (%s)", r, c.Status, c.Reason)
					}
				}
				if !strings.HasPrefix(strings.Join(d.Warnings, "\n"), partition.EmptyDOSWarningPrefix) {
					t.Errorf("warnings %q", d.Warnings)
				}
			}
		})
	}
}

// TestEmptyDOSSector0Fix: the repair the warning names, run on a real
// image, writes a protective MBR and keeps the boot code, and the 7.0+
// rule finds the root again.
func TestEmptyDOSSector0Fix(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "sgdisk", "sh", "dd")
	img := buildSpec(t, fixtures.Mini("empty-dos-fix", "gpt", fixtures.RootSpec{Release: "7.1"}, nil))
	boot := []byte("boot code of XenServer's gptmbr.bin stays")
	patchFile(t, img, 0, boot)
	want, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	patchFile(t, img, 446, make([]byte, 64))
	if c := inspectWith(t, img, partition.Options{}).RootFor(partition.RootLabel); c.Status != partition.RootNone {
		t.Fatalf("before the fix: %s (%s)", c.Status, c.Reason)
	}
	_, fix, _ := strings.Cut(inspectWith(t, img, partition.Options{}).Warnings[0], "(boot code kept): ")
	run(t, "sh", "-c", strings.ReplaceAll(fix, "DISK", img))
	got, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[:440]) != string(want[:440]) || got[446+4] != 0xee || got[510] != 0x55 || got[511] != 0xaa {
		t.Errorf("sector 0 after the fix: boot code kept %v, entry 1 type %02x, signature %x", string(got[:440]) == string(want[:440]), got[446+4], got[510:512])
	}
	if c := inspectWith(t, img, partition.Options{}).RootFor(partition.RootLabel); c.Status != partition.RootFound {
		t.Errorf("after the fix: %s (%s)", c.Status, c.Reason)
	}
}
