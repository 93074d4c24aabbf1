package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/shquote"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// sgdiskFirstLineActive is the 6.0-6.5 installer's active test:
// re.match('.*\(legacy BIOS bootable\)', out) on sgdisk's stdout, which
// looks at the first line only.
func sgdiskFirstLineActive(t *testing.T, img string) (bool, string) {
	t.Helper()
	out, err := exec.Command("sgdisk", "--attributes=1:show", img).Output()
	first, _, _ := strings.Cut(string(out), "\n")
	return err == nil && regexp.MustCompile(`^.*\(legacy BIOS bootable\)`).MatchString(first), first
}

// TestVersionSetGPTFirstLine: version set for a 6.x installer on GPT
// repairs into a state the installer takes (bit 2 on sgdisk's first line:
// bits 0 and 1 cleared) and refuses, with the fix and without writing,
// where no attribute helps (a damaged backup GPT: sgdisk's caution comes
// first; an empty DOS table in sector 0: the installer reads DOS).
func TestVersionSetGPTFirstLine(t *testing.T) {
	t.Parallel()
	versionNeedsDisk(t, "mke2fs", "sgdisk")
	cases := []struct {
		name   string
		damage func(img string) error
		refuse string // "" = the set succeeds
	}{
		{"bits 0 and 2", func(img string) error {
			return exec.Command("sgdisk", "-A", "1:set:0", "-A", "1:set:1", "-A", "1:set:2", img).Run()
		}, ""},
		{"backup GPT header zeroed", func(img string) error {
			if err := exec.Command("sgdisk", "-A", "1:set:2", img).Run(); err != nil {
				return err
			}
			return patchImage(img, -512, make([]byte, 512))
		}, "sgdisk -e DISK"},
		{"empty DOS table in sector 0", func(img string) error {
			return patchImage(img, 446, make([]byte, 64))
		}, "empty DOS table"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := fixtures.Mini("gpt-line-"+strings.ReplaceAll(c.name, " ", "-"), "gpt", fixtures.RootSpec{Release: "6.5"}, nil)
			img, err := fixtures.BuildDisk(t.TempDir(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.damage(img); err != nil {
				t.Fatal(err)
			}
			if vd := versionShowJSON(t, "--disk", img, "--installer", "6.5").Verdicts[0]; vd.Outcome != "no" || vd.Gates[0].Status != "fail" {
				t.Fatalf("before: %s %+v", vd.Outcome, vd.Gates[0])
			}
			before := testutil.FileSHA256(t, img)
			jpath := filepath.Join(t.TempDir(), "j.db")
			code, _, errOut := runCLI("version", "set", "--disk", img, "--for-installer", "6.5", "--yes", "--journal", jpath)
			if c.refuse != "" {
				if code != 3 || !strings.Contains(errOut, c.refuse) || testutil.FileSHA256(t, img) != before {
					t.Fatalf("want a refusal naming %q, image unchanged: exit %d: %s", c.refuse, code, errOut)
				}
				return
			}
			if code != 0 {
				t.Fatalf("set: exit %d: %s", code, errOut)
			}
			if ok, first := sgdiskFirstLineActive(t, img); !ok {
				t.Fatalf("after set, sgdisk's first line %q: the installer finds no active partition", first)
			}
			if vd := versionShowJSON(t, "--disk", img, "--installer", "6.5").Verdicts[0]; vd.Outcome != "upgrade" {
				t.Fatalf("after set: %s %s", vd.Outcome, vd.Reason)
			}
		})
	}
}

// patchImage writes b at off (from the end when off < 0).
func patchImage(img string, off int64, b []byte) error {
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if off < 0 {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		off += st.Size()
	}
	_, err = f.WriteAt(b, off)
	return err
}

// TestDoctorProtectiveMBRRepair: a GPT disk whose sector 0 the installers
// read as DOS (an empty table; a protective entry of type 0x83 instead of
// 0xEE) gets the protective-MBR repair, not an e2fsck on the whole-disk
// "partition"; the repair, run as the step says, makes the disk GPT to
// blkid and the 6.5 installer offers Upgrade.
func TestDoctorProtectiveMBRRepair(t *testing.T) {
	t.Parallel()
	versionNeedsDisk(t, "mke2fs", "sgdisk", "blkid")
	for _, c := range []struct {
		name   string
		off    int64
		damage []byte
	}{
		{"empty DOS table", 446, make([]byte, 64)},
		{"protective entry of type 83", 450, []byte{0x83}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			img, err := fixtures.BuildDisk(dir, fixtures.Mini("pmbr-"+strings.ReplaceAll(c.name, " ", "-"), "gpt", fixtures.RootSpec{Release: "6.5"}, nil))
			if err != nil {
				t.Fatal(err)
			}
			// the 6.x installers find the root by this attribute
			if err := exec.Command("sgdisk", "-A", "1:set:2", img).Run(); err != nil {
				t.Fatal(err)
			}
			if err := patchImage(img, c.off, c.damage); err != nil {
				t.Fatal(err)
			}
			rep := doctorJSON(t, "--disk", img, "--for-installer", "6.5", "--save-dir", dir)
			if len(rep.Plan) != 1 || !rep.Plan[0].Manual || !strings.Contains(rep.Plan[0].Command, "sgdisk -e") || strings.Contains(rep.Plan[0].Command, "e2fsck") {
				t.Fatalf("plan: %+v", rep.Plan)
			}
			// the step's commands, as a user types them
			disk := shquote.Quote(img)
			sh := "dd if=" + disk + " of=" + shquote.Quote(filepath.Join(dir, "sector0")) + " bs=512 count=1 && printf '\\000\\000' | dd of=" + disk + " bs=1 seek=510 count=2 conv=notrunc && sgdisk -e " + disk
			if !strings.Contains(rep.Plan[0].Command, "printf '\\000\\000' | dd of="+disk+" bs=1 seek=510 count=2 conv=notrunc && sgdisk -e "+disk) {
				t.Fatalf("the step is not %q: %s", sh, rep.Plan[0].Command)
			}
			if out, err := exec.Command("sh", "-c", sh).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", sh, err, out)
			}
			if out, _ := exec.Command("blkid", "-p", "-s", "PTTYPE", "-o", "value", img).Output(); strings.TrimSpace(string(out)) != "gpt" {
				t.Fatalf("after the repair blkid reads %q", out)
			}
			if vd := versionShowJSON(t, "--disk", img, "--installer", "6.5").Verdicts[0]; vd.Outcome != "upgrade" {
				t.Fatalf("after the repair: %s %s", vd.Outcome, vd.Reason)
			}
		})
	}
}
