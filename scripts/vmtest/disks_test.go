package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBuild4K checks the 4096-byte-sector disks with tools that do not share
// their code: the table read by hand (DOS entries in 4096-byte units, the
// GPT header at byte 4096), each ext filesystem where its entry says, clean
// (e2fsck -fn) and with 4096-byte blocks (dumpe2fs), the LVM label of the SR
// copied from the 512-byte twin.
func TestBuild4K(t *testing.T) {
	for _, tool := range []string{"mke2fs", "e2fsck", "dumpe2fs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/test.sh installs e2fsprogs)", tool)
		}
	}
	for _, d := range matrix() {
		if d.SectorSize != sector4K {
			continue
		}
		t.Run(d.ID, func(t *testing.T) {
			if err := d.build(t.TempDir()); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(d.Image)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			at := func(off, n int64) []byte {
				b := make([]byte, n)
				if _, err := f.ReadAt(b, off); err != nil {
					t.Fatal(err)
				}
				return b
			}
			if string(at(510, 2)) != "\x55\xaa" {
				t.Fatal("no boot signature in sector 0")
			}
			if d.Table == "gpt" && string(at(sector4K, 8)) != "EFI PART" {
				t.Fatalf("no GPT header at byte %d", sector4K)
			}
			for _, p := range d.spec().Partitions {
				if d.Table == "dos" {
					e := at(446+16*int64(p.Number-1), 16)
					start, size := int64(binary.LittleEndian.Uint32(e[8:]))*sector4K, int64(binary.LittleEndian.Uint32(e[12:]))*sector4K
					if start != p.Start || size != p.Size {
						t.Errorf("DOS entry %d: %d bytes at %d, want %d at %d", p.Number, size, start, p.Size, p.Start)
					}
				}
				switch p.FS {
				case "ext3":
					fs := fmt.Sprintf("%s?offset=%d", d.Image, p.Start)
					if out, err := exec.Command("e2fsck", "-fn", fs).CombinedOutput(); err != nil {
						t.Errorf("partition %d: e2fsck -fn: %v\n%s", p.Number, err, out)
					}
					out, err := exec.Command("dumpe2fs", "-h", fs).CombinedOutput()
					if err != nil || !strings.Contains(string(out), "Block size:               4096") {
						t.Errorf("partition %d: dumpe2fs -h: %v\n%s", p.Number, err, out)
					}
				case "lvm2":
					if got := string(at(p.Start+512, 8)); got != "LABELONE" {
						t.Errorf("partition %d: %q at byte 512, want the LVM label", p.Number, got)
					}
				}
			}
		})
	}
}
