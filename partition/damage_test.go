package partition_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/partition"
)

// tinySpec is a table without filesystems (no tools needed): a GPT or DOS
// disk of size bytes with partitions 1 and 2 at 1 MiB and 3 MiB.
func tinySpec(table string, size int64) fixtures.DiskSpec {
	typ := "83"
	if table == "gpt" {
		typ = fixtures.GPTBasicData
	}
	return fixtures.DiskSpec{Name: "tiny-" + table, Size: size, Table: table, Partitions: []fixtures.PartSpec{
		{Number: 1, Start: fixtures.MiB, Size: 2 * fixtures.MiB, Type: typ},
		{Number: 2, Start: 3 * fixtures.MiB, Size: 3 * fixtures.MiB, Type: typ},
	}}
}

func buildBytes(t testing.TB, spec fixtures.DiskSpec) []byte {
	t.Helper()
	p, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putEntry(b []byte, typ byte, start, size uint32) {
	b[4] = typ
	binary.LittleEndian.PutUint32(b[8:], start)
	binary.LittleEndian.PutUint32(b[12:], size)
}

func flip(b []byte, off int) []byte {
	b = bytes.Clone(b)
	b[off] ^= 0xff
	return b
}

func TestDamagedInputs(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	gpt := buildBytes(t, tinySpec("gpt", size))
	dos := buildBytes(t, tinySpec("dos", size))
	backupHeader := size - 512

	pastEnd := bytes.Clone(dos)
	binary.LittleEndian.PutUint32(pastEnd[446+16+12:], 64<<11) // partition 2: 64 MiB on an 8 MiB disk

	// Partition 2 becomes extended; its first EBR (at 3 MiB) links a second
	// one at 4 MiB, which links to itself.
	ebrLoop := bytes.Clone(dos)
	ebrLoop[446+16+4] = 0x05
	for _, ebr := range []int{3 << 20, 4 << 20} {
		putEntry(ebrLoop[ebr+446:], 0x83, 1, 1024)
		putEntry(ebrLoop[ebr+462:], 0x05, 2048, 2048)
		ebrLoop[ebr+510], ebrLoop[ebr+511] = 0x55, 0xaa
	}

	// A link of relative start 0 with sectors: the kernel and sfdisk
	// follow it to the same EBR (sfdisk lists partitions 5-60).
	ebrSelf := bytes.Clone(dos)
	ebrSelf[446+16+4] = 0x05
	putEntry(ebrSelf[3<<20+446:], 0x83, 1, 1024)
	putEntry(ebrSelf[3<<20+462:], 0x05, 0, 2048)
	ebrSelf[3<<20+510], ebrSelf[3<<20+511] = 0x55, 0xaa

	noGPT := bytes.Clone(gpt)
	clear(noGPT[512:1024])
	clear(noGPT[backupHeader:])

	staleGPT := bytes.Clone(dos)
	copy(staleGPT[512:1024], gpt[512:1024])
	noPMBR := bytes.Clone(gpt)
	clear(noPMBR[:512])

	random := make([]byte, 1<<20)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(random)

	tests := []struct {
		name     string
		img      []byte
		err      string   // substring of the error; "" = no error
		warnings []string // substrings, in order
		parts    int
	}{
		{name: "intact GPT", img: gpt, parts: 2},
		{name: "flipped byte in primary GPT header", img: flip(gpt, 512+40), parts: 2, warnings: []string{
			"primary GPT is damaged (byte 528: GPT header CRC mismatch at LBA 1 (stored be906993, computed dfc19319)); using the backup GPT at LBA 16383"}},
		{name: "flipped byte in primary GPT entries", img: flip(gpt, 1024+60), parts: 2, warnings: []string{
			"primary GPT is damaged (byte 1024: GPT entry array CRC mismatch for the header at LBA 1"}},
		{name: "flipped byte in backup GPT header", img: flip(gpt, backupHeader+40), parts: 2, warnings: []string{
			"backup GPT is damaged (byte 8388112: GPT header CRC mismatch at LBA 16383"}},
		{name: "both GPT headers damaged", img: flip(flip(gpt, 512+40), backupHeader+40),
			err: "no valid GPT: primary: byte 528: GPT header CRC mismatch"},
		{name: "protective MBR without any GPT", img: noGPT, err: "no valid GPT: primary: byte 512: no GPT signature at LBA 1"},
		{name: "truncated GPT image", img: gpt[:4<<20], parts: 2, warnings: []string{
			"backup GPT is damaged (byte 8388096: header LBA 16383 is past the end of the disk (4194304 bytes): truncated image?)",
			"partition 2 (bytes 3145728-6291456) ends past the end of the disk (4194304 bytes)"}},
		{name: "intact DOS", img: dos, parts: 2},
		{name: "stale GPT header behind a DOS table", img: staleGPT, parts: 2, warnings: []string{
			"a GPT header at byte 512 is ignored: the DOS table has no protective (0xEE) entry"}},
		{name: "GPT without protective MBR", img: noPMBR, parts: 2, warnings: []string{"GPT without a protective MBR in sector 0"}},
		{name: "DOS entry past the end", img: pastEnd, parts: 2, warnings: []string{
			"partition 2 (bytes 3145728-70254592) ends past the end of the disk (8388608 bytes)"}},
		{name: "EBR chain loop", img: ebrLoop, parts: 4, warnings: []string{"EBR chain loops back to byte 4194304; stopped after 2 logical partitions"}},
		{name: "EBR link to itself (relative start 0)", img: ebrSelf, parts: 3, warnings: []string{"EBR chain loops back to byte 3145728; stopped after 1 logical partitions"}},
		{name: "empty file", img: nil, err: "byte 0: empty (0 bytes)"},
		{name: "100 bytes", img: gpt[:100], err: "byte 0: only 100 bytes: too small for a partition table"},
		{name: "random bytes", img: random, warnings: []string{"no partition table and no known filesystem signature"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := partition.Inspect(bytes.NewReader(tt.img), int64(len(tt.img)))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, partition.ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Partitions) != tt.parts {
				t.Errorf("%d partitions, want %d: %+v", len(d.Partitions), tt.parts, d.Partitions)
			}
			checkWarnings(t, d.Warnings, tt.warnings)
		})
	}
}

