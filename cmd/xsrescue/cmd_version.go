package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/versionfile"
)

func newVersionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "show, set and find the version markers an installer compares",
		Description: "A XenServer installer decides from the root's etc/xensource-inventory whether it offers\n" +
			"\"Upgrade\" for a disk; which key it compares depends on its generation (docs/version.md).\n" +
			"These commands show every marker and the verdict of each installer, rewrite all markers\n" +
			"consistently through the journal, and search a root for a version string.",
		Commands: []*cli.Command{newVersionShowCommand(e), newVersionSetCommand(e), newVersionFindCommand(e)},
	}
}

// versionShowOptions are the flags of version show.
type versionShowOptions struct {
	targetOptions
	Installer  string
	BackupRoot string
}

func newVersionShowCommand(e *env) *cli.Command {
	var o versionShowOptions
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
		Flags: append(o.targetOptions.flags(),
			&cli.StringFlag{Name: "for-installer", Destination: &o.Installer, Usage: "only the verdict of the installer of `VERSION` (e.g. 5.0, 7.1, 8.2), in full"},
			renamedFlag(e, "installer", "for-installer", &o.Installer),
			&cli.StringFlag{Name: "backup-root", Destination: &o.BackupRoot, Usage: "an already mounted backup partition `DIR` (with --root)"},
		),
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runVersionShow(ctx, e, o) }),
	}
}

func runVersionShow(ctx context.Context, e *env, o versionShowOptions) error {
	var only *versionfile.Installer
	if o.Installer != "" {
		in, err := versionfile.LookupInstaller(o.Installer)
		if err != nil {
			return xerr.Invalidf("--for-installer: %w", err)
		}
		only = &in
	}
	rep, err := versionfile.Show(ctx, versionfile.ShowOptions{Target: o.target(), Only: only, BackupRoot: o.BackupRoot})
	if err != nil {
		return err
	}
	e.noteMounts(rep.Mounts...)
	return e.emit(rep, func(w io.Writer) error { return renderShow(w, rep, only != nil) })
}

// versionSetOptions are the flags of version set.
type versionSetOptions struct {
	targetOptions
	To, Platform, ForInstaller                    string
	AllowRaise, MarkFirstbootDone, MoveActiveFlag bool
}

func newVersionSetCommand(e *env) *cli.Command {
	var o versionSetOptions
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
			"   4  done, but a gate still fails (the firstboot gate without --mark-firstboot-done)\n" +
			"   141  stdout was closed by its reader (| head)\n",
		Flags: append(o.targetOptions.flags(),
			&cli.StringFlag{Name: "to", Destination: &o.To, Usage: "the product `VERSION[-BUILD]` to write, e.g. 5.0.0 or 5.0.0-10918p"},
			&cli.StringFlag{Name: "platform-version", Destination: &o.Platform, Usage: "PLATFORM_VERSION `P` to write (default: from the release table)"},
			&cli.StringFlag{Name: "for-installer", Destination: &o.ForInstaller, Usage: "choose values the installer of `VERSION` accepts, repair its gates, and check them"},
			renamedFlag(e, "installer", "for-installer", &o.ForInstaller),
			&cli.BoolFlag{Name: "allow-raise", Destination: &o.AllowRaise, Usage: "allow a version newer than the installed one (see WARNING)"},
			&cli.BoolFlag{Name: "mark-firstboot-done", Destination: &o.MarkFirstbootDone, Usage: "with --for-installer: mark first-boot scripts that never ran as done (see WARNING)"},
			&cli.BoolFlag{Name: "move-active-flag", Destination: &o.MoveActiveFlag, Usage: "with --for-installer and --disk: move the DOS active flag from another partition to the root (see WARNING)"},
		),
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runVersionSet(ctx, e, o) }),
	}
}

