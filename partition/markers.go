package partition

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/xsrescue/xsrescue/extfs"
)

// Files the installer reads from a root or backup partition (xenserver.md §3.1, §3.4).
const (
	InventoryFile = "/etc/xensource-inventory"
	BackupMarker  = "/.xen-backup-partition"
)

// maxFileBytes bounds what is read of a marker: an inventory is a few
// hundred bytes.
const maxFileBytes = 1 << 20

// ErrNotFound: the file is not in the filesystem (fs.ErrNotExist). Any
// other error means that whether it exists is unknown.
var ErrNotFound = fs.ErrNotExist

// ReadFile reads the file name (absolute or relative to the filesystem's
// root; symlinks followed inside the filesystem, chroot-style) from the
// ext2/3/4 filesystem of partition n of the disk r, in-process and
// read-only: no debugfs, no mount, no root privileges. Files over 1 MiB
// are refused. Errors name the partition; errors.Is(err, ErrNotFound)
// only when the file is known to be absent.
func (d *Disk) ReadFile(r io.ReaderAt, n int, name string) ([]byte, error) {
	x, err := d.extFS(r, n)
	if err != nil {
		return nil, err
	}
	return readExt(x, n, name)
}

// extFS opens the ext filesystem of partition n.
func (d *Disk) extFS(r io.ReaderAt, n int) (*extfs.FS, error) {
	p := d.Partition(n)
	switch {
	case p == nil:
		return nil, fmt.Errorf("no partition %d", n)
	case !isExt(p.FS):
		return nil, fmt.Errorf("partition %d holds no ext2/3/4 filesystem (%s)", n, orNone(p.FS))
	case p.End() > d.Size:
		return nil, fmt.Errorf("partition %d ends past the end of the disk: truncated image or damaged entry", n)
	}
	return extfs.Open(r, p.Start, p.Size, extfs.Options{Name: fmt.Sprintf("partition %d", n), Limits: extfs.Limits{MaxReadFile: maxFileBytes}})
}

func readExt(x *extfs.FS, n int, name string) ([]byte, error) {
	rel := strings.TrimPrefix(path.Clean("/"+name), "/")
	if rel == "" {
		rel = "."
	}
	b, err := x.ReadFile(rel)
	if err == nil {
		return b, nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// The path is the one asked for; the partition is named by the
		// caller or, for damage, by extfs.
		err = pe.Err
	}
	return nil, fmt.Errorf("%s: %w", name, err)
}

func orNone(s string) string {
	if s == "" {
		return "none recognised"
	}
	return s
}

// ReadMarkers reads, from the root and backup partitions of the disk r,
// etc/xensource-inventory and the .xen-backup-partition marker, in-process
// and read-only (extfs): no debugfs, no mount, no root privileges, and a
// journal that needs recovery is left alone (read as ro,noload would).
// What cannot be read is unknown — Inventory nil with InventoryError set,
// Backup.Marker nil with MarkerError set — and a warning; never "absent".
func (d *Disk) ReadMarkers(r io.ReaderAt) {
	x := d.XenServer
	if x == nil {
		return
	}
	if p := d.Partition(x.RootPartition); p != nil {
		fsys, err := d.extFS(r, x.RootPartition)
		var inv map[string]string
		if err == nil {
			inv, err = readInventory(fsys, x.RootPartition)
		}
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				x.InventoryError = unknown(err)
			}
			d.warnf("root partition %d: %v", x.RootPartition, err)
		}
		x.Inventory = inv
	}
	b := x.Backup
	if b == nil {
		return
	}
	p := d.Partition(b.Partition)
	if p != nil && p.FS == "" {
		// Never formatted (or wiped): there is nothing to read, and no backup.
		d.warnf("backup partition %d holds no filesystem: there is no backup to restore", p.Number)
		no := false
		b.Marker = &no
		return
	}
	fsys, err := d.extFS(r, b.Partition)
	if err != nil {
		b.MarkerError, b.InventoryError = unknown(err), unknown(err)
		d.warnf("backup partition %d: %v", b.Partition, err)
		return
	}
	_, err = readExt(fsys, b.Partition, BackupMarker)
	switch {
	case err == nil:
		yes := true
		b.Marker = &yes
	case errors.Is(err, ErrNotFound):
		no := false
		b.Marker = &no
	default:
		b.MarkerError = unknown(err)
		d.warnf("backup partition %d: %v", b.Partition, err)
	}
	inv, err := readInventory(fsys, b.Partition)
	switch {
	case err == nil:
		b.Inventory = inv
	case errors.Is(err, ErrNotFound) && (b.Marker == nil || !*b.Marker):
		// An empty or never-used backup partition has no inventory.
	default:
		b.InventoryError = unknown(err)
		d.warnf("backup partition %d: %v", b.Partition, err)
	}
}

// unknown is the reason recorded for a marker that could not be read.
func unknown(err error) *string {
	s := err.Error()
	return &s
}

func readInventory(x *extfs.FS, n int) (map[string]string, error) {
	data, err := readExt(x, n, InventoryFile)
	if err != nil {
		return nil, err
	}
	return ParseInventory(data), nil
}

// ParseInventory is the installer's readKeyValueFile (xenserver.md §3.1):
// one KEY=value per line, split at the first '=', surrounding single quotes
// stripped; lines without '=' are skipped. The lossless parser and writer is
// versionfile's; this one only serves the inspection.
func ParseInventory(data []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxFileBytes)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			continue
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		m[k] = v
	}
	return m
}
