package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/zfsroot"
)

// zoneListDoc is the --json document of zone list (docs/json.md, zone).
type zoneListDoc struct {
	Root    string                `json:"root"`
	Skipped []zfsroot.SkippedLine `json:"skipped_lines"`
	Zones   []zoneDoc             `json:"zones"`
}

// zoneDoc is one zone of `zone list --json`.
type zoneDoc struct {
	Name     string             `json:"name"`
	State    string             `json:"state"`
	Zonepath string             `json:"zonepath"`
	ZoneRoot string             `json:"zone_root"`
	Here     string             `json:"zone_root_here"` // the zone root on this system: pass it as --root
	UUID     string             `json:"uuid"`
	Problems []string           `json:"problems"` // what zoneadm would make of the index line (cleared uuid, relative zonepath)
	Brand    string             `json:"brand"`
	Datasets []string           `json:"datasets"`
	Config   string             `json:"config_error,omitempty"`
	ZBE      *zfsroot.ZBEReport `json:"zbe"`
	ZBENote  string             `json:"zbe_note,omitempty"`
}

func (d *zoneListDoc) render(w io.Writer) error {
	for _, s := range d.Skipped {
		fmt.Fprintf(w, "etc/zones/index line %d ignored (%s): %s\n", s.Line, s.Reason, s.Text)
	}
	for _, z := range d.Zones {
		fmt.Fprintf(w, "%s  %s  brand %s  zonepath %s  zone root %s (here %s)\n", z.Name, z.State, orDash(z.Brand), z.Zonepath, z.ZoneRoot, z.Here)
		if z.Config != "" {
			fmt.Fprintf(w, "  problem: %s\n", z.Config)
		}
		for _, p := range z.Problems {
			fmt.Fprintf(w, "  problem: %s\n", p)
		}
		if z.ZBENote != "" {
			fmt.Fprintf(w, "  zbe: %s\n", z.ZBENote)
		}
		if r := z.ZBE; r != nil {
			from := "--global-be"
			if r.GlobalBESource == "bootfs" {
				from = "the pool's bootfs: active on reboot, not necessarily booted"
			}
			fmt.Fprintf(w, "  zbe container %s (%s layout); global BE %s uuid %s (%s)\n", orDash(r.Container), orDash(r.Layout), orDash(r.GlobalBE), orDash(r.GlobalUUID), from)
			for _, b := range r.ZBEs {
				mark := " "
				if b.Current {
					mark = "*"
				}
				fmt.Fprintf(w, "  %s %s  active=%s parentbe=%s canmount=%s zoned=%s mountpoint=%s\n", mark, b.Name, b.Active, b.ParentBE, b.Canmount, b.Zoned, b.Mountpoint)
			}
			if r.Error != "" {
				fmt.Fprintf(w, "  zoneadm would fail: %s\n  fix: %s\n", r.Error, r.Fix)
			}
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// publishersDoc is the --json document of zone publishers.
type publishersDoc struct {
	Era         zfsroot.Era         `json:"era"`
	File        string              `json:"file"`
	Notes       []zfsroot.Problem   `json:"notes"`
	Preferred   string              `json:"preferred"`
	Problems    []zfsroot.Problem   `json:"problems"`
	Publishers  []zfsroot.Publisher `json:"publishers"`
	ReadAs      string              `json:"read_as"`
	SearchOrder []string            `json:"search_order"`
	Zone        string              `json:"zone"`
	ZoneRoot    string              `json:"zone_root"`

	img *zfsroot.Image
}

func newPublishersDoc(zoneRoot string, img *zfsroot.Image) *publishersDoc {
	return &publishersDoc{Era: img.Era, File: img.File, Notes: append([]zfsroot.Problem{}, img.Notes...), Preferred: img.Preferred,
		Problems: append([]zfsroot.Problem{}, img.Problems...), Publishers: append([]zfsroot.Publisher{}, img.Publishers...), ReadAs: img.Reader(),
		SearchOrder: append([]string{}, img.SearchOrder...), Zone: img.Zone, ZoneRoot: zoneRoot, img: img}
}

func (d *publishersDoc) render(w io.Writer) error {
	fmt.Fprintf(w, "%s: %s (%s, read as %s; variant.opensolaris.zone = %s)\n", d.ZoneRoot, d.img.File, d.img.Era, d.img.Reader(), orDash(d.img.Zone))
	for _, p := range d.img.Publishers {
		flags := []string{}
		for _, f := range []struct {
			on   bool
			name string
		}{{p.Preferred, "preferred"}, {p.Sticky, "sticky"}, {!p.Sticky, "non-sticky"}, {p.Disabled, "disabled"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		rank := "-"
		if p.Rank > 0 {
			rank = strconv.Itoa(p.Rank)
		}
		fmt.Fprintf(w, "%s %s  %s  origins %s  mirrors %s  (%s)\n", rank, p.Name, strings.Join(flags, ","), orDash(strings.Join(p.Origins, " ")), orDash(strings.Join(p.Mirrors, " ")), p.File)
		if p.StickyNote != "" {
			fmt.Fprintf(w, "    sticky: %s\n", p.StickyNote)
		}
		for _, s := range p.Shadowed {
			fmt.Fprintf(w, "    ignored copy: %s\n", s)
		}
		for _, s := range p.Suspects {
			fmt.Fprintf(w, "    suspect: %s\n", s)
		}
	}
	for _, n := range d.img.Notes {
		fmt.Fprintf(w, "note (%s pkg): %s\n", n.Pkg, n)
	}
	for _, p := range d.img.Problems {
		fmt.Fprintf(w, "PROBLEM (%s pkg refuses the image): %s\n", p.Pkg, p)
	}
	return nil
}

// zoneEditDoc is the "details" of zone unset-publisher's and set-sticky's
// mutation document.
type zoneEditDoc struct {
	File      string  `json:"file"`
	Publisher string  `json:"publisher"`
	Snapshot  *string `json:"snapshot"` // the safety snapshot taken, if any
}

// zoneRestoreDoc is the "details" of zone restore-etc's mutation
// document.
type zoneRestoreDoc struct {
	Paths       []string `json:"paths"`
	ReadThrough *string  `json:"read_through"`
	Skipped     []string `json:"skipped"`
	Snapshot    *string  `json:"snapshot"`
	Source      string   `json:"source"`
	WouldClone  *string  `json:"would_clone"`
}
