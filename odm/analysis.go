package odm

import (
	"fmt"
	"sort"
	"strings"
)

// Verdict is what a major is, by the rules in docs/odm.md (Verdicts).
type Verdict string

const (
	// Ghost: devno objects and/or /dev nodes of a major that no ddins object
	// allocates. lvlstmajor lists it as free, so genmajor hands it to the
	// next VG, which then collides with the leftovers. The only verdict
	// that purge acts on.
	Ghost Verdict = "ghost"
	// OrphanDevno: the major is allocated to a driver, but devno objects
	// name devices that CuDv does not hold. Report only.
	OrphanDevno Verdict = "orphan-devno"
	// OrphanVG: the ddins owner is neither in CuDv nor a PdDv driver and
	// looks like a volume group that is gone: its devno minor 0 or /dev
	// char node is left, or nothing at all is left of its major. Report
	// only (exportvg / alt_rootvg_op -X).
	OrphanVG Verdict = "orphan-vg"
	// Owned: allocated to a driver or a VG present in CuDv, or in use by an
	// Available device.
	Owned Verdict = "owned"
	// Base: majors 0–10 and ddins objects with value3 ";" (restbase's).
	Base Verdict = "base"
)

// DevnoRef is one devno object of a major, as reported.
type DevnoRef struct {
	Minor  int    `json:"minor"`
	Device string `json:"device"`
}

// Major is the verdict on one major number.
type Major struct {
	Major   int        `json:"major"`
	Verdict Verdict    `json:"verdict"`
	Owner   *string    `json:"owner"`
	Devno   []DevnoRef `json:"devno"`
	Nodes   []Node     `json:"nodes"`
	Reason  string     `json:"reason"`
}

// Analyze gives a verdict for every major that appears in a ddins or devno
// object or on a /dev node, sorted by major. nodes is the /dev scan or
// listing, nil when none was given (then no verdict relies on the absence
// of a node).
func Analyze(m *Model, nodes []Node) []Major {
	devKnown := nodes != nil
	owners := map[int][]Ddins{}
	for _, d := range m.Ddins {
		owners[d.Major] = append(owners[d.Major], d)
	}
	byMajor := map[int]*Major{}
	get := func(n int) *Major {
		if r, ok := byMajor[n]; ok {
			return r
		}
		r := &Major{Major: n, Devno: []DevnoRef{}, Nodes: []Node{}}
		byMajor[n] = r
		return r
	}
	for n := range owners {
		get(n)
	}
	for _, d := range m.Devno {
		r := get(d.Major)
		r.Devno = append(r.Devno, DevnoRef{Minor: d.Minor, Device: d.Device})
	}
	for _, n := range nodes {
		r := get(n.Major)
		r.Nodes = append(r.Nodes, n)
	}
	out := make([]Major, 0, len(byMajor))
	for _, r := range byMajor {
		sort.SliceStable(r.Devno, func(i, j int) bool { return r.Devno[i].Minor < r.Devno[j].Minor })
		classify(m, r, owners[r.Major], devKnown)
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Major < out[j].Major })
	return out
}

func classify(m *Model, r *Major, own []Ddins, devKnown bool) {
	if len(own) > 0 {
		names := make([]string, len(own))
		for i, d := range own {
			names[i] = d.Owner
		}
		owner := strings.Join(names, ",")
		r.Owner = &owner
	}
	baseObj := false
	for _, d := range own {
		baseObj = baseObj || d.Base
	}
	switch {
	case r.Major <= MaxBaseMajor:
		r.Verdict = Base
		r.Reason = fmt.Sprintf("base major (0–%d): never a ghost", MaxBaseMajor)
	case baseObj:
		r.Verdict = Base
		r.Reason = "base ddins object (value3=\";\", restored by restbase, needed by bosboot): never a ghost"
	case len(own) == 0:
		classifyUnowned(m, r)
	default:
		classifyOwned(m, r, own, devKnown)
	}
}

