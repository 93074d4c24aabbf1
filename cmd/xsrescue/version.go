package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/partition"
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
			"and issue (symlinks followed inside the root only), and says for each installer generation\n" +
			"which key it compares, the accepted range, and whether it would offer Upgrade — with the\n" +
			"rule, its source and how sure that is. Also checks the other gates (required inventory\n" +
			"keys, PRODUCT_NAME, firstboot state). With --disk the backup partition (root + 1) is read\n" +
			"too: does it hold a system the installer would offer to Restore?\n" +
			"Read-only: never writes a byte.\n\n" + exitHelp,
		Flags: append(targetFlags(),
			&cli.StringFlag{Name: "installer", Usage: "only the verdict of the installer of `VERSION` (e.g. 5.0, 7.1, 8.2)"},
			&cli.StringFlag{Name: "backup-root", Usage: "an already mounted backup partition `DIR` (with --root)"},
		),
		Action: runVersionShow,
	}
}

// ShowDoc is the JSON document of `version show` (docs/json.md).
type ShowDoc struct {
	Root       string                `json:"root"`
	Disk       string                `json:"disk,omitempty"`
	Partition  int                   `json:"partition,omitempty"`
	Inventory  map[string]string     `json:"inventory"`
	Markers    []versionfile.Marker  `json:"markers"`
	Consistent bool                  `json:"consistent"`
	Firstboot  versionfile.Gate      `json:"firstboot"`
	Verdicts   []versionfile.Verdict `json:"verdicts"`
	Backup     *versionfile.Backup   `json:"backup"`
	Notes      []string              `json:"notes"`
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
	doc, err := VersionShow(ctx, targetOptions(cmd, false), only, cmd.String("backup-root"))
	if err != nil {
		return err
	}
	return output(cmd).Emit(doc, func(w io.Writer) error { return renderShow(w, doc, only != nil) })
}

// targetOptions are the target flags of cmd, as openTarget reads them.
func targetOptions(cmd *cli.Command, writable bool) target.Options {
	return target.Options{Root: cmd.String("root"), Disk: cmd.String("disk"), Partition: int(cmd.Int("partition")), Writable: writable}
}

// VersionShow builds the `version show` document for the target o (also
// used by `xsrescue demo`). only limits the verdicts to one installer;
// backupRoot names a mounted backup partition for --root targets. With a
// disk, the root is unmounted before the backup partition (root + 1) is
// mounted: a disk is attached once at a time.
func VersionShow(ctx context.Context, o target.Options, only *versionfile.Installer, backupRoot string) (*ShowDoc, error) {
	tgt, err := target.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	st, err := versionfile.Inspect(tgt.Root)
	tgt.Close()
	if err != nil {
		return nil, onTarget(tgt, err)
	}
	if tgt.Disk != "" {
		if st.Disk, err = diskFacts(tgt.Disk, tgt.Partition); err != nil {
			return nil, err
		}
	}
	ins := versionfile.Installers()
	if only != nil {
		ins = []versionfile.Installer{*only}
	}
	doc := &ShowDoc{
		Root: tgt.Root.Dir(), Disk: tgt.Disk, Partition: tgt.Partition,
		Inventory: st.Inventory.Map(), Markers: st.Markers, Consistent: st.Consistent,
		Firstboot: st.Firstboot, Verdicts: st.Verdicts(ins), Notes: append([]string{}, tgt.Notes...),
	}
	if doc.Markers == nil {
		doc.Markers = []versionfile.Marker{}
	}
	doc.Backup, err = readBackup(ctx, tgt, only, backupRoot)
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// targetError is an error whose message names the target as the user gave
// it; its exit code is the wrapped error's.
type targetError struct {
	msg string
	err error
}

func (e targetError) Error() string { return e.msg }
func (e targetError) Unwrap() error { return e.err }

// onTarget renames the private mount point of a --disk target in err's
// message to the disk and partition (tgt.Name()): the mount is gone when
// the command ends, the user knows the disk.
func onTarget(tgt *target.Target, err error) error {
	dir := tgt.Root.Dir()
	if err == nil || tgt.Disk == "" || dir == "" {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), dir+"/", tgt.Name()+": ")
	return targetError{strings.ReplaceAll(msg, dir, tgt.Name()), err}
}

