package vdev

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"github.com/xsrescue/xsrescue/internal/shquote"
)

// Importability of a pool from Linux (docs/zfs.md, "Pool versions").
const (
	ImportOpenZFS       = "openzfs"        // version 1–28
	ImportOracleOnly    = "oracle-only"    // 29–4999: Oracle Solaris ≥ snv_148 only
	ImportCheckFeatures = "check-features" // 5000: depends on features_for_read
	ImportNotAPool      = "not-a-pool"     // spare or L2ARC device: nothing to import
	ImportUnknown       = "unknown"        // version 0 or beyond 5000
	ImportTruncated     = "truncated"      // the device is shorter than the vdev its pool recorded
)

// Verdict says whether and how to import a pool member from Linux.
type Verdict struct {
	Import     string
	NeedsForce bool
	Command    string // the safe read-only import; empty when there is none
	Advice     string // one sentence for the operator
}

// Judge classifies a member. localHostID is this system's hostid (see
// LocalHostID); device is the shell word to give zpool import -d (see
// DeviceArg).
func Judge(m *Member, localHostID uint64, device string) Verdict {
	c := m.Config
	version := c.Version
	if m.Best.Version != 0 {
		version = m.Best.Version // what the kernel checks (SPA_VERSION_IS_SUPPORTED(ub_version))
	}
	var v Verdict
	switch {
	case c.State == StateSpare || c.State == StateL2Cache:
		v.Import = ImportNotAPool
		v.Advice = fmt.Sprintf("%s device: it carries no pool of its own", StateName(c.State))
		return v
	case m.Short() > 0:
		v.Import = ImportTruncated
		v.Advice = fmt.Sprintf("the device is %d bytes short: pool %q recorded this vdev as %d bytes (asize %d plus %d of labels and boot block) but only %d are here, so labels 2 and 3 and the end of the pool's data are missing; a truncated copy is not importable as is: copy the whole device again (pool version %d)",
			m.Short(), c.Name, m.Needed, m.Needed-labelStartSize-labelEndSize, labelStartSize+labelEndSize, m.Bytes, version)
		return v
	case version >= 1 && version <= 28:
		v.Import = ImportOpenZFS
		v.Advice = fmt.Sprintf("pool version %d can be imported read-only by OpenZFS on Linux", version)
		if version <= maxFuseVersion {
			v.Advice += " (zfs-fuse imports it too, but only read-write: from a copy)"
		}
	case version >= 29 && version < 5000:
		v.Import = ImportOracleOnly
		v.Advice = fmt.Sprintf("pool version %d was written by Oracle Solaris (snv_148 or later): no Linux or illumos ZFS can import it; use Solaris media", version)
		return v
	case version == 5000:
		v.Import = ImportCheckFeatures
		v.Advice = "feature-flag pool: OpenZFS imports it if it supports every feature in features_for_read (" + strings.Join(c.FeaturesForRead, ", ") + ")"
	default:
		v.Import = ImportUnknown
		v.Advice = fmt.Sprintf("pool version %d is not a known ZFS version", version)
		return v
	}
	v.NeedsForce = c.State == StateActive && c.HostID != 0 && c.HostID != localHostID
	cmd := []string{"zpool", "import", "-o", "readonly=on", "-N", "-R", "/mnt", "-d", device}
	if v.NeedsForce {
		cmd = append(cmd, "-f")
		v.Advice += fmt.Sprintf("; the pool was last active on host %q (hostid %#x), so import needs -f — make sure that host is not using it", c.Hostname, c.HostID)
	}
	if c.State == StateDestroyed {
		cmd = append(cmd, "-D")
		v.Advice += "; the pool was destroyed, import needs -D"
	}
	v.Command = strings.Join(append(cmd, fmt.Sprint(c.PoolGUID)), " ")
	return v
}

// zfs-fuse imports pool versions up to this one.
const maxFuseVersion = 23

// FuseCommand is the import for zfs-fuse, which has no read-only import
// (no -N, no -o readonly=on, and it refuses a read-only device) and takes
// only a directory for -d: it imports a sparse copy of the vdev's bytes,
// so that the original is never written. Empty when zfs-fuse cannot import
// the member. path is the device or image, offset and size the vdev's
// bytes on it.
func FuseCommand(m *Member, v Verdict, path string, offset, size int64) string {
	version := m.Config.Version
	if m.Best.Version != 0 {
		version = m.Best.Version
	}
	if v.Command == "" || version > maxFuseVersion {
		return ""
	}
	copyCmd := fmt.Sprintf("cp --sparse=always %s /tmp/zcopy/vdev.img", shquote.Quote(path))
	if offset != 0 {
		copyCmd = fmt.Sprintf("dd if=%s of=/tmp/zcopy/vdev.img bs=1M iflag=skip_bytes,count_bytes skip=%d count=%d conv=sparse", shquote.Quote(path), offset, size)
	}
	cmd := []string{"mkdir /tmp/zcopy &&", copyCmd, "&& zpool import -d /tmp/zcopy -R /mnt"}
	if v.NeedsForce {
		cmd = append(cmd, "-f")
	}
	if m.Config.State == StateDestroyed {
		cmd = append(cmd, "-D")
	}
	return strings.Join(append(cmd, fmt.Sprint(m.Config.PoolGUID)), " ")
}

// LocalHostID is the hostid OpenZFS on this system would use: /etc/hostid
// (4 bytes, native order), else 0.
func LocalHostID() uint64 {
	b, err := os.ReadFile("/etc/hostid")
	if err != nil || len(b) < 4 {
		return 0
	}
	return uint64(binary.NativeEndian.Uint32(b))
}

// DeviceArg is the shell word naming a vdev at offset bytes into path: the
// path itself, or for a vdev inside an image or disk a read-only loop device
// over exactly the vdev's bytes.
func DeviceArg(path string, offset, size int64) string {
	if offset == 0 {
		return shquote.Quote(path)
	}
	return fmt.Sprintf(`"$(losetup --read-only --find --show --offset %d --sizelimit %d %s)"`, offset, size, shquote.Quote(path))
}
