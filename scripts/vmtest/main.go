// Command vmtest is the host side of scripts/vmtest.sh, the rescue-VM test
// on real block devices:
//
//	go run ./scripts/vmtest build DIR   # fixture disks + what the VM and QEMU need to know about them
//	go run ./scripts/vmtest check DIR   # asserts on DIR/results.log (the VM's result channel) and the images
//
// build writes, into DIR, one image per disk of the matrix (virtio-blk and
// SCSI, 512- and 4096-byte logical sectors, DOS and GPT) with the fixtures
// package, and three descriptions of them: disks.json (for check), vm-disks
// (one "ID INSTALLER" line per disk, read by the VM's init) and qemu-args
// (the -drive/-device arguments, one per line). check reads the framed
// results the VM wrote and asserts roles, verdicts, exit codes and that
// every image is byte-identical to the one built.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "build" && os.Args[1] != "check") {
		fmt.Fprintln(os.Stderr, "usage: vmtest build|check DIR")
		os.Exit(2)
	}
	dir := os.Args[2]
	var err error
	if os.Args[1] == "build" {
		err = build(dir)
	} else {
		err = check(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmtest:", err)
		os.Exit(1)
	}
}

func build(dir string) error {
	disks := matrix()
	var vm, qemu strings.Builder
	for i := range disks {
		d := &disks[i]
		if err := d.build(dir); err != nil {
			return err
		}
		fmt.Fprintf(&vm, "%s %s\n", d.ID, d.Installer)
		for _, a := range d.qemuArgs(i) {
			fmt.Fprintln(&qemu, a)
		}
		fmt.Printf("vmtest: %s: %s, %s, %d-byte sectors, %s: %s\n", d.ID, d.Bus, d.Table, d.SectorSize, filepath.Base(d.Image), d.SHA256)
	}
	b, err := json.MarshalIndent(disks, "", "  ")
	if err != nil {
		return err
	}
	for name, data := range map[string]string{"disks.json": string(b) + "\n", "vm-disks": vm.String(), "qemu-args": qemu.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// qemuArgs attaches d as drive number i: a virtio-blk PCI device, or a
// scsi-hd on the one virtio-scsi controller (scsi0, added by vmtest.sh).
// The serial number is how the VM's init finds the device.
func (d Disk) qemuArgs(i int) []string {
	drive := fmt.Sprintf("d%d", i)
	blocks := fmt.Sprintf("logical_block_size=%d,physical_block_size=%d", d.SectorSize, d.SectorSize)
	dev := fmt.Sprintf("virtio-blk-pci,drive=%s,serial=%s,%s", drive, d.ID, blocks)
	if d.Bus == "scsi" {
		dev = fmt.Sprintf("scsi-hd,bus=scsi0.0,drive=%s,serial=%s,%s", drive, d.ID, blocks)
	}
	return []string{"-drive", fmt.Sprintf("file=%s,format=raw,if=none,id=%s", d.Image, drive), "-device", dev}
}