// diskFacts reads the partition table of disk (read-only) for the
// installers' disk-level gates; root is the root's partition number.
func diskFacts(disk string, root int) (*versionfile.DiskFacts, error) {
	f, err := os.Open(disk)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("disk %s: %w", disk, err)
	}
	d, err := partition.Inspect(f, size)
	if err != nil {
		return nil, xerr.Invalidf("disk %s: %w", disk, err)
	}
	facts := &versionfile.DiskFacts{Table: d.Table}
	for _, p := range d.Partitions {
		facts.Utility = facts.Utility || p.Role == partition.RoleUtility
		if p.Number == root {
			facts.Partition, facts.FS, facts.Label = p.Number, p.FS, p.Label
		}
	}
	return facts, nil
}

// readBackup opens the backup partition: root + 1 on a disk
// (xenserver.md §3.3), or the directory given with --backup-root.
func readBackup(ctx context.Context, tgt *target.Target, only *versionfile.Installer, backupRoot string) (*versionfile.Backup, error) {
	var opts target.Options
	n := 0
	switch {
	case backupRoot != "":
		opts = target.Options{Root: backupRoot}
	case tgt.Disk != "" && tgt.Partition > 0:
		n = tgt.Partition + 1
		opts = target.Options{Disk: tgt.Disk, Partition: n}
	default:
		return nil, nil
	}
	bt, err := target.Open(ctx, opts)
	if err != nil {
		if backupRoot != "" {
			return nil, err
		}
		return &versionfile.Backup{Partition: n, Reason: fmt.Sprintf("cannot read partition %d: %v", n, err), Warning: versionfile.BackupWarning}, nil
	}
	defer bt.Close()
	return versionfile.InspectBackup(bt.Root, n, only)
}

