package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/versionfile"
)

// version show's document is the *versionfile.ShowReport itself
// (docs/json.md, version).

func renderShow(w io.Writer, doc *versionfile.ShowReport, detailed bool) error {
	where := doc.Root
	if doc.Disk != "" {
		where = fmt.Sprintf("%s partition %d", doc.Disk, doc.Partition)
	}
	fmt.Fprintf(w, "root: %s\n", where)
	fmt.Fprintf(w, "\n%s (the marker installers read):\n", versionfile.InventoryPath)
	for _, k := range []string{"PRODUCT_NAME", "PRODUCT_BRAND", "PRODUCT_VERSION", "PRODUCT_VERSION_TEXT", "PLATFORM_VERSION", "BUILD_NUMBER"} {
		v, ok := doc.Inventory[k]
		if !ok {
			v = "(absent)"
		}
		fmt.Fprintf(w, "  %-22s %s\n", k, v)
	}
	fmt.Fprintln(w, "\nother markers (not read by installers since 2010; kept consistent):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range doc.Markers {
		p := m.Path
		if m.Resolved != "" && m.Resolved != m.Path {
			p += " -> " + m.Resolved
		}
		ver := m.ProductVersion
		if m.BuildNumber != "" {
			ver += " build " + m.BuildNumber
		}
		if m.Problem != "" {
			ver = "(" + m.Problem + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p, m.Value, ver)
	}
	tw.Flush()
	agree := "yes"
	if !doc.Consistent {
		agree = "NO: the markers name different versions (xsrescue version set rewrites all of them)"
	}
	fmt.Fprintf(w, "  consistent with the inventory: %s\n", agree)
	fmt.Fprintf(w, "\nfirstboot (as the newest installers test it): %s\n", gateText(doc.Firstboot))
	renderRoots(w, doc.Roots)
	renderVerdicts(w, doc.Verdicts, detailed)
	if b := doc.Backup; b != nil {
		if b.Partition > 0 {
			fmt.Fprintf(w, "\nbackup partition %d (the root's): ", b.Partition)
		} else {
			fmt.Fprint(w, "\nbackup: ")
		}
		switch {
		case b.HasMarker():
			fmt.Fprintf(w, "%s present, holds %s %s\n", versionfile.BackupMarkerPath, b.Inventory["PRODUCT_BRAND"], b.Inventory["PRODUCT_VERSION"])
		case b.Marker == nil:
			fmt.Fprintf(w, "%s unknown: %s\n", versionfile.BackupMarkerPath, *b.MarkerError)
		default:
			fmt.Fprintln(w, "no backup marker")
		}
		if b.Installer != "" {
			fmt.Fprintf(w, "  would the %s installer offer Restore? %s\n", b.Installer, b.Reason)
		} else {
			fmt.Fprintf(w, "  %s\n", b.Reason)
		}
		fmt.Fprintf(w, "  WARNING: %s\n", b.Warning)
	}
	renderBackups(w, doc)
	for _, n := range doc.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

// renderVerdicts is each installer's verdict: a table, or (detailed) every
// gate of each, with its status, reason and source.
func renderVerdicts(w io.Writer, verdicts []versionfile.Verdict, detailed bool) {
	fmt.Fprintln(w, "\nwould the installer of version V offer Upgrade, and would the upgrade get through?")
	if detailed {
		for _, v := range verdicts {
			fmt.Fprintf(w, "  installer %s (%s), generation %s\n", v.Installer, v.Name, v.Generation)
			fmt.Fprintf(w, "  verdict (%s): %s\n", v.Outcome, v.Reason)
			fmt.Fprintf(w, "  rule: %s\n  source: %s\n  certainty: %s\n", v.Rule, v.Source, v.Certainty)
			fmt.Fprintln(w, "  gates before Upgrade is offered:")
			for _, g := range v.Gates {
				fmt.Fprintf(w, "    %-16s %s\n", g.Name, gateText(g))
				fmt.Fprintf(w, "    %-16s source: %s\n", "", g.Source)
			}
			fmt.Fprintln(w, "  checks after Upgrade was chosen:")
			for _, g := range v.DuringUpgrade {
				fmt.Fprintf(w, "    %-18s %s\n", g.Name, gateText(g))
				fmt.Fprintf(w, "    %-18s source: %s\n", "", g.Source)
			}
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, v := range verdicts {
			val := v.Value
			if val == "" {
				val = "(absent)"
			}
			fmt.Fprintf(tw, "  %s\t%s=%s\t%s\t%s\t%s\n", v.Installer, v.Compares, val, v.Accepted, v.Outcome, shortReason(v))
		}
		tw.Flush()
		fmt.Fprintln(w, "  (--for-installer V explains one in full: every gate, its status, reason and source)")
	}
	for _, v := range verdicts {
		if v.Caveat != "" {
			fmt.Fprintf(w, "  caveat for the %s installer: %s\n", v.Installer, v.Caveat)
		}
	}
}

// shortReason is a verdict's reason without the word the outcome column
// already says, cut to its first gate.
func shortReason(v versionfile.Verdict) string {
	r := v.Reason
	for _, p := range []string{"yes: ", "no: ", "unknown: ", "offered, then aborts during the upgrade: ", "offered; whether the upgrade gets through is unknown: "} {
		r = strings.TrimPrefix(r, p)
	}
	if i := strings.Index(r, "; "); i > 0 && v.Outcome != versionfile.OutcomeUpgrade {
		r = r[:i] + " (...)"
	}
	return r
}

// renderRoots shows which partition each generation takes, when they do
// not all agree or more than one partition is a candidate.
func renderRoots(w io.Writer, roots []partition.RootChoice) {
	if len(roots) == 0 {
		return
	}
	agree, several := true, false
	for _, r := range roots {
		agree = agree && r.Status == roots[0].Status && r.Partition == roots[0].Partition
		several = several || len(r.Candidates) > 1
	}
	if agree && !several {
		return
	}
	fmt.Fprintln(w, "\nroot partition, by installer generation:")
	for _, r := range roots {
		fmt.Fprintf(w, "  %-14s %s\n", r.Installers, rootText(r))
	}
}

func rootText(r partition.RootChoice) string {
	switch r.Status {
	case partition.RootFound:
		return r.Reason
	case partition.RootUnknown:
		return "unknown: " + r.Reason
	}
	return "none: " + r.Reason
}

// renderBackups lists every partition carrying the backup marker with the
// installers that would offer Restore of it.
func renderBackups(w io.Writer, doc *versionfile.ShowReport) {
	if doc.BackupNote == "" {
		return
	}
	if len(doc.Backups) == 0 {
		fmt.Fprintln(w, "\nno partition of this disk carries .xen-backup-partition")
	}
	for _, b := range doc.Backups {
		holds := fmt.Sprintf("holds %s %s", orDefault(b.Inventory["PRODUCT_BRAND"], "-"), orDefault(b.Inventory["PRODUCT_VERSION"], "(no inventory)"))
		if b.Inventory == nil && b.InventoryError != nil {
			holds = "inventory unknown (unreadable, see the notes)"
		}
		if b.Marker == nil {
			holds = ".xen-backup-partition unknown (unreadable, see the notes), " + holds
		}
		fmt.Fprintf(w, "\nbackup on partition %d: %s\n", b.Partition, holds)
		byStatus := map[string][]string{}
		for _, v := range b.Verdicts {
			byStatus[v.Status] = append(byStatus[v.Status], v.Installer)
		}
		for _, s := range []string{"yes", "no", "unknown"} {
			if len(byStatus[s]) > 0 {
				fmt.Fprintf(w, "  Restore offered: %-8s by %s\n", s, strings.Join(byStatus[s], " "))
			}
		}
		// Installers refusing for the same reason share one line.
		var reasons []string
		by := map[string][]string{}
		for _, v := range b.Verdicts {
			if v.Status == "yes" {
				continue
			}
			if _, ok := by[v.Reason]; !ok {
				reasons = append(reasons, v.Reason)
			}
			by[v.Reason] = append(by[v.Reason], v.Installer)
		}
		for _, r := range reasons {
			fmt.Fprintf(w, "    %s: %s\n", strings.Join(by[r], " "), r)
		}
	}
	fmt.Fprintf(w, "note: %s\n", doc.BackupNote)
}

func gateText(g versionfile.Gate) string {
	switch g.Status {
	case versionfile.StatusOK:
		return "ok: " + g.Reason
	case versionfile.StatusUnknown:
		return "UNKNOWN: " + g.Reason
	case versionfile.StatusNotReached:
		return "not reached: " + g.Reason
	}
	return "FAIL: " + g.Reason
}

// setDoc is the "details" of `version set`'s mutation document
// (docs/json.md).
type setDoc struct {
	Values    map[string]string    `json:"values"`
	Explain   []string             `json:"explain"`
	Repairs   []versionfile.Repair `json:"repairs"`
	Remaining []versionfile.Gate   `json:"remaining"`
	Verdict   *versionfile.Verdict `json:"verdict"`
}

// newSetDoc is the details of a planned `version set`.
func newSetDoc(sp *versionfile.SetPlan) *setDoc {
	doc := &setDoc{Values: sp.Values, Explain: sp.Explain, Repairs: sp.Repairs, Remaining: sp.Remaining, Verdict: sp.Verdict}
	if doc.Explain == nil {
		doc.Explain = []string{}
	}
	if doc.Repairs == nil {
		doc.Repairs = []versionfile.Repair{}
	}
	if doc.Remaining == nil {
		doc.Remaining = []versionfile.Gate{}
	}
	return doc
}

// problems are the gates that still fail.
func (doc *setDoc) problems() []string {
	out := []string{}
	for _, g := range doc.Remaining {
		out = append(out, fmt.Sprintf("the %s installer's %s gate still fails: %s", doc.Verdict.Installer, g.Name, g.Reason))
	}
	return out
}

func (doc *setDoc) render(w io.Writer) error {
	if doc.Verdict != nil {
		// Reasons of "no" and "unknown" open with that word already.
		fmt.Fprintf(w, "installer %s: %s: %s\n", doc.Verdict.Installer, doc.Verdict.Outcome, strings.TrimPrefix(doc.Verdict.Reason, doc.Verdict.Outcome+": "))
	}
	for _, g := range doc.Remaining {
		fmt.Fprintf(w, "still failing: %s: %s\n", g.Name, g.Reason)
	}
	return nil
}

// findDoc is the JSON document of `version find` (docs/json.md).
type findDoc struct {
	Root    string                `json:"root"`
	Strings []string              `json:"strings"`
	Matches []versionfile.Match   `json:"matches"`
	Files   []string              `json:"files"`
	Stats   versionfile.FindStats `json:"stats"`
}

func newFindDoc(root string, needles []string, matches []versionfile.Match, stats versionfile.FindStats) *findDoc {
	doc := &findDoc{Root: root, Strings: needles, Matches: matches, Files: versionfile.MatchPaths(matches), Stats: stats}
	if doc.Matches == nil {
		doc.Matches = []versionfile.Match{}
	}
	if doc.Files == nil {
		doc.Files = []string{}
	}
	if doc.Stats.Problems == nil {
		doc.Stats.Problems = []string{}
	}
	return doc
}

func (doc *findDoc) render(w io.Writer) error {
	for _, m := range doc.Matches {
		if m.Binary {
			fmt.Fprintf(w, "%s: binary match at offset %d\n", m.Path, m.Offset)
			continue
		}
		fmt.Fprintf(w, "%s:%d:%s\n", m.Path, m.Line, m.Text)
	}
	return nil
}
