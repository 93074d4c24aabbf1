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
	if d.Table == TableGPT {
		if status, why := d.gptSeenAs(rule); status != "" {
			c.Status, c.Reason = status, why
			return c
		}
	}
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
		if isLinuxType(p.Type) && isExt(p.FS) && strings.HasPrefix(p.Label, "root-") && (!active || d.InstallerActive(&p)) {
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
			if n := d.labelledRoots(func(p Partition) bool { return !p.Bootable }); len(n) > 0 {
				c.Reason += fmt.Sprintf(" (partition %s is labelled root-* but not %s)", joinInts(n), activeName(d.Table))
			}
			c.Reason += d.lowBitsNote()
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

// labelledRoots lists the ID_LINUX ext partitions labelled root-* for
// which keep is true.
func (d *Disk) labelledRoots(keep func(Partition) bool) []int {
	var n []int
	for _, p := range d.Partitions {
		if isLinuxType(p.Type) && isExt(p.FS) && strings.HasPrefix(p.Label, "root-") && keep(p) {
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

// gptSeenAs is the rule's answer where the installer does not read this
// GPT as xsrescue listed it: sector 0 sends it to another table, or sgdisk
// prints a line of its own first (sgdisk.go). "" when the rule applies to
// the listed partitions.
func (d *Disk) gptSeenAs(rule RootRule) (status, why string) {
	switch d.sector0 {
	case sector0EmptyDOS:
		const s0 = "sector 0 is an empty DOS table (boot signature 55AA, no 0xEE protective entry)"
		fix := "; the GPT is not read. Rebuild the protective MBR from the GPT (boot code kept): printf '\\000\\000' | dd of=DISK bs=1 seek=510 count=2 conv=notrunc && sgdisk -e DISK"
		switch rule {
		case RootFirstPartition:
			return RootNone, s0 + ": the kernel lists no partition, so there is no partition 1, and these installers look nowhere else" + fix
		case RootActiveLabelDOS:
			return RootNone, s0 + ": sfdisk lists no partition" + fix
		case RootActiveLabel:
			return RootNone, s0 + ": `fdisk -l` finds a valid table without an 0xEE line, so the installer reads the disk as DOS, and sfdisk lists no partition" + fix
		}
		return RootNone, s0 + ": `blkid -s PTTYPE` says dos (libblkid's dos prober), so the installer reads the disk as DOS, and sfdisk lists no partition" + fix
	case sector0OtherMBR:
		if rule == RootActiveLabel || rule == RootLabel {
			return RootUnknown, "sector 0 ends in 55AA without an 0xEE entry but is no DOS table libblkid accepts: which table the installer reads here, and what sgdisk makes of a GPT behind an MBR (it refuses it: \"Invalid partition data!\"), is not modelled"
		}
	case sector0NoSignature:
		switch {
		case rule == RootActiveLabel && d.sgdisk.abort:
			return RootNone, fmt.Sprintf("sector 0 has no boot signature (55AA): `fdisk -l` says it holds no valid partition table, so the installer uses sgdisk, which refuses this disk (a GPT copy is damaged too): %s; the installer finds no partition", sgdiskAbort)
		case rule == RootActiveLabel:
			return RootNone, fmt.Sprintf("sector 0 has no boot signature (55AA): `fdisk -l` says it holds no valid partition table, so the installer uses sgdisk, whose first line is then %q, and the installer, which matches only the first line, finds no partition active; `sgdisk -e DISK` writes the protective MBR (boot code kept)", sgdiskCorruptMBR)
		case rule == RootLabel && d.sgdisk.abort:
			return RootUnknown, fmt.Sprintf("sector 0 has no boot signature (55AA) and a GPT copy is damaged: sgdisk refuses the disk (%s); the 7.x installers then list no partition, later ones fall back to a DOS table: not modelled", sgdiskAbort)
		}
	case sector0Protective:
		if rule == RootActiveLabel && d.sgdisk.first != "" {
			return RootNone, fmt.Sprintf("sgdisk prints %q before the attributes on this disk (a GPT copy fails its CRC checks, or the disk is smaller than the primary header says): the installer matches only the first line, so it finds no partition active; `sgdisk -e DISK` rebuilds the damaged copy (check `sgdisk -v DISK` after)", d.sgdisk.first)
		}
	}
	return "", ""
}

// lowBitsNote explains a labelled root with bit 2 that sgdisk's first
// line hides behind bit 0 or 1.
func (d *Disk) lowBitsNote() string {
	if d.Table != TableGPT {
		return ""
	}
	n := d.labelledRoots(func(p Partition) bool { return p.Bootable && p.GPTAttributes&3 != 0 })
	if len(n) == 0 {
		return ""
	}
	return fmt.Sprintf("; partition %s has the legacy BIOS bootable attribute, but also bit 0 (system partition) or 1 (hide from EFI), which sgdisk lists first: the installer reads only the first line of `sgdisk --attributes=N:show`", joinInts(n))
}