func renderShow(w io.Writer, doc *ShowDoc, detailed bool) error {
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
	fmt.Fprintf(w, "\nfirstboot gate: %s\n", gateText(doc.Firstboot))
	fmt.Fprintln(w, "\nwould the installer of version V offer Upgrade?")
	if detailed {
		for _, v := range doc.Verdicts {
			fmt.Fprintf(w, "  installer %s (%s), generation %s\n", v.Installer, v.Name, v.Generation)
			fmt.Fprintf(w, "  verdict: %s\n", v.Reason)
			fmt.Fprintf(w, "  rule: %s\n  source: %s\n  certainty: %s\n", v.Rule, v.Source, v.Certainty)
			for _, g := range v.Gates {
				fmt.Fprintf(w, "    %-14s %s\n", g.Name, gateText(g))
			}
		}
	} else {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, v := range doc.Verdicts {
			val := v.Value
			if val == "" {
				val = "(absent)"
			}
			fmt.Fprintf(tw, "  %s\t%s=%s\t%s\t%s\n", v.Installer, v.Compares, val, v.Accepted, v.Reason)
		}
		tw.Flush()
		fmt.Fprintln(w, "  (≤ 6.5 installers compare PRODUCT_VERSION, 7.0+ PLATFORM_VERSION; --installer V explains one in full)")
	}
	for _, v := range doc.Verdicts {
		if v.Caveat != "" {
			fmt.Fprintf(w, "  caveat for the %s installer: %s\n", v.Installer, v.Caveat)
		}
	}
	seen := map[string]bool{}
	for _, v := range doc.Verdicts {
		if detailed {
			break // the certainty is printed with the verdict
		}
		if !seen[v.Era] && v.Certainty != "verified in the installer source" {
			fmt.Fprintf(w, "  how sure: %s: %s\n", v.Era, v.Certainty)
		}
		seen[v.Era] = true
	}
	if b := doc.Backup; b != nil {
		if b.Partition > 0 {
			fmt.Fprintf(w, "\nbackup partition %d: ", b.Partition)
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
	for _, n := range doc.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

func gateText(g versionfile.Gate) string {
	if g.OK {
		return "ok: " + g.Reason
	}
	return "FAIL: " + g.Reason
}

func versionSetCommand() *cli.Command {
	return &cli.Command{
		Name:  "set",
		Usage: "rewrite every version marker consistently, through the journal",
		Description: "Sets PRODUCT_VERSION, PRODUCT_VERSION_TEXT(_SHORT), BUILD_NUMBER and PLATFORM_VERSION in\n" +
			"etc/xensource-inventory (every other key and byte untouched) and the version in\n" +
			"redhat-release/centos-release/system-release (edited once, at their target inside the root),\n" +
			"os-release and issue. PLATFORM_VERSION comes from the release table or --platform-version.\n" +
			"--for-installer V picks values that installer accepts (and explains the choice); with --to as\n" +
			"well, the result is checked against that installer. The change is shown as a diff; --dry-run\n" +
			"stops there. Afterwards the op id and the undo command are printed.\n" +
			"The tool makes an OLDER installer accept a NEWER system: a version above the installed one is\n" +
			"refused unless --allow-raise, and a system below the chosen installer's lower bound (e.g. 5.5\n" +
			"for the 8.x installers, which require 7.0 or later) is refused always.\n\n" +
			"WARNING:\n   This edits the offline root. Image the backup partition first (xsrescue disk save-partition):\n" +
			"   the installer run that follows reformats it. --allow-raise makes the system claim to be newer\n" +
			"   than it is: an installer then upgrades it as if it were that release.\n\n" +
			"EXIT STATUS:\n   0  changed (or already as requested)\n   1  the operation failed\n" +
			"   2  a version that is not dotted numbers, a malformed inventory, bad flags\n" +
			"   3  refused: the result would make the installer skip the disk (a required key lost, a\n" +
			"      version outside the installer's range), a version above the installed one without\n" +
			"      --allow-raise, a system below the installer's lower bound, or no confirmation\n",
		Flags: append(targetFlags(),
			&cli.StringFlag{Name: "to", Usage: "the product `VERSION[-BUILD]` to write, e.g. 5.0.0 or 5.0.0-10918p"},
			&cli.StringFlag{Name: "platform-version", Usage: "PLATFORM_VERSION `P` to write (default: from the release table)"},
			&cli.StringFlag{Name: "for-installer", Usage: "choose values the installer of `VERSION` accepts, and check them"},
			&cli.BoolFlag{Name: "allow-raise", Usage: "allow a version newer than the installed one (see WARNING)"},
		),
		Action: runVersionSet,
	}
}

// SetDoc is the JSON document of `version set` (docs/json.md).
type SetDoc struct {
	Root    string               `json:"root"`
	DryRun  bool                 `json:"dry_run"`
	Values  map[string]string    `json:"values"`
	Explain []string             `json:"explain"`
	Changes []SetChange          `json:"changes"`
	Verdict *versionfile.Verdict `json:"verdict"`
	Op      *journal.Result      `json:"op"`
	Undo    string               `json:"undo"`
}

// SetChange is one planned file change.
type SetChange struct {
	Path string `json:"path"`
	Why  string `json:"why"`
}

func runVersionSet(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	req := versionfile.SetRequest{To: cmd.String("to"), Platform: cmd.String("platform-version"), ForInstaller: cmd.String("for-installer"),
		AllowRaise: cmd.Bool("allow-raise")}
	if req.To == "" && req.ForInstaller == "" {
		return usageError{errors.New("version set: give --to VERSION[-BUILD] or --for-installer VERSION")}
	}
	o := output(cmd)
	tgt, err := openTarget(ctx, cmd, !cmd.Bool("dry-run"))
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
	return o.Emit(doc, func(w io.Writer) error {
		if doc.Verdict != nil {
			fmt.Fprintf(w, "installer %s: %s\n", doc.Verdict.Installer, doc.Verdict.Reason)
		}
		return nil
	})
}

// VersionSetPlan plans `version set` on an opened target (also used by
// `xsrescue demo`): the document without its op, and the plan to apply.
func VersionSetPlan(tgt *target.Target, req versionfile.SetRequest) (*SetDoc, *versionfile.SetPlan, error) {
	sp, err := versionfile.PlanSet(tgt.Root, req)
	if err != nil {
		return nil, nil, onTarget(tgt, err)
	}
	doc := &SetDoc{Root: tgt.Root.Dir(), Values: sp.Values, Explain: sp.Explain, Changes: []SetChange{}}
	if doc.Explain == nil {
		doc.Explain = []string{}
	}
	for _, c := range sp.Plan.Changes {
		doc.Changes = append(doc.Changes, SetChange{Path: c.Path, Why: c.Why})
	}
	if sp.Installer != nil {
		st := &versionfile.State{Inventory: sp.After, Firstboot: versionfile.Gate{Name: "firstboot", OK: true, Reason: "not changed by version set"}}
		vd := st.Verdict(*sp.Installer)
		doc.Verdict = &vd
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
	if !o.JSON && isTerminal(o.Stderr()) {
		bar := progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(o.Stderr()),
			progressbar.OptionSetDescription("searching"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(),
		)
		opts.Progress = func(_, bytes int64) { _ = bar.Set64(bytes) }
		defer bar.Finish()
	}
	matches, stats, err := versionfile.Find(ctx, tgt.Root, needles, opts)
	if err != nil {
		return onTarget(tgt, err)
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
