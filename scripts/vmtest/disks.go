package main

import (
	"strings"

	"github.com/xsrescue/xsrescue/fixtures"
)

// Disk is one fixture disk of the rescue VM: how QEMU attaches it, what is
// on it, and what the checks expect to read back.
type Disk struct {
	ID         string `json:"id"`          // the disk's serial number in the VM, also the result prefix
	Image      string `json:"image"`       // image file on the host
	Bus        string `json:"bus"`         // "virtio" (virtio-blk) or "scsi" (scsi-hd on virtio-scsi)
	SectorSize int    `json:"sector_size"` // logical = physical block size QEMU reports
	Table      string `json:"table"`       // "dos" or "gpt"
	Installer  string `json:"installer"`   // the installer version set/doctor are asked about
	Installed  string `json:"installed"`   // PRODUCT_VERSION of the root
	Backup     string `json:"backup"`      // PRODUCT_VERSION of the backup partition
	// SHA256 is the hash of the whole image before the VM ran.
	SHA256 string `json:"sha256"`
}

// matrix is every disk of the VM: each bus gets a 512- and a 4096-byte-sector
// disk, each table type a 512- and a 4096-byte-sector disk. The DOS disks are
// the seed scenario (XenServer 5.5 whose downgrade to 5.0 failed, the 5.0
// system in the backup partition, xapi databases in both); the GPT disks a
// XenServer 7.1 upgraded from 6.5, going back to the 7.0 installer.
func matrix() []Disk {
	return []Disk{
		{ID: "virtio-512", Bus: "virtio", SectorSize: 512, Table: "dos", Installer: "5.0", Installed: "5.5.0", Backup: "5.0.0"},
		{ID: "virtio-4k", Bus: "virtio", SectorSize: 4096, Table: "gpt", Installer: "7.0", Installed: "7.1.0", Backup: "6.5.0"},
		{ID: "scsi-512", Bus: "scsi", SectorSize: 512, Table: "gpt", Installer: "7.0", Installed: "7.1.0", Backup: "6.5.0"},
		{ID: "scsi-4k", Bus: "scsi", SectorSize: 4096, Table: "dos", Installer: "5.0", Installed: "5.5.0", Backup: "5.0.0"},
	}
}

// spec is the fixtures disk of d: Mini's layout (root 1, backup 2, SR 3),
// its table counting d's sectors. On a 4096-byte-sector disk the ext
// filesystems have 4096-byte blocks, as mke2fs makes them on such a device:
// the VM's kernel mounts no smaller block there (init mounts /dev/XX1 and 2).
func (d Disk) spec() fixtures.DiskSpec {
	name := "vmtest-" + d.ID
	var s fixtures.DiskSpec
	if d.Table == "dos" {
		s = fixtures.MiniRescue(name)
	} else {
		s = fixtures.Mini(name, d.Table, fixtures.RootSpec{Release: "7.1"}, &fixtures.RootSpec{Release: "6.5"})
	}
	s.SectorSize = d.SectorSize
	for i := range s.Partitions {
		if p := &s.Partitions[i]; d.SectorSize == 4096 && strings.HasPrefix(p.FS, "ext") {
			p.BlockSize = 4096
		}
	}
	return s
}

// build writes d's image into dir.
func (d *Disk) build(dir string) error {
	var err error
	if d.Image, err = fixtures.BuildDisk(dir, d.spec()); err != nil {
		return err
	}
	d.SHA256, err = fixtures.FileSHA256(d.Image)
	return err
}
