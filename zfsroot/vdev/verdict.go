package vdev

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
)

// Importability of a pool from Linux (docs/zfs.md, "Pool versions").
const (
	ImportOpenZFS       = "openzfs"        // version 1–28
	ImportOracleOnly    = "oracle-only"    // 29–4999: Oracle Solaris ≥ snv_148 only
	ImportCheckFeatures = "check-features" // 5000: depends on features_for_read
	ImportNotAPool      = "not-a-pool"     // spare or L2ARC device: nothing to import
	ImportUnknown       = "unknown"        // version 0 or beyond 5000
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
	case version >= 1 && version <= 28:
		v.Import = ImportOpenZFS
		v.Advice = fmt.Sprintf("pool version %d can be imported by OpenZFS on Linux (zfs-fuse only up to 23)", version)
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
		return shellQuote(path)
	}
	return fmt.Sprintf(`"$(losetup --read-only --find --show --offset %d --sizelimit %d %s)"`, offset, size, shellQuote(path))
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:=,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
