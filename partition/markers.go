package partition

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/xsrescue/xsrescue/extfs"
	"github.com/xsrescue/xsrescue/internal/installerview"
)

// Files the installer reads from a root or backup partition (xenserver/host-installer
// product.py readInventory and findXenSourceBackups; docs/disk.md).
const (
	InventoryFile = "/etc/xensource-inventory"
	BackupMarker  = "/.xen-backup-partition"
)

// maxFileBytes bounds what is read of a file: only inventories are read,
// which are a few hundred bytes, but the installer reads any size
// (readKeyValueFile), so the bound is generous (versionfile.MaxInventorySize).
const maxFileBytes = 16 << 20

// ErrNotFound: the file is not in the filesystem (fs.ErrNotExist). Any
// other error means that whether it exists is unknown.
var ErrNotFound = fs.ErrNotExist

// ReadFile reads the file name (absolute or relative to the filesystem's
// root; symlinks followed inside the filesystem, chroot-style) from the
// ext2/3/4 filesystem of partition n of the disk r, in-process and
// read-only: no debugfs, no mount, no root privileges. Files over 16 MiB
// are refused. Errors name the partition; errors.Is(err, ErrNotFound)
// only when the file is known to be absent.
func (d *Disk) ReadFile(r io.ReaderAt, n int, name string) ([]byte, error) {
	return d.files(r).read(n, name)
}

// partFiles reads files from the partitions of one disk, each filesystem
// opened once (ReadMarkers and the backup scan read the same partitions).
type partFiles struct {
	d    *Disk
	r    io.ReaderAt
	open map[int]*extfs.FS
	err  map[int]error
}

func (d *Disk) files(r io.ReaderAt) *partFiles {
	return &partFiles{d: d, r: r, open: map[int]*extfs.FS{}, err: map[int]error{}}
}

// fs opens the ext filesystem of partition n (once).
func (pf *partFiles) fs(n int) (*extfs.FS, error) {
	if x, ok := pf.open[n]; ok {
		return x, nil
	}
	if err, ok := pf.err[n]; ok {
		return nil, err
	}
	x, err := pf.d.extFS(pf.r, n)
	if err != nil {
		pf.err[n] = err
		return nil, err
	}
	pf.open[n] = x
	return x, nil
}

func (pf *partFiles) read(n int, name string) ([]byte, error) {
	x, err := pf.fs(n)
	if err != nil {
		return nil, err
	}
	return readExt(x, name)
}

func (pf *partFiles) inventory(n int) (map[string]string, error) {
	// The installer opens it on the partition mounted below its ramdisk:
	// a symlink out of the filesystem names a ramdisk file. Otherwise the
	// chroot-style read below finds the file the installer reads.
	x, err := pf.fs(n)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(InventoryFile, "/")
	if err := installerview.Stat(extTree{x}, name).Unknown(name); err != nil {
		return nil, err
	}
	data, err := pf.read(n, InventoryFile)
	if err != nil {
		return nil, err
	}
	return ParseInventory(data), nil
}

// extTree is an ext filesystem as installerview reads it.
type extTree struct{ *extfs.FS }

func (t extTree) Readlink(name string) (string, error) { return t.ReadLink(name) }

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

func readExt(x *extfs.FS, name string) ([]byte, error) {
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
// etc/xensource-inventory and the .xen-backup-partition marker, and scans
// every ext partition for the marker as the installer's Restore does
// (Backups, backups.go): in-process and read-only (extfs), no debugfs, no
// mount, no root privileges; a journal that needs recovery is replayed in
// memory (as the installer's mount replays it) and the disk never written.
// What cannot be read, a journal that cannot be replayed too, is unknown —
// Inventory nil with InventoryError set, Marker nil with MarkerError set —
// and a warning; never "absent".
func (d *Disk) ReadMarkers(r io.ReaderAt) {
	x := d.XenServer
	if x == nil {
		return
	}
	pf := d.files(r)
	defer d.scanBackups(pf)
	if p := d.Partition(x.RootPartition); p != nil {
		inv, err := pf.inventory(x.RootPartition)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				x.InventoryError = unknown(err)
			}
			d.warnOnce(fmt.Sprintf("root partition %d: %v", x.RootPartition, err))
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
		b.Marker = ptr(false)
		return
	}
	*b = pf.backup(b.Partition)
}

// unknown is the reason recorded for a marker that could not be read.
func unknown(err error) *string {
	s := err.Error()
	return &s
}

func ptr[T any](v T) *T { return &v }

// ParseInventory is the installer's util.readKeyValueFile, identical from
// host-installer fc4eed16e14f (5.0) to 05720e0c0421 (XenServer 8): the
// file split at "\n" only (a "\r" stays in the value), each line read by
// KeyValueLine, a later key replacing an earlier one. Keys that are not
// shell names (which no installer looks up) are left out. It is the one
// inventory reading; versionfile's lossless parser and writer gives its
// values by KeyValueLine too.
func ParseInventory(data []byte) map[string]string {
	m := map[string]string{}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // after the final newline: no line
	}
	for _, l := range lines {
		if k, v := KeyValueLine(l); ShellName(k) {
			m[k] = v
		}
	}
	return m
}

// KeyValueLine is readKeyValueFile's reading of one line (without its
// "\n"): the key is what comes before the first '=', the value what comes
// after it with every leading and trailing single quote stripped
// (str.strip("'")): PRODUCT_VERSION='5.5.0' followed by a space reads as
// "5.5.0' ". Without '=' Python's l[:l.find("=")] is the line but its
// last byte, and the value the whole line.
func KeyValueLine(line string) (key, value string) {
	i := strings.IndexByte(line, '=')
	if i < 0 {
		if line == "" {
			return "", ""
		}
		return line[:len(line)-1], strings.Trim(line, "'")
	}
	return line[:i], strings.Trim(line[i+1:], "'")
}

// ShellName reports whether k is a shell variable name, as every key an
// installer or xapi looks up is.
func ShellName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
