package partition_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/partition"
)

// hostileGPT is the 8 MiB tiny GPT disk (16384 sectors, usable LBAs
// 34-16350) with entry 2's LBAs replaced and every CRC made right again.
func hostileGPT(t testing.TB, first, last uint64) []byte {
	t.Helper()
	p, err := fixtures.BuildDisk(t.TempDir(), tinySpec("gpt", 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.SetGPTEntryLBAs(p, 2, first, last); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileEntries: table entries whose values lie outside the disk — up
// to values whose byte offsets overflow int64 — are reported with their
// entry number and values and ignored: never listed, never probed, never
// at a wrapped offset. An entry that only ends past the end, inside what
// the table says the disk was (a truncated copy), stays listed.
func TestHostileEntries(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	dos := buildBytes(t, tinySpec("dos", size))
	dosPastEnd := bytes.Clone(dos)
	binary.LittleEndian.PutUint32(dosPastEnd[446+16+8:], 20000) // partition 2 starts at sector 20000 of 16384
	dosMax := bytes.Clone(dos)
	putEntry(dosMax[446+16:], 0x83, math.MaxUint32, math.MaxUint32)

	// Partition 2 becomes extended (3-6 MiB); its EBR holds logical 5 past
	// the end of the disk and links a second EBR whose logical 6 is good.
	logical := bytes.Clone(dos)
	logical[446+16+4] = 0x05
	ebr1, ebr2 := 3<<20, 4<<20
	putEntry(logical[ebr1+446:], 0x83, math.MaxUint32-7, 8)
	putEntry(logical[ebr1+462:], 0x05, 2048, 2048)
	putEntry(logical[ebr2+446:], 0x83, 1, 1024)
	for _, e := range []int{ebr1, ebr2} {
		logical[e+510], logical[e+511] = 0x55, 0xaa
	}

	tests := []struct {
		name     string
		img      []byte
		numbers  []int
		warnings []string
	}{
		{"GPT last LBA 2^64-1", hostileGPT(t, 6144, math.MaxUint64), []int{1}, []string{
			"GPT entry 2 (LBA 6144-18446744073709551615) ends past the end of the disk (last LBA 16383) and past the table's last usable LBA 16350: entry ignored"}},
		{"GPT first LBA 2^63", hostileGPT(t, 1<<63, 1<<63+2047), []int{1}, []string{
			"GPT entry 2 (LBA 9223372036854775808-9223372036854777855) starts past the end of the disk (last LBA 16383): entry ignored"}},
		{"GPT first LBA 2^55+2048 (wraps to 1 MiB)", hostileGPT(t, 1<<55+2048, 1<<55+4095), []int{1}, []string{
			"GPT entry 2 (LBA 36028797018966016-36028797018968063) starts past the end of the disk (last LBA 16383): entry ignored"}},
		{"GPT both LBAs 2^64-1", hostileGPT(t, math.MaxUint64, math.MaxUint64), []int{1}, []string{
			"GPT entry 2 (LBA 18446744073709551615-18446744073709551615) starts past the end of the disk (last LBA 16383): entry ignored"}},
		{"GPT entry just past the end", hostileGPT(t, 16384, 16400), []int{1}, []string{
			"GPT entry 2 (LBA 16384-16400) starts past the end of the disk (last LBA 16383): entry ignored"}},
		{"GPT entry ends past the table's usable LBAs", hostileGPT(t, 6144, 1<<40), []int{1}, []string{
			"GPT entry 2 (LBA 6144-1099511627776) ends past the end of the disk (last LBA 16383) and past the table's last usable LBA 16350: entry ignored"}},
		{"GPT entry over the backup table", hostileGPT(t, 6144, 16383), []int{1, 2}, []string{
			"GPT entry 2 (LBA 6144-16383) lies outside the usable LBAs 34-16350"}},
		{"GPT last LBA before first", hostileGPT(t, 6144, 6143), []int{1}, []string{
			"GPT entry 2: last LBA 6143 is before first LBA 6144; entry ignored"}},
		{"DOS entry starts past the end", dosPastEnd, []int{1}, []string{
			"DOS entry 2 (start sector 20000, 6144 sectors: bytes 10240000-13385728) starts past the end of the disk (8388608 bytes): entry ignored"}},
		{"DOS entry with 32-bit maxima", dosMax, []int{1}, []string{
			"DOS entry 2 (start sector 4294967295, 4294967295 sectors: bytes 2199023255040-4398046510080) starts past the end of the disk (8388608 bytes): entry ignored"}},
		{"logical partition past the end", logical, []int{1, 2, 6}, []string{
			"logical partition 5 (EBR at byte 3145728: start sector 4294967288, 8 sectors: bytes 2199026397184-2199026401280) starts past the end of the disk (8388608 bytes): entry ignored"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := partition.Inspect(bytes.NewReader(tt.img), int64(len(tt.img)))
			if err != nil {
				t.Fatal(err)
			}
			var numbers []int
			for _, p := range d.Partitions {
				numbers = append(numbers, p.Number)
				if p.Start < 0 || p.Size <= 0 || p.Start >= d.Size || p.End() < p.Start {
					t.Errorf("partition %d listed at bytes %d+%d on a %d-byte disk", p.Number, p.Start, p.Size, d.Size)
				}
			}
			if !slices.Equal(numbers, tt.numbers) {
				t.Errorf("partitions %v, want %v", numbers, tt.numbers)
			}
			checkWarnings(t, d.Warnings, tt.warnings)
		})
	}
}

// TestOverlaps: what writing a whole partition would overwrite besides it.
func TestOverlaps(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	dos := buildBytes(t, tinySpec("dos", size))
	overlapping := bytes.Clone(dos)
	putEntry(overlapping[446+16:], 0x83, 4095, 6144) // partition 2 from 2 MiB - 512, over partition 1's last sector
	overMBR := bytes.Clone(dos)
	putEntry(overMBR[446:], 0x83, 0, 2048)
	// Partition 2 becomes extended, its EBRs at 3 and 4 MiB hold logical 5
	// and 6.
	logical := bytes.Clone(dos)
	logical[446+16+4] = 0x05
	putEntry(logical[3<<20+446:], 0x83, 1, 1024)
	putEntry(logical[3<<20+462:], 0x05, 2048, 2048)
	putEntry(logical[4<<20+446:], 0x83, 1, 1024)
	for _, e := range []int{3 << 20, 4 << 20} {
		logical[e+510], logical[e+511] = 0x55, 0xaa
	}
	tests := []struct {
		name string
		img  []byte
		n    int
		want []partition.Extent
	}{
		{"GPT partition alone", hostileGPT(t, 6144, 12287), 2, nil},
		{"GPT partition over the backup table", hostileGPT(t, 6144, 16383), 2, []partition.Extent{
			{What: "the backup GPT header", Start: size - 512, End: size},
			{What: "the backup GPT entry array", Start: size - 33*512, End: size - 512}}},
		{"GPT partition over the primary table", hostileGPT(t, 1, 6143), 2, []partition.Extent{
			{What: "the primary GPT header", Start: 512, End: 1024},
			{What: "the primary GPT entry array", Start: 1024, End: 34 * 512},
			{What: "partition 1", Start: 1 << 20, End: 3 << 20}}},
		{"DOS partitions sharing a sector", overlapping, 2, []partition.Extent{
			{What: "partition 1", Start: 4095 * 512, End: 3 << 20}}},
		{"DOS partition overlapped by the next", overlapping, 1, []partition.Extent{
			{What: "partition 2", Start: 4095 * 512, End: 3 << 20}}},
		{"DOS partition over the MBR", overMBR, 1, []partition.Extent{
			{What: "sector 0 (the MBR)", Start: 0, End: 512}}},
		{"logical partition inside its extended one", logical, 5, nil},
		{"extended partition over its logical ones", logical, 2, []partition.Extent{
			{What: "the EBR at byte 3145728", Start: 3 << 20, End: 3<<20 + 512},
			{What: "the EBR at byte 4194304", Start: 4 << 20, End: 4<<20 + 512},
			{What: "partition 5", Start: 3<<20 + 512, End: 3<<20 + 512 + 1024*512},
			{What: "partition 6", Start: 4<<20 + 512, End: 4<<20 + 512 + 1024*512}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := partition.Inspect(bytes.NewReader(tt.img), int64(len(tt.img)))
			if err != nil {
				t.Fatal(err)
			}
			p := d.Partition(tt.n)
			if p == nil {
				t.Fatalf("no partition %d: %v", tt.n, d.Warnings)
			}
			if got := d.Overlaps(*p); !slices.Equal(got, tt.want) {
				t.Errorf("Overlaps(%d) = %+v, want %+v", tt.n, got, tt.want)
			}
		})
	}
}

// manyEntries builds the largest entry array Inspect accepts: 8192 entries
// (1 MiB, the cap) that all point at the same 64 MiB; with vdev, a ZFS vdev
// is there, so that every one of them costs a full label read (the worst
// case).
func manyEntries(t testing.TB, vdev bool) (string, int64) {
	t.Helper()
	const count, vdevSize = 8192, 64 << 20
	dir := t.TempDir()
	img := filepath.Join(dir, "many.img")
	size := int64(4<<20 + vdevSize + 2<<20)
	if err := fixtures.ManyEntriesGPT(img, size, count, 4<<11, 4<<11+vdevSize/512-1); err != nil {
		t.Fatal(err)
	}
	if !vdev {
		return img, size
	}
	labels := filepath.Join(dir, "vdev")
	if err := fixtures.FakeZFSVdev(labels, vdevSize, fixtures.ZFSLabelSpec{Pool: "rpool", PoolGUID: 1, GUID: 2, Version: 28, State: 1, TXG: 3, Ashift: 9}); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(labels)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int{0, vdevSize - 512<<10} { // labels 0-1 and 2-3
		if _, err := f.WriteAt(src[off:off+512<<10], int64(4<<20+off)); err != nil {
			t.Fatal(err)
		}
	}
	return img, size
}

// TestManyEntries: the largest accepted entry array is read whole, every
// entry probed; nothing grows beyond one partition per entry and one
// overlap warning per neighbour (BenchmarkInspectManyEntries says how long
// it takes).
func TestManyEntries(t *testing.T) {
	t.Parallel()
	img, _ := manyEntries(t, false)
	d := inspectFile(t, img)
	if len(d.Partitions) != 8192 || len(d.Warnings) != 8191 || d.Partitions[8191].Start != 4<<20 {
		t.Fatalf("%d partitions, %d warnings", len(d.Partitions), len(d.Warnings))
	}
}

// BenchmarkInspectManyEntries: Inspect of 8192 GPT entries on one ZFS vdev
// (the bound on time and memory that entry counts can cost).
func BenchmarkInspectManyEntries(b *testing.B) {
	img, size := manyEntries(b, true)
	f, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	c := &countingReader{r: f}
	for b.Loop() {
		if _, err := partition.Inspect(c, size); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.bytes.Load())/float64(b.N), "bytes-read/op")
}
