package vdev

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Extent is a byte range of a device that may be a vdev: the whole device,
// a partition, or a VTOC slice.
type Extent struct {
	Partition int   // 0: the whole device
	Slice     int   // -1: not a slice
	Offset    int64 // bytes from the start of the device
	Size      int64
}

func (e Extent) String() string {
	switch {
	case e.Partition == 0:
		return "whole device"
	case e.Slice >= 0:
		return fmt.Sprintf("partition %d slice %d", e.Partition, e.Slice)
	}
	return fmt.Sprintf("partition %d", e.Partition)
}

// LabelStatus is one label's outcome in a report.
type LabelStatus struct {
	Index  int    `json:"index"`
	Offset int64  `json:"offset"` // relative to the vdev
	Valid  bool   `json:"valid"`
	Error  string `json:"error,omitempty"`
}

// UberblockReport is the best uberblock in a report.
type UberblockReport struct {
	TXG       uint64 `json:"txg"`
	Timestamp uint64 `json:"timestamp"` // seconds since the epoch, as on disk
	Time      string `json:"time"`      // the same in RFC 3339, UTC
	Version   uint64 `json:"version"`
	Label     int    `json:"label"`
	Slot      int    `json:"slot"`
	BigEndian bool   `json:"big_endian"`
}

// MemberReport is the `zfs labels --json` document for one pool member
// (docs/json.md). GUIDs are decimal strings: they do not fit a JSON number.
type MemberReport struct {
	Device          string          `json:"device"`
	Offset          int64           `json:"offset"`
	Size            int64           `json:"size"`
	NeededSize      int64           `json:"needed_size"` // what the pool recorded for this vdev (0: unknown)
	ShortBy         int64           `json:"short_by"`    // > 0: a truncated copy
	Partition       int             `json:"partition,omitempty"`
	Slice           *int            `json:"slice,omitempty"`
	Pool            string          `json:"pool"`
	PoolGUID        string          `json:"pool_guid"`
	GUID            string          `json:"guid"`
	Version         uint64          `json:"version"`
	State           string          `json:"state"`
	TXG             uint64          `json:"txg"`
	Hostname        string          `json:"hostname"`
	HostID          uint64          `json:"hostid"`
	ValidLabels     []int           `json:"valid_labels"`
	Labels          []LabelStatus   `json:"labels"`
	Conflicts       []string        `json:"conflicts"`
	Uberblock       UberblockReport `json:"uberblock"`
	VdevChildren    uint64          `json:"vdev_children"`
	VdevTree        *Node           `json:"vdev_tree"`
	FeaturesForRead []string        `json:"features_for_read,omitempty"`
	Import          string          `json:"import"`
	NeedsForce      bool            `json:"needs_force"`
	Command         string          `json:"command"`
	CommandZFSFuse  string          `json:"command_zfs_fuse"` // "" when zfs-fuse cannot import it
	Advice          string          `json:"advice"`
}

// Report builds the document for a member read from ext of device.
func Report(m *Member, device string, ext Extent, localHostID uint64) MemberReport {
	c := m.Config
	v := Judge(m, localHostID, DeviceArg(device, ext.Offset, m.Size))
	r := MemberReport{
		Device: device, Offset: ext.Offset, Size: ext.Size, NeededSize: m.Needed, ShortBy: m.Short(), Partition: ext.Partition,
		Pool: c.Name, PoolGUID: strconv.FormatUint(c.PoolGUID, 10), GUID: strconv.FormatUint(c.GUID, 10),
		Version: c.Version, State: StateName(c.State), TXG: c.TXG, Hostname: c.Hostname, HostID: c.HostID,
		ValidLabels: m.ValidLabels(), Conflicts: m.Conflict,
		Uberblock: UberblockReport{TXG: m.Best.TXG, Timestamp: m.Best.Timestamp, Time: time.Unix(int64(m.Best.Timestamp), 0).UTC().Format(time.RFC3339), Version: m.Best.Version,
			Label: m.Best.Label, Slot: m.Best.Slot, BigEndian: m.Best.BigEndian},
		VdevChildren: c.VdevChildren, VdevTree: c.Tree, FeaturesForRead: c.FeaturesForRead,
		Import: v.Import, NeedsForce: v.NeedsForce, Command: v.Command, Advice: v.Advice,
		CommandZFSFuse: FuseCommand(m, v, device, ext.Offset, m.Size),
	}
	if r.Conflicts == nil {
		r.Conflicts = []string{}
	}
	if ext.Slice >= 0 && ext.Partition > 0 {
		s := ext.Slice
		r.Slice = &s
	}
	for _, l := range m.Labels {
		s := LabelStatus{Index: l.Index, Offset: l.Offset, Valid: l.Err == nil}
		if l.Err != nil {
			s.Error = l.Err.Error()
		}
		r.Labels = append(r.Labels, s)
	}
	return r
}

