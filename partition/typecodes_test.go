package partition

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestGPTTypeCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		guid, want string
		ok         bool
	}{
		{"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EF00", true}, // also listed as F108 (Fuchsia ESP)
		{"21686148-6449-6E6F-744E-656564454649", "EF02", true},
		{"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "0700", true}, // the XenServer installer's root/backup type on GPT
		{"0FC63DAF-8483-4772-8E79-3D69D8477DE4", "8300", true},
		{"E6D6D379-F507-44C2-A23C-238F2A3DF928", "8E00", true},
		{"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "8200", true},
		{"A19D880F-05FC-4D3B-A006-743F0F84911E", "FD00", true},
		{"6a898cc3-1dd2-11b2-99a6-080020736631", "BF01", true}, // lower case
		{"7412F7D5-A156-4B13-81DC-867174929325", "3000", true}, // not E100
		{"00000000-0000-0000-0000-000000000000", "", false},    // unused entry
		{"12345678-1234-1234-1234-123456789ABC", "", false},
		{"", "", false},
	} {
		if got, ok := GPTTypeCode(tt.guid); got != tt.want || ok != tt.ok {
			t.Errorf("GPTTypeCode(%q) = %q, %v; want %q, %v", tt.guid, got, ok, tt.want, tt.ok)
		}
	}
}

// TestGPTTypeCodesMatchSgdisk: every code `sgdisk -L` lists is set on a
// partition of a real GPT by sgdisk itself, read back by Inspect, and must get
// the code `sgdisk -p` prints for it; the table holds no GUID sgdisk does not
// list. A newer sgdisk that adds types fails the second check: extend the
// table from its parttypes.cc then.
func TestGPTTypeCodesMatchSgdisk(t *testing.T) {
	t.Parallel()
	sgdisk, err := exec.LookPath("sgdisk")
	if err != nil {
		t.Skip("sgdisk (gdisk) not installed; scripts/test.sh installs it")
	}
	list, err := exec.Command(sgdisk, "-L").Output()
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, m := range regexp.MustCompile(`(?m)(?:^|\s{2,})([0-9a-f]{4}) \S`).FindAllStringSubmatch(string(list), -1) {
		codes = append(codes, m[1])
	}
	if len(codes) < 200 {
		t.Fatalf("sgdisk -L listed %d codes:\n%s", len(codes), list)
	}
	seen := map[string]bool{}
	const perDisk = 120 // a GPT holds 128 entries
	for first := 0; first < len(codes); first += perDisk {
		chunk := codes[first:min(first+perDisk, len(codes))]
		img := filepath.Join(t.TempDir(), "types.img")
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, 4<<20); err != nil {
			t.Fatal(err)
		}
		args := []string{"-a", "1"}
		for i, c := range chunk {
			n := i + 1
			args = append(args, fmt.Sprintf("-n%d:%d:+3", n, 2048+4*n), fmt.Sprintf("-t%d:%s", n, c))
		}
		if out, err := exec.Command(sgdisk, append(args, img)...).CombinedOutput(); err != nil {
			t.Fatalf("sgdisk: %v\n%s", err, out)
		}
		printed, err := exec.Command(sgdisk, "-p", img).Output()
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]string{} // partition number -> the code sgdisk prints
		for _, m := range regexp.MustCompile(`(?m)^\s+(\d+)\s+\d+\s+\d+\s+\S+ \S+\s+([0-9A-F]{4})`).FindAllStringSubmatch(string(printed), -1) {
			var n int
			fmt.Sscan(m[1], &n)
			want[n] = m[2]
		}
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Inspect(f, 4<<20)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Partitions) != len(chunk) || len(want) != len(chunk) {
			t.Fatalf("%d partitions read, %d printed by sgdisk -p, %d made", len(d.Partitions), len(want), len(chunk))
		}
		for _, p := range d.Partitions {
			seen[p.Type] = true
			if p.TypeCode == nil || *p.TypeCode != want[p.Number] {
				got := "nil"
				if p.TypeCode != nil {
					got = *p.TypeCode
				}
				t.Errorf("sgdisk -t %s gives %s, which sgdisk -p shows as %s; the table says %s", chunk[p.Number-1], p.Type, want[p.Number], got)
			}
		}
	}
	var extra []string
	for guid := range gptTypeCodes {
		if !seen[guid] {
			extra = append(extra, guid)
		}
	}
	slices.Sort(extra)
	if len(extra) > 0 {
		t.Errorf("GUIDs in the table that sgdisk -L does not list:\n%s", strings.Join(extra, "\n"))
	}
}
