package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"

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
	// Gate names the environment variable that turns on the assertions
	// about what xsrescue reads from this disk ("" = always on). Set where
	// xsrescue is known to misread the disk today; the safety assertions
	// (exit codes of refusals, the image unchanged at the end) stay on.
	Gate string `json:"gate,omitempty"`
	// SHA256 is the hash of the whole image before the VM ran.
	SHA256 string `json:"sha256"`
}

// Gate4KDOS: `disk inspect` reads a DOS table as if sectors were 512 bytes,
// so on a 4096-byte-sector DOS disk it finds no partition where the table
// says. Set XSRESCUE_VMTEST_4K_DOS=1 once the partition reader takes the
// device's logical sector size.
const Gate4KDOS = "XSRESCUE_VMTEST_4K_DOS"

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
		{ID: "scsi-4k", Bus: "scsi", SectorSize: 4096, Table: "dos", Installer: "5.0", Installed: "5.5.0", Backup: "5.0.0", Gate: Gate4KDOS},
	}
}

// spec is the fixtures disk of d: Mini's layout (root 1, backup 2, SR 3).
func (d Disk) spec() fixtures.DiskSpec {
	name := "vmtest-" + d.ID
	if d.Table == "dos" {
		return fixtures.MiniRescue(name)
	}
	return fixtures.Mini(name, d.Table, fixtures.RootSpec{Release: "7.1"}, &fixtures.RootSpec{Release: "6.5"})
}

// build writes d's image into dir.
func (d *Disk) build(dir string) error {
	spec := d.spec()
	var err error
	if d.SectorSize == 512 {
		d.Image, err = fixtures.BuildDisk(dir, spec)
	} else {
		d.Image, err = build4K(dir, spec)
	}
	if err != nil {
		return err
	}
	d.SHA256, err = fixtures.FileSHA256(d.Image)
	return err
}

// build4K writes spec as a disk with 4096-byte logical sectors: the
// partition table in 4096-byte units (GPT header in LBA 1 at byte 4096,
// DOS entries counting 4096-byte sectors), ext filesystems made with
// 4096-byte blocks as mke2fs makes them on such a device (the kernel mounts
// no smaller block size there), everything else (the LVM PV label) copied
// from the 512-byte twin that fixtures.BuildDisk builds, at the same byte
// offsets.
//
// The fixtures package builds 512-byte-sector disks only; this is the
// stand-in until it has 4096-byte builders of its own.
func build4K(dir string, spec fixtures.DiskSpec) (string, error) {
	twinDir, err := os.MkdirTemp(dir, "twin-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(twinDir)
	twin, err := fixtures.BuildDisk(twinDir, spec)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, spec.Name+".img")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", err
	}
	err = write4K(f, twin, dir, spec)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("building %s with 4096-byte sectors: %w", spec.Name, err)
	}
	return path, nil
}

const sector4K = 4096

func write4K(f *os.File, twin, dir string, spec fixtures.DiskSpec) error {
	if err := f.Truncate(spec.Size); err != nil {
		return err
	}
	parts := append([]fixtures.PartSpec(nil), spec.Partitions...)
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	for _, p := range parts {
		if p.Start%sector4K != 0 || p.Size%sector4K != 0 || p.Number > 4 {
			return fmt.Errorf("partition %d: not a 4096-aligned primary partition", p.Number)
		}
	}
	var err error
	if spec.Table == "gpt" {
		err = writeGPT4K(f, spec, parts)
	} else {
		err = writeDOS4K(f, spec, parts)
	}
	if err != nil {
		return err
	}
	src, err := os.Open(twin)
	if err != nil {
		return err
	}
	defer src.Close()
	for _, p := range parts {
		uuid := p.UUID
		if uuid == "" {
			uuid = fixtures.UUID(fmt.Sprintf("%s/%d", spec.Name, p.Number))
		}
		switch {
		case strings.HasPrefix(p.FS, "ext"):
			err = mkext4K(f.Name(), dir, p, uuid)
		case p.FS != "":
			err = copyRange(f, src, p.Start, p.Size)
		}
		if err != nil {
			return fmt.Errorf("partition %d (%s): %w", p.Number, p.FS, err)
		}
	}
	return nil
}

func writeGPT4K(f *os.File, spec fixtures.DiskSpec, parts []fixtures.PartSpec) error {
	t := &gpt.Table{
		LogicalSectorSize:  sector4K,
		PhysicalSectorSize: sector4K,
		ProtectiveMBR:      true,
		GUID:               strings.ToUpper(fixtures.UUID(spec.Name + "/disk")),
	}
	for _, p := range parts {
		t.Partitions = append(t.Partitions, &gpt.Partition{
			Index: p.Number,
			Start: uint64(p.Start / sector4K),
			End:   uint64((p.Start+p.Size)/sector4K - 1),
			Size:  uint64(p.Size),
			Type:  gpt.Type(p.Type),
			Name:  p.Name,
			GUID:  strings.ToUpper(fixtures.UUID(fmt.Sprintf("%s/part%d", spec.Name, p.Number))),
		})
	}
	return t.Write(f, spec.Size)
}

func writeDOS4K(f *os.File, spec fixtures.DiskSpec, parts []fixtures.PartSpec) error {
	t := &mbr.Table{LogicalSectorSize: sector4K, PhysicalSectorSize: sector4K}
	for _, p := range parts {
		typ, err := strconv.ParseUint(p.Type, 16, 8)
		if err != nil {
			return fmt.Errorf("partition %d: DOS type %q: %w", p.Number, p.Type, err)
		}
		for len(t.Partitions) < p.Number-1 {
			t.Partitions = append(t.Partitions, &mbr.Partition{Type: mbr.Empty})
		}
		t.Partitions = append(t.Partitions, &mbr.Partition{
			Bootable: p.Bootable,
			Type:     mbr.Type(typ),
			Start:    uint32(p.Start / sector4K),
			Size:     uint32(p.Size / sector4K),
		})
	}
	return t.Write(f, spec.Size)
}

// mkext4K makes p's ext filesystem (with its XenServer tree) in place.
func mkext4K(img, dir string, p fixtures.PartSpec, uuid string) error {
	args := []string{"-q", "-F", "-t", p.FS, "-b", strconv.Itoa(sector4K), "-U", uuid,
		"-E", fmt.Sprintf("offset=%d,lazy_itable_init=1,lazy_journal_init=1", p.Start)}
	if p.Label != "" {
		args = append(args, "-L", p.Label)
	}
	if p.Root != nil {
		tree, err := os.MkdirTemp(dir, "root-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tree)
		if err := fixtures.WriteXenServerRoot(tree, *p.Root); err != nil {
			return err
		}
		args = append(args, "-d", tree)
	}
	args = append(args, img, strconv.FormatInt(p.Size/fixtures.KiB, 10)+"k")
	if out, err := exec.Command("mke2fs", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("mke2fs %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// copyRange copies [off, off+size) of src to the same place in dst,
// skipping zero blocks so the image stays sparse.
func copyRange(dst, src *os.File, off, size int64) error {
	buf := make([]byte, 64*fixtures.KiB)
	for pos := off; pos < off+size; pos += int64(len(buf)) {
		n, err := src.ReadAt(buf[:min(int64(len(buf)), off+size-pos)], pos)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if allZero(buf[:n]) {
			continue
		}
		if _, err := dst.WriteAt(buf[:n], pos); err != nil {
			return err
		}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