// FuzzInspect feeds whole disk images. With reseal, the GPT header and
// entry array CRCs of both copies are recomputed after the fuzzer's
// mutation (fixtures.ResealGPT), so that mutated entries and header fields
// pass the checksums and reach the entry logic.
func FuzzInspect(f *testing.F) {
	// Small but complete tables: a 40 KiB GPT (the least that holds both
	// copies and two partitions) and a 6 KiB DOS disk with an extended
	// partition holding two logical ones; plus broken variants.
	dir := f.TempDir()
	gptPath, err := fixtures.BuildDisk(dir, fixtures.DiskSpec{Name: "fuzz-gpt", Size: 40 << 10, Table: "gpt", Partitions: []fixtures.PartSpec{
		{Number: 1, Start: 34 << 9, Size: 6 << 9, Type: fixtures.GPTBasicData, Name: "root"},
		{Number: 2, Start: 40 << 9, Size: 6 << 9, Type: fixtures.GPTLinuxLVM},
	}})
	if err != nil {
		f.Fatal(err)
	}
	gpt, err := os.ReadFile(gptPath)
	if err != nil {
		f.Fatal(err)
	}
	dos := make([]byte, 6<<10)
	putEntry(dos[446:], 0x83, 1, 1)
	putEntry(dos[462:], 0x05, 2, 10)
	putEntry(dos[2<<9+446:], 0x83, 1, 2)
	putEntry(dos[2<<9+462:], 0x05, 4, 4)
	putEntry(dos[6<<9+446:], 0x82, 1, 2)
	for _, ebr := range []int{0, 2 << 9, 6 << 9} {
		dos[ebr+510], dos[ebr+511] = 0x55, 0xaa
	}
	f.Add(false, gpt)
	f.Add(true, gpt)
	f.Add(false, flip(gpt, 512+40))
	f.Add(false, flip(gpt, len(gpt)-512+40))
	for _, lbas := range [][2]uint64{{40, math.MaxUint64}, {1 << 63, 1<<63 + 5}, {1<<55 + 40, 1<<55 + 45}, {45, 40}, {0, 79}} {
		hostile := filepath.Join(dir, "hostile.img")
		if err := os.WriteFile(hostile, gpt, 0o644); err != nil {
			f.Fatal(err)
		}
		if err := fixtures.SetGPTEntryLBAs(hostile, 2, lbas[0], lbas[1]); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(hostile)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(true, b)
	}
	f.Add(false, dos)
	f.Add(false, []byte{})
	f.Add(false, make([]byte, 512))
	f.Fuzz(func(t *testing.T, reseal bool, b []byte) {
		if reseal {
			fixtures.ResealGPT(b)
		}
		d, err := partition.Inspect(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, partition.ErrInvalid) {
				t.Fatalf("error on in-memory input is not ErrInvalid: %v", err)
			}
			return
		}
		switch d.Table {
		case "gpt", "dos", "none":
		default:
			t.Fatalf("table %q", d.Table)
		}
		checkOnDisk(t, d)
	})
}