func classifyUnowned(m *Model, r *Major) {
	for _, d := range r.Devno {
		if dev, ok := m.Devices[d.Device]; ok && dev.Status == Available {
			r.Verdict = Owned
			r.Reason = fmt.Sprintf("no ddins object allocates major %d, but %s (minor %d) is Available in CuDv: in use, never a ghost; check the driver configuration on AIX", r.Major, d.Device, d.Minor)
			return
		}
	}
	r.Verdict = Ghost
	r.Reason = fmt.Sprintf("no ddins object allocates major %d, so lvlstmajor reports it free and genmajor will hand it to the next volume group, which then collides with %d devno object(s) and %d /dev node(s) left behind",
		r.Major, len(r.Devno), len(r.Nodes))
	if !m.HaveCuDv() {
		r.Reason += "; no CuDv dump was given, so whether a device on it is Available was not checked (purge needs CuDv)"
	}
}

func classifyOwned(m *Model, r *Major, own []Ddins, devKnown bool) {
	owner := *r.Owner
	if !m.HaveCuDv() {
		r.Verdict = Owned
		r.Reason = fmt.Sprintf("allocated to %s by a ddins object (no CuDv dump given: owner not checked)", owner)
		return
	}
	var missing []string
	for _, d := range r.Devno {
		if _, ok := m.Devices[d.Device]; !ok {
			missing = append(missing, d.Device)
		}
	}
	for _, d := range own {
		if dev, ok := m.Devices[d.Owner]; ok && dev.IsVG() {
			r.Verdict = Owned
			r.Reason = fmt.Sprintf("allocated to volume group %s, present in CuDv: never a ghost", d.Owner)
			if len(missing) > 0 {
				r.Reason += fmt.Sprintf(" (%d devno object(s) name devices not in CuDv: %s; expected for altinst_rootvg/old_rootvg, whose LVs are removed from the ODM)", len(missing), strings.Join(missing, ", "))
			}
			return
		}
	}
	for _, d := range own {
		if _, inCuDv := m.Devices[d.Owner]; inCuDv || m.Drivers[d.Owner] {
			continue
		}
		if why := vanishedVG(m, r, d.Owner, devKnown); why != "" {
			r.Verdict = OrphanVG
			r.Reason = fmt.Sprintf("allocated to %s, which has no CuDv object; %s: what a volume group removed without a complete exportvg leaves; report only — remove it with exportvg or alt_rootvg_op -X, not by hand", d.Owner, why)
			return
		}
	}
	if len(missing) > 0 {
		r.Verdict = OrphanDevno
		r.Reason = fmt.Sprintf("allocated to %s, but %d devno object(s) name devices not in CuDv: %s; report only", owner, len(missing), strings.Join(missing, ", "))
		return
	}
	r.Verdict = Owned
	r.Reason = fmt.Sprintf("allocated to %s by a ddins object", owner)
	for _, d := range own {
		if m.Drivers[d.Owner] {
			r.Reason = fmt.Sprintf("allocated to driver %s (a PdDv DvDr)", owner)
		}
	}
}

// vanishedVG says why an owner absent from CuDv (and from PdDv) looks like
// a volume group, or "" when it does not. A VG's major carries devno minor
// 0 for the VG itself and a /dev/<vgname> char node with minor 0 (mkvg,
// redefinevg); when exportvg is cut short after lvrelminor, only the ddins
// object is left: no devno object and no node of the major at all. A driver
// with no configured device looks the same, which only a PdDv dump tells
// apart (its DvDr names the drivers), so without one the reason says so.
func vanishedVG(m *Model, r *Major, owner string, devKnown bool) string {
	for _, d := range r.Devno {
		if d.Minor == 0 && d.Device == owner {
			return fmt.Sprintf("devno minor 0 of major %d still names it, as a VG's does", r.Major)
		}
	}
	for _, n := range r.Nodes {
		if n.Type == Char && n.Minor == 0 && n.Name() == owner {
			return fmt.Sprintf("/%s (major %d, minor 0) is still there, a VG's char node", n.Path, r.Major)
		}
	}
	if len(r.Devno) > 0 || len(r.Nodes) > 0 {
		return ""
	}
	why := fmt.Sprintf("nothing else is left on major %d: no devno object, no /dev node", r.Major)
	if !devKnown {
		why = fmt.Sprintf("nothing else is left on major %d: no devno object (no --dev or --dev-listing given: /dev not checked)", r.Major)
	}
	if !m.HavePdDv() {
		why += " (no PdDv dump given: a driver with no configured device would look the same)"
	}
	return why
}
