package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/xsrescue/xsrescue/zfsroot/vdev"
)

// zfs labels' document is the vdev.MemberReport itself, or a list of them
// when the device holds several pool members (docs/json.md, zfs).

func renderMembers(w io.Writer, reports []vdev.MemberReport) error {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		renderMember(w, r)
	}
	return nil
}

func renderMember(w io.Writer, r vdev.MemberReport) {
	where := "whole device"
	if r.Partition > 0 {
		where = fmt.Sprintf("partition %d", r.Partition)
		if r.Slice != nil {
			where += fmt.Sprintf(" slice %d", *r.Slice)
		}
	}
	fmt.Fprintf(w, "%s, %s (offset %d, %d bytes)\n", r.Device, where, r.Offset, r.Size)
	if r.ShortBy > 0 {
		fmt.Fprintf(w, "  TRUNCATED   the pool recorded this vdev as %d bytes: the copy is %d bytes short\n", r.NeededSize, r.ShortBy)
	}
	fmt.Fprintf(w, "  pool        %s (guid %s)\n", r.Pool, r.PoolGUID)
	fmt.Fprintf(w, "  vdev guid   %s\n", r.GUID)
	fmt.Fprintf(w, "  version     %d\n  state       %s\n  txg         %d\n", r.Version, r.State, r.TXG)
	fmt.Fprintf(w, "  host        %s (hostid %#x)\n", r.Hostname, r.HostID)
	var labels []string
	for _, l := range r.Labels {
		if l.Valid {
			labels = append(labels, fmt.Sprintf("%d ok", l.Index))
		} else {
			labels = append(labels, fmt.Sprintf("%d BAD (%s)", l.Index, l.Error))
		}
	}
	fmt.Fprintf(w, "  labels      %s\n", strings.Join(labels, "; "))
	for _, c := range r.Conflicts {
		fmt.Fprintf(w, "  conflict    %s\n", c)
	}
	if r.Uberblock.TXG != 0 {
		fmt.Fprintf(w, "  uberblock   txg %d, %s, version %d (label %d slot %d)\n", r.Uberblock.TXG,
			r.Uberblock.Time, r.Uberblock.Version, r.Uberblock.Label, r.Uberblock.Slot)
	} else {
		fmt.Fprintln(w, "  uberblock   none valid")
	}
	if t := r.VdevTree; t != nil {
		fmt.Fprintf(w, "  vdev tree   %s guid %d ashift %d%s (%d top-level vdev(s) in the pool)\n", t.Type, t.GUID, t.Ashift, pathSuffix(t.Path), r.VdevChildren)
		for _, c := range t.Children {
			fmt.Fprintf(w, "              %s guid %d%s\n", c.Type, c.GUID, pathSuffix(c.Path))
		}
	}
	if len(r.FeaturesForRead) > 0 {
		fmt.Fprintf(w, "  features    %s\n", strings.Join(r.FeaturesForRead, ", "))
	}
	fmt.Fprintf(w, "  import      %s: %s\n", r.Import, r.Advice)
	if r.Command != "" {
		fmt.Fprintf(w, "  command     %s\n", r.Command)
	}
	if r.CommandZFSFuse != "" {
		fmt.Fprintf(w, "  zfs-fuse    %s\n", r.CommandZFSFuse)
	}
}

func pathSuffix(p string) string {
	if p == "" {
		return ""
	}
	return " path " + p
}
