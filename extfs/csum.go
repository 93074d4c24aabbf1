package extfs

import (
	"encoding/binary"
	"hash/crc32"
	"sync"
)

// castagnoli is built on first use: building it costs about 0.2 ms, a
// tenth of a short command's whole run, and only metadata_csum
// filesystems and journals need it.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// crc32c is the kernel's and libext2fs's ext2fs_crc32c_le: CRC-32C without
// the final inversion, continuing from seed (e2fsprogs lib/ext2fs/csum.c).
func crc32c(seed uint32, b []byte) uint32 {
	return ^crc32.Update(^seed, castagnoli(), b)
}

func crc32cU32(seed, v uint32) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return crc32c(seed, b[:])
}

// crc16Table is CRC-16/ARC (polynomial 0x8005, reflected), the table of
// e2fsprogs lib/ext2fs/crc16.c, used by the older gdt_csum feature. Built
// on first use, as the other tables: a short read of a filesystem without
// checksums builds none.
var crc16Table = sync.OnceValue(func() (t *[256]uint16) {
	t = new([256]uint16)
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xa001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
})

func crc16(crc uint16, b []byte) uint16 {
	t := crc16Table()
	for _, c := range b {
		crc = crc>>8 ^ t[byte(crc)^c]
	}
	return crc
}
