package partition

import (
	"io"
	"strconv"

	"github.com/xsrescue/xsrescue/zfsroot/vdev"
)

// GPT type of a ZFS pool member ("Solaris /usr", V_USR in OpenZFS
// efi_partition.h): whole-disk Solaris and OpenZFS pools put their data here.
const gptZFSType = "6A898CC3-1DD2-11B2-99A6-080020736631"

// ZFSMember is the pool a partition (or one of its VTOC slices) belongs to,
// from its vdev labels (vdev.ReadLabels: checksums verified).
type ZFSMember struct {
	Pool        string `json:"pool"`
	PoolGUID    string `json:"pool_guid"` // decimal: a u64 does not fit a JSON number
	GUID        string `json:"guid"`
	Version     uint64 `json:"version"`
	State       string `json:"state"`
	ValidLabels []int  `json:"valid_labels"`
	Import      string `json:"import"` // openzfs, oracle-only, check-features…
	Slice       *int   `json:"slice"`  // the VTOC slice holding the vdev; null: the partition itself
}

// probeSolaris fills the ZFS member and VTOC slices of a partition. Full
// labels (about 1 MiB) are read only where a pool can be: a slice of a
// Solaris VTOC, a partition whose uberblock probe matched, a GPT ZFS
// partition, or one where a label starts like an nvlist (16 bytes read per
// label); other disks cost 64 bytes per unrecognised partition.
func probeSolaris(r io.ReaderAt, d *Disk, p *Partition) {
	if p.Start >= d.Size || (d.Table == TableDOS && isExtendedType(p.Type)) {
		return
	}
	size := min(p.Size, d.Size-p.Start)
	if d.Table == TableDOS && isSolarisType(p.Type) && p.FS == "" {
		slices, err := readVTOC(r, d, p)
		if err != nil {
			d.warnf("%v", err)
		}
		p.Slices = slices
		for i := range p.Slices {
			s := &p.Slices[i]
			s.ZFS = zfsMember(r, s.Start, s.Size)
			if s.ZFS != nil && p.ZFS == nil {
				m, n := *s.ZFS, s.Number
				m.Slice = &n
				p.ZFS = &m
			}
		}
	}
	maybe := p.FS == "zfs" || p.Type == gptZFSType || (p.FS == "" && vdev.HasLabelHeader(io.NewSectionReader(r, p.Start, size), size))
	if p.ZFS == nil && maybe {
		var err error
		if p.ZFS, err = zfsMemberErr(r, p.Start, size); err != nil && p.FS == "zfs" {
			d.warnf("partition %d has ZFS uberblocks but %v", p.Number, err)
		}
	}
	if p.ZFS != nil && (p.FS == "" || p.FS == "zfs") {
		// blkid -p reports a zfs_member with LABEL = pool name, UUID = pool GUID.
		p.FS, p.Label, p.UUID = "zfs", p.ZFS.Pool, p.ZFS.PoolGUID
	}
}

func zfsMember(r io.ReaderAt, start, size int64) *ZFSMember {
	m, _ := zfsMemberErr(r, start, size)
	return m
}

func zfsMemberErr(r io.ReaderAt, start, size int64) (*ZFSMember, error) {
	m, err := vdev.ReadLabels(io.NewSectionReader(r, start, size), size)
	if err != nil {
		return nil, err
	}
	c := m.Config
	v := vdev.Judge(m, 0, "")
	return &ZFSMember{Pool: c.Name, PoolGUID: strconv.FormatUint(c.PoolGUID, 10), GUID: strconv.FormatUint(c.GUID, 10),
		Version: c.Version, State: vdev.StateName(c.State), ValidLabels: m.ValidLabels(), Import: v.Import}, nil
}