func runVersionSet(ctx context.Context, e *env, o versionSetOptions) error {
	req := versionfile.SetRequest{To: o.To, Platform: o.Platform, ForInstaller: o.ForInstaller,
		AllowRaise: o.AllowRaise, MarkFirstbootDone: o.MarkFirstbootDone, MoveActiveFlag: o.MoveActiveFlag}
	switch {
	case req.To == "" && req.ForInstaller == "":
		return usagef("version set: give --to VERSION[-BUILD] or --for-installer VERSION")
	case req.To != "" && req.ForInstaller != "":
		// --for-installer chooses the version (keeping the installed one
		// when V accepts it); a --to beside it was silently one or the other.
		return usagef("version set: --to %s and --for-installer %s: give one (--for-installer chooses the version and repairs the gates; --to writes exactly the version given)", req.To, req.ForInstaller)
	}
	if req.ForInstaller == "" && (req.MarkFirstbootDone || req.MoveActiveFlag) {
		return usagef("version set: --mark-firstboot-done and --move-active-flag repair an installer's gates: give --for-installer VERSION")
	}
	tgt, err := e.openForChange(ctx, o.target())
	if err != nil {
		return err
	}
	defer tgt.Close()
	sp, err := versionfile.PlanSetOn(tgt, req)
	if err != nil {
		return err
	}
	doc := newSetDoc(sp)
	for _, x := range doc.Explain {
		fmt.Fprintf(e.text(), "%s\n", x)
	}
	e.setTarget(targetOf(tgt))
	if _, err = e.apply(ctx, tgt, sp.Plan); err != nil {
		return err
	}
	if err := e.emitMutation(doc.problems(), doc, doc.render); err != nil || len(doc.Remaining) == 0 {
		return err
	}
	return xerr.Problems(fmt.Errorf("the %s installer's %s gate still fails (--mark-firstboot-done repairs it; see WARNING in --help)", doc.Verdict.Installer, doc.Remaining[0].Name))
}

func newVersionFindCommand(e *env) *cli.Command {
	var o targetOptions
	return &cli.Command{
		Name:      "find",
		Usage:     "every file under the root that contains any of the strings",
		ArgsUsage: "STRING...",
		Description: "What `find /mnt | xargs grep 15119` does, done properly: every regular file under the root\n" +
			"containing any STRING (fixed strings, not patterns), with line number and the matched\n" +
			"line; binary files (a NUL byte in the first 8 KiB) as \"binary match\" with the offset.\n" +
			"Never follows a symlink, skips proc, sys and dev, walks and searches in parallel.\n" +
			"A progress line on stderr when it is a terminal. Read-only.\n\n" +
			"EXIT STATUS:\n   0  searched every file (matches or not; see the output)\n   1  the search failed\n   2  usage error\n" +
			"   4  searched, but some files could not be read (listed on stderr, and in --json\n" +
			"      under stats.problems): a match may be missing\n" +
			"   141  stdout was closed by its reader (| head)\n",
		Flags:  o.flags(),
		Action: action(1, -1, func(ctx context.Context, a []string) error { return runVersionFind(ctx, e, o, a) }),
	}
}

func runVersionFind(ctx context.Context, e *env, o targetOptions, needles []string) error {
	for _, n := range needles {
		if n == "" {
			return usagef("version find: empty STRING")
		}
	}
	tgt, err := e.openTarget(ctx, o.target())
	if err != nil {
		return err
	}
	defer tgt.Close()
	var opts versionfile.FindOptions
	if bar := e.progress("searching", -1); bar != nil {
		opts.Progress = func(_, bytes int64) { bar.Set(bytes) }
		defer bar.Finish()
	}
	matches, stats, err := versionfile.Find(ctx, tgt.Root, needles, opts)
	if err != nil {
		return tgt.Named(err)
	}
	doc := newFindDoc(tgt.Root.Dir(), needles, matches, stats)
	for _, p := range stats.Problems {
		e.logf("xsrescue: %s", p)
	}
	if err := e.emit(doc, doc.render); err != nil {
		return err
	}
	if !e.JSON {
		fmt.Fprintf(e.stderr, "%d matches in %d files (%d files, %d bytes searched)\n", len(matches), len(doc.Files), stats.Files, stats.Bytes)
	}
	if n := len(stats.Problems); n > 0 {
		return xerr.Problems(fmt.Errorf("version find: %d file(s) could not be read (listed above): a match may be missing", n))
	}
	return nil
}
