package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/versionfile"
)

func init() {
	register(func() *cli.Command {
		return &cli.Command{
			Name:  "version",
			Usage: "show, set and find the version markers an installer compares",
			Description: "A XenServer installer decides from the root's etc/xensource-inventory whether it offers\n" +
				"\"Upgrade\" for a disk; which key it compares depends on its generation (docs/version.md).\n" +
				"These commands show every marker and the verdict of each installer, rewrite all markers\n" +
				"consistently through the journal, and search a root for a version string.",
			Commands: []*cli.Command{versionShowCommand(), versionSetCommand(), versionFindCommand()},
		}
	})
}

func versionShowCommand() *cli.Command {
	return &cli.Command{
		Name:  "show",
		Usage: "every version marker, whether they agree, and what each installer would do",
		Description: "Reads etc/xensource-inventory, redhat-release, centos-release, system-release, os-release\n" +
			"and issue (symlinks followed inside the root only), and says for each installer version\n" +
			"whether it would offer Upgrade, and whether that upgrade would get through: every gate of\n" +
			"its generation (root partition, inventory keys, version, product name, firstboot, and the\n" +
			"generation's own ones), each with its status (ok, fail, unknown, not-reached), reason and\n" +
			"host-installer source, then the checks the installer makes after Upgrade was chosen.\n" +
			"Verdicts: upgrade, aborts (offered, then it stops during the upgrade), offered-unverified,\n" +
			"no, unknown (never \"yes\" for what the installer's public code does not say).\n" +
			"With --disk the partition table is read too (which partition each generation takes as the\n" +
			"root, the active flag), and every partition is scanned for .xen-backup-partition with each\n" +
			"installer's Restore verdict; the installer also scans the machine's other disks.\n" +
			"With --root the disk gates are unknown. Read-only: never writes a byte.\n\n" + exitHelp,
		Flags: append(targetFlags(),
			&cli.StringFlag{Name: "installer", Usage: "only the verdict of the installer of `VERSION` (e.g. 5.0, 7.1, 8.2), in full"},
			&cli.StringFlag{Name: "backup-root", Usage: "an already mounted backup partition `DIR` (with --root)"},
		),
		Action: runVersionShow,
	}
}

func runVersionShow(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	var only *versionfile.Installer
	if v := cmd.String("installer"); v != "" {
		in, err := versionfile.LookupInstaller(v)
		if err != nil {
			return xerr.Invalidf("--installer: %w", err)
		}
		only = &in
	}
	doc, err := versionfile.Show(ctx, versionfile.ShowOptions{Target: targetOptions(cmd, false), Only: only, BackupRoot: cmd.String("backup-root")})
	if err != nil {
		return err
	}
	return output(cmd).Emit(doc, func(w io.Writer) error { return renderShow(w, doc, only != nil) })
}

