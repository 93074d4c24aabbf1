package partition

import (
	"fmt"
	"strings"
)

// RootRule is how one generation of the host installer finds the root
// partition of an existing installation. Sources (host-installer commits;
// docs/version.md has the details):
//
//   - RootFirstPartition: 5.0 and 5.5 mount partition 1 of every disk and
//     look for etc/xensource-inventory; no label, type or flag is checked
//     (fc4eed16e14f product.py findXenSourceProducts; aad499a03110
//     variant.py VariantRetail.findInstallation).
//   - RootActiveLabelDOS: 5.6 and 5.6 FP1 (diskutil.probeDisk, 413015b):
//     the partition with the active flag, type 0x83 and an ext label
//     root-*; their partition tool is sfdisk, so a GPT disk has none.
//   - RootActiveLabel: 6.0 to 6.5, the same on DOS or GPT, where "active"
//     is attribute bit 2, legacy BIOS bootable (GPT code 0d67664, enabled
//     ebe335c).
//   - RootLabel: 7.0 and later drop the active flag (fd2b3b6).
//
// Every rule but the first walks the partitions by number and keeps the
// last match: probeDisk overwrites its root with each one it finds.
type RootRule string

// Root rules, as in the JSON contract.
const (
	RootFirstPartition RootRule = "partition-1"
	RootActiveLabelDOS RootRule = "active-label-dos"
	RootActiveLabel    RootRule = "active-label"
	RootLabel          RootRule = "label"
)

// RootRules lists every rule, oldest installers first.
var RootRules = []RootRule{RootFirstPartition, RootActiveLabelDOS, RootActiveLabel, RootLabel}

// Installers names the installer versions that use the rule.
func (r RootRule) Installers() string {
	switch r {
	case RootFirstPartition:
		return "5.0, 5.5"
	case RootActiveLabelDOS:
		return "5.6, 5.6 FP1"
	case RootActiveLabel:
		return "6.0-6.5"
	case RootLabel:
		return "7.0 and later"
	}
	return string(r)
}

// Root choice statuses.
const (
	RootFound   = "found"
	RootNone    = "none"
	RootUnknown = "unknown"
)

// RootChoice is the partition one rule takes as the root, and why.
type RootChoice struct {
	Rule       RootRule `json:"rule"`
	Installers string   `json:"installers"`
	Status     string   `json:"status"`     // found, none, unknown
	Partition  int      `json:"partition"`  // 0 unless found (or unknown with a candidate)
	Candidates []int    `json:"candidates"` // every partition the rule matches, by number
	Reason     string   `json:"reason"`
}

// RootChoices is RootFor of every rule.
func (d *Disk) RootChoices() []RootChoice {
	out := make([]RootChoice, len(RootRules))
	for i, r := range RootRules {
		out[i] = d.RootFor(r)
	}
	return out
}

// RootFor says which partition an installer using rule takes as the root.
// It looks only at the table and the signatures: whether the root holds an
// inventory is the caller's business (versionfile).
func (d *Disk) RootFor(rule RootRule) RootChoice {
	c := RootChoice{Rule: rule, Installers: rule.Installers(), Status: RootNone, Candidates: []int{}}
	if rule == RootFirstPartition {
		p := d.Partition(1)
		switch {
		case p == nil:
			c.Reason = "no partition 1: these installers look nowhere else"
		case !isExt(p.FS):
			c.Reason = fmt.Sprintf("partition 1 holds %s, not an ext filesystem: these installers look only at partition 1", fsName(p.FS))
		case d.Table == TableGPT:
			c.Status, c.Partition, c.Candidates = RootUnknown, 1, []int{1}
			c.Reason = "partition 1 of a GPT disk: these installers predate GPT support, and whether their kernel lists GPT partitions is not verified"
		default:
			c.Status, c.Partition, c.Candidates = RootFound, 1, []int{1}
			c.Reason = "partition 1 (these installers mount partition 1 and need etc/xensource-inventory there; no label or flag is checked)"
		}
		return c
	}
	if rule == RootActiveLabelDOS && d.Table != TableDOS {
		c.Reason = fmt.Sprintf("a %s disk: these installers read DOS tables only (sfdisk)", d.Table)
		return c
	}
	active := rule != RootLabel
	for _, p := range d.Partitions {
		if isLinuxType(p.Type) && isExt(p.FS) && strings.HasPrefix(p.Label, "root-") && (!active || p.Bootable) {
			c.Candidates = append(c.Candidates, p.Number)
		}
	}
	what := fmt.Sprintf("type %s and an ext label root-*", linuxTypeName(d.Table))
	if active {
		what = activeName(d.Table) + ", " + what
	}
	switch len(c.Candidates) {
	case 0:
		c.Reason = "no partition with " + what
		if active {
			if n := d.labelledRoots(); len(n) > 0 {
				c.Reason += fmt.Sprintf(" (partition %s is labelled root-* but not %s)", joinInts(n), activeName(d.Table))
			}
		}
	case 1:
		c.Status, c.Partition = RootFound, c.Candidates[0]
		c.Reason = fmt.Sprintf("partition %d: the only one with %s", c.Partition, what)
	default:
		c.Status, c.Partition = RootFound, c.Candidates[len(c.Candidates)-1]
		c.Reason = fmt.Sprintf("partition %d: the last of %s with %s (the installer walks them by number and keeps the last)", c.Partition, joinInts(c.Candidates), what)
	}
	return c
}

// labelledRoots lists the ID_LINUX ext partitions labelled root-*.
func (d *Disk) labelledRoots() []int {
	var n []int
	for _, p := range d.Partitions {
		if isLinuxType(p.Type) && isExt(p.FS) && strings.HasPrefix(p.Label, "root-") {
			n = append(n, p.Number)
		}
	}
	return n
}

func activeName(table string) string {
	if table == TableGPT {
		return "the legacy BIOS bootable attribute"
	}
	return "the active flag"
}

func linuxTypeName(table string) string {
	if table == TableGPT {
		return "basic data"
	}
	return "83"
}

func fsName(fs string) string {
	if fs == "" {
		return "no known filesystem"
	}
	return fs
}

func joinInts(n []int) string {
	s := make([]string, len(n))
	for i, x := range n {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// choicesText is the one-line summary of the warning about several roots.
func choicesText(cs []RootChoice) string {
	var s []string
	for _, c := range cs {
		switch c.Status {
		case RootFound:
			s = append(s, fmt.Sprintf("%s: %d", c.Installers, c.Partition))
		case RootUnknown:
			s = append(s, fmt.Sprintf("%s: unknown", c.Installers))
		default:
			s = append(s, fmt.Sprintf("%s: none", c.Installers))
		}
	}
	return strings.Join(s, "; ")
}