// FuzzInspectDOS fuzzes the DOS table and the EBR chain directly: the input
// fills, 64 bytes at a time, the entry area of sector 0 and then of sectors
// 1, 2, ... of a 64 KiB disk, every one with the 0x55AA signature, so that
// links between EBRs, loops, and entries outside the disk are one mutation
// away.
func FuzzInspectDOS(f *testing.F) {
	entries := func(es ...[4]uint32) []byte { // boot/type byte, start, sectors per entry
		b := make([]byte, 16*len(es))
		for i, e := range es {
			b[16*i] = byte(e[0] >> 8)
			putEntry(b[16*i:], byte(e[0]), e[1], e[2])
		}
		return b
	}
	pad := func(b []byte) []byte { return append(b, make([]byte, 64-len(b)%64)...) }
	// MBR: 83 at 1, extended 05 at 2 (60 sectors); EBR at 2: logical at +1,
	// link to 2+4; EBR at 6: logical, link to itself (a loop).
	loop := append(pad(entries([4]uint32{0x83, 1, 1}, [4]uint32{0x05, 2, 60})), make([]byte, 64)...)
	loop = append(loop, pad(entries([4]uint32{0x83, 1, 1}, [4]uint32{0x05, 4, 4}))...)
	for len(loop) < 6*64 {
		loop = append(loop, make([]byte, 64)...)
	}
	loop = append(loop, pad(entries([4]uint32{0x82, 1, 1}, [4]uint32{0x05, 4, 4}))...)
	f.Add(loop)
	f.Add(pad(entries([4]uint32{0x83, math.MaxUint32, math.MaxUint32}, [4]uint32{0x0f, 120, math.MaxUint32})))
	f.Add(pad(entries([4]uint32{0x8005, 0, 128}, [4]uint32{0xee, 1, math.MaxUint32})))
	f.Add(pad(entries([4]uint32{0x05, 1, 127})))
	f.Fuzz(func(t *testing.T, in []byte) {
		disk := make([]byte, 64<<10)
		for i := 0; i*64 < len(in) && i < len(disk)/512; i++ {
			copy(disk[i*512+446:i*512+510], in[i*64:])
			disk[i*512+510], disk[i*512+511] = 0x55, 0xaa
		}
		d, err := partition.Inspect(bytes.NewReader(disk), int64(len(disk)))
		if err != nil {
			if !errors.Is(err, partition.ErrInvalid) {
				t.Fatalf("error on in-memory input is not ErrInvalid: %v", err)
			}
			return
		}
		checkOnDisk(t, d)
	})
}

// checkOnDisk: every listed partition is a byte range that starts on the
// disk and does not wrap, its slices lie inside it, and Overlaps gives
// non-empty ranges.
func checkOnDisk(t *testing.T, d *partition.Disk) {
	t.Helper()
	for _, p := range d.Partitions {
		if p.Number < 1 || p.Start < 0 || p.Size <= 0 || p.Start >= d.Size || p.End() < p.Start {
			t.Fatalf("partition %+v on a %d-byte disk", p, d.Size)
		}
		for _, s := range p.Slices {
			if s.Start < p.Start || s.Size <= 0 || s.Start+s.Size > p.End() {
				t.Fatalf("slice %+v outside partition %+v", s, p)
			}
		}
		for _, e := range d.Overlaps(p) {
			if e.Bytes() <= 0 || e.Start < p.Start || e.End > p.End() {
				t.Fatalf("overlap %+v of partition %+v", e, p)
			}
		}
	}
}

func FuzzParseInventory(f *testing.F) {
	f.Add([]byte("PRODUCT_VERSION='5.5.0'\nBUILD_NUMBER='15119p'\n"))
	f.Add([]byte("A=\nB='\n='x'\nno equals sign\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for k, v := range partition.ParseInventory(b) {
			if strings.Contains(k, "\n") || strings.Contains(v, "\n") {
				t.Fatalf("newline in %q=%q", k, v)
			}
		}
	})
}