// targetOptions are the target flags of cmd, as openTarget reads them.
func targetOptions(cmd *cli.Command, writable bool) target.Options {
	return target.Options{Root: cmd.String("root"), Disk: cmd.String("disk"), Partition: int(cmd.Int("partition")), Writable: writable}
}

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
	fmt.Fprintln(w, "\nwould the installer of version V offer Upgrade, and would the upgrade get through?")
	if detailed {
		for _, v := range doc.Verdicts {
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
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, v := range doc.Verdicts {
			val := v.Value
			if val == "" {
				val = "(absent)"
			}
			fmt.Fprintf(tw, "  %s\t%s=%s\t%s\t%s\t%s\n", v.Installer, v.Compares, val, v.Accepted, v.Outcome, shortReason(v))
		}
		tw.Flush()
		fmt.Fprintln(w, "  (--installer V explains one in full: every gate, its status, reason and source)")
	}
	for _, v := range doc.Verdicts {
		if v.Caveat != "" {
			fmt.Fprintf(w, "  caveat for the %s installer: %s\n", v.Installer, v.Caveat)
		}
	}
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

func versionSetCommand() *cli.Command {
	return &cli.Command{
		Name:  "set",
		Usage: "rewrite every version marker consistently and repair what keeps an installer from upgrading, through the journal",
		Description: "Sets PRODUCT_VERSION, PRODUCT_VERSION_TEXT(_SHORT), BUILD_NUMBER and PLATFORM_VERSION in\n" +
			"etc/xensource-inventory (every other key and byte untouched) and the version in\n" +
			"redhat-release/centos-release/system-release (edited once, at their target inside the root),\n" +
			"os-release and issue. PLATFORM_VERSION comes from the release table or --platform-version.\n" +
			"--for-installer V picks values that installer accepts (and explains the choice) and repairs\n" +
			"the other gates it can: missing inventory keys the installer reads (PRODUCT_NAME,\n" +
			"PRODUCT_BRAND, PRODUCT_VERSION_TEXT, BUILD_NUMBER, and BACKUP_PARTITION for the 5.x\n" +
			"installers) and, with --disk, the active flag the 5.6-6.5 installers find the root by (DOS\n" +
			"active flag, or GPT attribute 2 \"legacy BIOS bootable\" in both GPT copies): a raw write of the\n" +
			"partition table, its before-bytes kept in the journal, shown as a diff of the table and undone\n" +
			"by journal undo. Each change says which gate it is for. The result is checked against every\n" +
			"gate of V; a gate that cannot be repaired (a host identity missing, a DOS disk the XenServer 8\n" +
			"installer refuses) makes it refuse. The firstboot gate is repaired only with\n" +
			"--mark-firstboot-done (see WARNING); without it the command ends with exit status 4 and\n" +
			"names the scripts that never ran. The change is shown as a diff; --dry-run stops there.\n" +
			"Afterwards the op id and the undo command are printed.\n" +
			"The tool makes an OLDER installer accept a NEWER system: a version above the installed one is\n" +
			"refused unless --allow-raise, and a system below the chosen installer's lower bound (e.g. 5.5\n" +
			"for the 8.x installers, which require 7.0 or later) is refused always.\n\n" +
			"WARNING:\n   This edits the offline root. Image the backup partition first (xsrescue disk save-partition):\n" +
			"   the installer run that follows reformats it. --allow-raise makes the system claim to be newer\n" +
			"   than it is: an installer then upgrades it as if it were that release. --mark-firstboot-done\n" +
			"   marks first-boot scripts as done that never ran: they configure the host once (network,\n" +
			"   storage) and will never run. --move-active-flag takes the DOS active flag from another\n" +
			"   partition (a Dell utility partition): the firmware then boots the root's boot loader.\n\n" +
			"EXIT STATUS:\n   0  changed (or already as requested)\n   1  the operation failed\n" +
			"   2  a version that is not dotted numbers, a malformed inventory, bad flags\n" +
			"   3  refused: the result would make the installer skip the disk or abort the upgrade (a\n" +
			"      required key lost or not repairable, a version outside the installer's range, a table\n" +
			"      flag that cannot be set), a version above the installed one without --allow-raise, a\n" +
			"      system below the installer's lower bound, or no confirmation\n" +
			"   4  done, but a gate still fails (the firstboot gate without --mark-firstboot-done)\n",
		Flags: append(targetFlags(),
			&cli.StringFlag{Name: "to", Usage: "the product `VERSION[-BUILD]` to write, e.g. 5.0.0 or 5.0.0-10918p"},
			&cli.StringFlag{Name: "platform-version", Usage: "PLATFORM_VERSION `P` to write (default: from the release table)"},
			&cli.StringFlag{Name: "for-installer", Usage: "choose values the installer of `VERSION` accepts, repair its gates, and check them"},
			&cli.BoolFlag{Name: "allow-raise", Usage: "allow a version newer than the installed one (see WARNING)"},
			&cli.BoolFlag{Name: "mark-firstboot-done", Usage: "with --for-installer: mark first-boot scripts that never ran as done (see WARNING)"},
			&cli.BoolFlag{Name: "move-active-flag", Usage: "with --for-installer and --disk: move the DOS active flag from another partition to the root (see WARNING)"},
		),
		Action: runVersionSet,
	}
}

// SetDoc is the JSON document of `version set` (docs/json.md).
type SetDoc struct {
	Root      string               `json:"root"`
	DryRun    bool                 `json:"dry_run"`
	Values    map[string]string    `json:"values"`
	Explain   []string             `json:"explain"`
	Changes   []SetChange          `json:"changes"`
	Repairs   []versionfile.Repair `json:"repairs"`
	Remaining []versionfile.Gate   `json:"remaining"`
	Verdict   *versionfile.Verdict `json:"verdict"`
	Op        *plan.Result         `json:"op"`
	Undo      string               `json:"undo"`
}

// SetChange is one planned change: a file in the root, or the disk for a
// partition-table change (kind raw-write).
type SetChange struct {
	Kind string `json:"kind"`
	Path string `json:"path"`
	Why  string `json:"why"`
}

func runVersionSet(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	req := versionfile.SetRequest{To: cmd.String("to"), Platform: cmd.String("platform-version"), ForInstaller: cmd.String("for-installer"),
		AllowRaise: cmd.Bool("allow-raise"), MarkFirstbootDone: cmd.Bool("mark-firstboot-done"), MoveActiveFlag: cmd.Bool("move-active-flag")}
	if req.To == "" && req.ForInstaller == "" {
		return usageError{errors.New("version set: give --to VERSION[-BUILD] or --for-installer VERSION")}
	}
	if req.ForInstaller == "" && (req.MarkFirstbootDone || req.MoveActiveFlag) {
		return usageError{errors.New("version set: --mark-firstboot-done and --move-active-flag repair an installer's gates: give --for-installer VERSION")}
	}
	o := output(cmd)
	tgt, err := openForChange(ctx, cmd, targetOptions(cmd, false))
	if err != nil {
		return err
	}
	defer tgt.Close()
	doc, sp, err := VersionSetPlan(tgt, req)
	if err != nil {
		return err
	}
	doc.DryRun = cmd.Bool("dry-run")
	if !o.JSON {
		for _, e := range doc.Explain {
			fmt.Fprintf(o.Stdout(), "%s\n", e)
		}
	}
	res, err := applyPlan(ctx, cmd, tgt, sp.Plan)
	if err != nil {
		return err
	}
	if res != nil {
		doc.Op = res
		doc.Undo = res.Undo
	}
	err = o.Emit(doc, func(w io.Writer) error {
		if doc.Verdict != nil {
			fmt.Fprintf(w, "installer %s: %s: %s\n", doc.Verdict.Installer, doc.Verdict.Outcome, doc.Verdict.Reason)
		}
		for _, g := range doc.Remaining {
			fmt.Fprintf(w, "still failing: %s: %s\n", g.Name, g.Reason)
		}
		return nil
	})
	if err == nil && len(doc.Remaining) > 0 {
		return alreadyReported(xerr.Problems(fmt.Errorf("the %s installer's %s gate still fails (--mark-firstboot-done repairs it; see WARNING in --help)", doc.Verdict.Installer, doc.Remaining[0].Name)))
	}
	return err
}

// VersionSetPlan plans `version set` on an opened target: the document
// without its op, and the plan to apply.
func VersionSetPlan(tgt *target.Target, req versionfile.SetRequest) (*SetDoc, *versionfile.SetPlan, error) {
	sp, err := versionfile.PlanSetOn(tgt, req)
	if err != nil {
		return nil, nil, err
	}
	doc := &SetDoc{Root: tgt.Root.Dir(), Values: sp.Values, Explain: sp.Explain, Changes: []SetChange{},
		Repairs: sp.Repairs, Remaining: sp.Remaining, Verdict: sp.Verdict}
	if doc.Explain == nil {
		doc.Explain = []string{}
	}
	if doc.Repairs == nil {
		doc.Repairs = []versionfile.Repair{}
	}
	if doc.Remaining == nil {
		doc.Remaining = []versionfile.Gate{}
	}
	for _, c := range sp.Plan.Changes {
		doc.Changes = append(doc.Changes, SetChange{Kind: string(c.Kind), Path: c.Path, Why: c.Why})
	}
	return doc, sp, nil
}

func versionFindCommand() *cli.Command {
	return &cli.Command{
		Name:      "find",
		Usage:     "every file under the root that contains any of the strings",
		ArgsUsage: "STRING...",
		Description: "What `find /mnt | xargs grep 15119` does, done properly: every regular file under the root\n" +
			"containing any STRING (fixed strings, not patterns), with line number and the matched\n" +
			"line; binary files (a NUL byte in the first 8 KiB) as \"binary match\" with the offset.\n" +
			"Never follows a symlink, skips proc, sys and dev, walks and searches in parallel.\n" +
			"A progress line on stderr when it is a terminal. Read-only.\n\n" +
			"EXIT STATUS:\n   0  searched (matches or not; see the output)\n   1  the search failed\n   2  usage error\n",
		Flags:  targetFlags(),
		Action: runVersionFind,
	}
}

// FindDoc is the JSON document of `version find` (docs/json.md).
type FindDoc struct {
	Root    string                `json:"root"`
	Strings []string              `json:"strings"`
	Matches []versionfile.Match   `json:"matches"`
	Files   []string              `json:"files"`
	Stats   versionfile.FindStats `json:"stats"`
}

func runVersionFind(ctx context.Context, cmd *cli.Command) error {
	needles, err := args(cmd, 1, -1)
	if err != nil {
		return err
	}
	for _, n := range needles {
		if n == "" {
			return usageError{errors.New("version find: empty STRING")}
		}
	}
	o := output(cmd)
	tgt, err := openTarget(ctx, cmd, false)
	if err != nil {
		return err
	}
	defer tgt.Close()
	var opts versionfile.FindOptions
	if bar := newProgress(o, "searching", -1); bar != nil {
		opts.Progress = func(_, bytes int64) { bar.Set(bytes) }
		defer bar.Finish()
	}
	matches, stats, err := versionfile.Find(ctx, tgt.Root, needles, opts)
	if err != nil {
		return tgt.Named(err)
	}
	doc := &FindDoc{Root: tgt.Root.Dir(), Strings: needles, Matches: matches, Files: versionfile.MatchPaths(matches), Stats: stats}
	if doc.Matches == nil {
		doc.Matches = []versionfile.Match{}
	}
	if doc.Files == nil {
		doc.Files = []string{}
	}
	if doc.Stats.Problems == nil {
		doc.Stats.Problems = []string{}
	}
	for _, p := range stats.Problems {
		o.Logf("xsrescue: %s", p)
	}
	return o.Emit(doc, func(w io.Writer) error {
		for _, m := range matches {
			if m.Binary {
				fmt.Fprintf(w, "%s: binary match at offset %d\n", m.Path, m.Offset)
				continue
			}
			fmt.Fprintf(w, "%s:%d:%s\n", m.Path, m.Line, m.Text)
		}
		fmt.Fprintf(o.Stderr(), "%d matches in %d files (%d files, %d bytes searched)\n", len(matches), len(doc.Files), stats.Files, stats.Bytes)
		return nil
	})
}