// Scan reads labels on each extent of device and returns one report per
// distinct member. The same vdev seen through two extents (a slice and the
// backup slice that overlaps it, a partition and the whole disk) is
// reported once, from the extent on which most labels validate. When no
// extent holds a member the error is a *ScanError.
func Scan(r io.ReaderAt, device string, extents []Extent, localHostID uint64) ([]MemberReport, error) {
	var out []MemberReport
	serr := &ScanError{Where: where(device, extents), NotZFS: true}
	for _, ext := range extents {
		m, err := ReadLabels(io.NewSectionReader(r, ext.Offset, ext.Size), ext.Size)
		if err != nil {
			why := strings.TrimPrefix(strings.TrimPrefix(err.Error(), ErrNoLabel.Error()+": "), ErrNotZFS.Error()+": ")
			reason := fmt.Sprintf("%s at offset %d: %s", ext, ext.Offset, why)
			serr.Details = append(serr.Details, reason)
			if !errors.Is(err, ErrNotZFS) {
				serr.NotZFS = false
				serr.damaged = append(serr.damaged, reason)
			}
			continue
		}
		rep := Report(m, device, ext, localHostID)
		i := slices.IndexFunc(out, func(o MemberReport) bool { return o.PoolGUID == rep.PoolGUID && o.GUID == rep.GUID })
		switch {
		case i < 0:
			out = append(out, rep)
		case len(rep.ValidLabels) > len(out[i].ValidLabels):
			out[i] = rep
		}
	}
	if len(out) == 0 {
		return nil, serr
	}
	return out, nil
}

// ScanError says why Scan found no member. It wraps ErrNoLabel, and also
// ErrNotZFS when no extent shows any sign of ZFS: then its text is one line
// naming what was read, and the per-label reasons are only in Details.
type ScanError struct {
	Where   string   // what was read: "DEV or on its partitions 1-6"
	NotZFS  bool     // no label anywhere carries the ZFS checksum magic
	Details []string // for each extent read, why each of its labels is not valid
	damaged []string // the Details of extents that look like ZFS
}

func (e *ScanError) Error() string {
	if e.NotZFS {
		return fmt.Sprintf("%s on %s", ErrNotZFS, e.Where)
	}
	return fmt.Sprintf("%s on %s: %s", ErrNoLabel, e.Where, strings.Join(e.damaged, "; "))
}

func (e *ScanError) Unwrap() []error {
	if e.NotZFS {
		return []error{ErrNoLabel, ErrNotZFS}
	}
	return []error{ErrNoLabel}
}

// where names the extents read, for one line: "DEV or on its partitions 1-6".
func where(device string, extents []Extent) string {
	whole, vtoc := false, false
	var parts []int
	for _, e := range extents {
		switch {
		case e.Partition == 0:
			whole = true
		case e.Slice >= 0:
			vtoc = true
		default:
			parts = append(parts, e.Partition)
		}
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	var s string
	switch {
	case len(parts) == 0:
		return device
	case whole && len(parts) == 1:
		s = fmt.Sprintf("%s or on its partition %s", device, numberRanges(parts))
	case whole:
		s = fmt.Sprintf("%s or on its partitions %s", device, numberRanges(parts))
	case len(parts) == 1:
		s = fmt.Sprintf("partition %s of %s", numberRanges(parts), device)
	default:
		s = fmt.Sprintf("partitions %s of %s", numberRanges(parts), device)
	}
	if vtoc {
		s += " (VTOC slices included)"
	}
	return s
}

// numberRanges writes ascending numbers as "1-3, 5".
func numberRanges(n []int) string {
	var b strings.Builder
	for i := 0; i < len(n); {
		j := i
		for j+1 < len(n) && n[j+1] == n[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", n[i], n[j])
		} else {
			fmt.Fprintf(&b, "%d", n[i])
		}
		i = j + 1
	}
	return b.String()
}
