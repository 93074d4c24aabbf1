package partition

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"strings"
)

// Files the installer reads from a root or backup partition (xenserver.md §3.1, §3.4).
const (
	InventoryFile = "/etc/xensource-inventory"
	BackupMarker  = "/.xen-backup-partition"
)

const (
	maxLinks     = 40      // symlinks followed per file, as the kernel does
	maxFileBytes = 1 << 20 // an inventory is a few hundred bytes
)

// ErrNotFound: the file is not in the filesystem.
var ErrNotFound = errors.New("not found")

// ReadMarkers reads, from the root and backup partitions of the image or
// block device at imagePath, etc/xensource-inventory and the
// .xen-backup-partition marker. It uses e2fsprogs' debugfs on
// "imagePath?offset=N": no mount, no root privileges, and never opened for
// writing (no -w), so even a journal that needs recovery is left alone.
// Whatever cannot be read becomes a warning.
func (d *Disk) ReadMarkers(ctx context.Context, imagePath string) {
	x := d.XenServer
	if x == nil {
		return
	}
	if strings.Contains(imagePath, "?") {
		d.warnf("cannot read markers: the path %q contains '?', which debugfs takes as an option separator", imagePath)
		return
	}
	if _, err := exec.LookPath("debugfs"); err != nil {
		d.warnf("cannot read markers: debugfs (e2fsprogs) not found")
		return
	}
	defer d.scanBackups(ctx, imagePath)
	fs := func(n int) *debugFS {
		p := d.Partition(n)
		if p == nil || !isExt(p.FS) || p.End() > d.Size {
			return nil
		}
		return &debugFS{image: imagePath, offset: p.Start}
	}
	if root := fs(x.RootPartition); root != nil {
		inv, err := readInventory(ctx, root)
		if err != nil {
			d.warnf("root partition %d: %s: %v", x.RootPartition, InventoryFile, err)
		}
		x.Inventory = inv
	}
	if x.Backup == nil {
		return
	}
	b := fs(x.Backup.Partition)
	if b == nil {
		if p := d.Partition(x.Backup.Partition); p.FS == "" {
			d.warnf("backup partition %d holds no filesystem: there is no backup to restore", p.Number)
		}
		return
	}
	_, err := b.read(ctx, BackupMarker)
	switch {
	case err == nil:
		x.Backup.Marker = true
	case !errors.Is(err, ErrNotFound):
		d.warnf("backup partition %d: %s: %v", x.Backup.Partition, BackupMarker, err)
	}
	inv, err := readInventory(ctx, b)
	if err != nil && (x.Backup.Marker || !errors.Is(err, ErrNotFound)) {
		d.warnf("backup partition %d: %s: %v", x.Backup.Partition, InventoryFile, err)
	}
	x.Backup.Inventory = inv
}

// ReadPartitionFile reads name (an absolute path inside the filesystem)
// from the ext filesystem of partition n of the image or block device at
// imagePath, read-only, following symlinks inside that filesystem. A file
// that is not there is ErrNotFound.
func (d *Disk) ReadPartitionFile(ctx context.Context, imagePath string, n int, name string) ([]byte, error) {
	p := d.Partition(n)
	switch {
	case p == nil || !isExt(p.FS):
		return nil, fmt.Errorf("partition %d: no ext filesystem", n)
	case p.End() > d.Size:
		return nil, fmt.Errorf("partition %d ends past the end of the disk", n)
	case strings.Contains(imagePath, "?"):
		return nil, fmt.Errorf("the path %q contains '?', which debugfs takes as an option separator", imagePath)
	}
	return (&debugFS{image: imagePath, offset: p.Start}).read(ctx, name)
}

func readInventory(ctx context.Context, fs *debugFS) (map[string]string, error) {
	data, err := fs.read(ctx, InventoryFile)
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

// debugFS reads files of the ext filesystem at offset in image through
// debugfs, read-only and in catastrophic mode (-c: bitmaps are not read, so
// a damaged filesystem still opens).
type debugFS struct {
	image  string
	offset int64
}

// read returns the content of name, following symlinks inside the
// filesystem: debugfs resolves symlinks in the middle of a path itself
// (absolute targets from the filesystem's root, ".." clamped there) but not
// in the last element, which is done here, at most maxLinks times.
func (f *debugFS) read(ctx context.Context, name string) ([]byte, error) {
	for range maxLinks {
		kind, dest, err := f.stat(ctx, name)
		if err != nil {
			return nil, err
		}
		switch kind {
		case "regular":
			return f.run(ctx, "cat", name)
		case "symlink":
			if dest == "" {
				// A slow symlink keeps its target in a data block.
				b, err := f.run(ctx, "cat", name)
				if err != nil {
					return nil, err
				}
				dest = string(b)
			}
			if !path.IsAbs(dest) {
				dest = path.Join(path.Dir(name), dest)
			}
			name = path.Clean(dest)
		default:
			return nil, fmt.Errorf("%s is a %s, not a regular file", name, kind)
		}
	}
	return nil, fmt.Errorf("more than %d symlinks", maxLinks)
}

// stat returns the inode type of name and, for a fast symlink, its target.
func (f *debugFS) stat(ctx context.Context, name string) (kind, dest string, err error) {
	out, err := f.run(ctx, "stat", name)
	if err != nil {
		return "", "", err
	}
	for line := range strings.Lines(string(out)) {
		if _, rest, ok := strings.Cut(line, "Type: "); ok && kind == "" {
			kind, _, _ = strings.Cut(rest, " ")
		}
		if rest, ok := strings.CutPrefix(line, "Fast link dest: "); ok {
			dest = strings.TrimSuffix(strings.TrimSpace(rest), `"`)
			dest = strings.TrimPrefix(dest, `"`)
		}
	}
	if kind == "" {
		return "", "", fmt.Errorf("debugfs stat %s: no inode type in its output", name)
	}
	return kind, dest, nil
}

// run executes one debugfs request. debugfs reports most failures on stderr
// with exit status 0, so anything on stderr besides its banner is an error.
func (f *debugFS) run(ctx context.Context, req, name string) ([]byte, error) {
	if strings.ContainsAny(name, "\"\\\n\r\t ") {
		return nil, fmt.Errorf("%q: path with quote, backslash or whitespace not followed", name)
	}
	cmd := exec.CommandContext(ctx, "debugfs", "-c", "-R", req+` "`+name+`"`, fmt.Sprintf("%s?offset=%d", f.image, f.offset))
	var stdout limitedBuffer
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("debugfs %s %s: %w: %s", req, name, err, firstLine(stderr.String()))
	}
	if stdout.overflow {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxFileBytes)
	}
	for line := range strings.Lines(stderr.String()) {
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasPrefix(line, "debugfs "), strings.Contains(line, "catastrophic mode"):
		case strings.Contains(line, "not found by ext2_lookup"):
			return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
		default:
			return nil, fmt.Errorf("debugfs %s %s: %s", req, name, line)
		}
	}
	return stdout.Bytes(), nil
}

func firstLine(s string) string {
	for line := range strings.Lines(s) {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "debugfs ") {
			return l
		}
	}
	return ""
}

// limitedBuffer keeps at most maxFileBytes and notes that more came.
type limitedBuffer struct {
	bytes.Buffer
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := maxFileBytes - b.Len(); len(p) > room {
		b.overflow = true
		p = p[:max(room, 0)]
	}
	b.Buffer.Write(p)
	return n, nil
}
