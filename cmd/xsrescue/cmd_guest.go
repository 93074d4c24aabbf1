package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/guestfix"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

func newGuestCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "guest",
		Usage: "check and fix a Xen guest (domU) root after a CentOS update",
		Description: "After a yum update a CentOS 4.x domU can be left unbootable or degraded: the host keeps\n" +
			"booting the old xenU kernel whose modules the update removed, lib/tls comes back, the serial\n" +
			"console is missing, services that cannot work in a VM fail, the dbus user is missing, and\n" +
			".rpmnew files pile up. These commands check an offline guest root (--root DIR, or a guest\n" +
			"disk image with --disk IMG --partition N) rule by rule and fix it through the journal.\n" +
			"Rules: " + strings.Join(guestfix.RuleNames(), ", ") + " (docs/guest.md).",
		Commands: []*cli.Command{newGuestCheckCommand(e), newGuestFixCommand(e)},
	}
}

// guestOptions are the flags of guest check and fix.
type guestOptions struct {
	targetOptions
	HostKernel, DomainConfig string
	Only                     []string // fix only
}

func (o *guestOptions) domainFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "host-kernel", Destination: &o.HostKernel, Usage: "the kernel `VERSION` the host boots for this guest (default: kernel= of --domain-config)"},
		&cli.StringFlag{Name: "domain-config", Destination: &o.DomainConfig, Usage: "the guest's Xen domain config `FILE` on the host (kernel= or bootloader=, vcpus=, extra=)"},
	}
}

func newGuestCheckCommand(e *env) *cli.Command {
	var o guestOptions
	return &cli.Command{
		Name:      "check",
		Usage:     "findings with evidence for every guest rule",
		ArgsUsage: " ",
		Description: "Runs each rule on the guest root and prints one finding per thing checked, graded\n" +
			"ok, warn or broken, with the file and line it read. --host-kernel (or kernel= of the\n" +
			"--domain-config file) is the kernel the host boots for the guest: its modules must be in\n" +
			"lib/modules. With bootloader = pygrub and no kernel=, the kernel is the one pygrub boots:\n" +
			"the default entry of the guest's grub config (docs/guest.md, pygrub guests).\n" +
			"vcpus= of the domain config decides whether irqbalance is useful.\n" +
			"A file a rule cannot use (a symlink to a different file, a loop, not a regular file, or\n" +
			"malformed) is a broken finding of that rule; every other rule is still reported. A\n" +
			"malformed file then makes the command exit 2 (file and line on stderr).\n" +
			"Read-only: never writes a byte, to the guest or to the domain config. On the running\n" +
			"system's own root (--root /) it runs and says so in a note; guest fix refuses that root.\n\n" + exitHelp,
		Flags:  append(o.targetOptions.flags(), o.domainFlags()...),
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runGuestCheck(ctx, e, o) }),
	}
}

func newGuestFixCommand(e *env) *cli.Command {
	var o guestOptions
	return &cli.Command{
		Name:      "fix",
		Usage:     "apply the guest fixes through the journal",
		ArgsUsage: " ",
		Description: "Builds the fixes of every rule (or of the --only rules), shows them as a diff and applies\n" +
			"them through the journal: yum.conf gets installonlypkgs with kernel-xenU, lib/tls is renamed\n" +
			"to lib/tls.disabled, ttyS0 goes into securetty and an agetty line into inittab, the S##\n" +
			"links of haldaemon, mdmonitor, lvm2-monitor (and irqbalance on one vCPU) become K## links,\n" +
			"and the dbus user is added as useradd would. Every other byte of an edited file stays.\n" +
			"With --domain-config, xencons=ttyS console=ttyS0 is added to its extra=; that file is on\n" +
			"the host, so it is a second journal op (a root at the file's directory) recorded in the\n" +
			"same journal as the guest's. For a pygrub guest whose grub.conf default does not boot\n" +
			"(kernel or initrd missing, modules gone, not a Xen kernel, default=saved), default= is\n" +
			"pointed at the first entry that does. The rpmnew rule and a host kernel= without modules\n" +
			"are never fixed automatically; what is left is listed. A second run changes nothing\n" +
			"(\"already as requested\").\n\n" +
			"WARNING:\n   This edits the guest root (and the domain config). The guest must not be running:\n" +
			"   a --root that is the running system's own root (the same device and inode as /, also\n" +
			"   through a symlink or a bind mount) is refused before anything is locked or planned.\n\n" +
			"A rule whose file is a symlink to a different file (etc/inittab -> /etc/passwd), a loop,\n" +
			"not a regular file, or malformed changes nothing: its broken finding is listed and the\n" +
			"other rules are fixed (docs/guest.md, \"Files a rule cannot use\").\n\n" +
			"EXIT STATUS:\n   0  fixed (or already as requested), nothing broken is left\n" +
			"   1  the operation failed\n" +
			"   2  a malformed yum.conf, inittab or account file (after the other rules were fixed),\n" +
			"      a malformed domain config, an unknown rule, bad flags (file and line named)\n" +
			"   3  refused: no confirmation (give --yes when stdin is not a terminal), a mounted device,\n" +
			"      the running system's own root,\n" +
			"      a rule asked for with --only whose file is a symlink to another file, or that\n" +
			"      stays broken while nothing is changed (uid 81 taken: fix the accounts by hand)\n" +
			"   4  completed, and broken findings remain that no rule could fix (rules skipped for a\n" +
			"      symlink, accounts): listed, \"Nothing was changed; left to do by hand\" when nothing\n" +
			"      could be fixed\n" +
			"   141  stdout was closed by its reader (| head)\n",
		Flags: append(append(o.targetOptions.flags(), o.domainFlags()...),
			&cli.StringSliceFlag{Name: "only", Destination: &o.Only, Usage: "fix only `RULE` (repeatable; one of " + strings.Join(guestfix.RuleNames(), ", ") + ")"},
		),
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runGuestFix(ctx, e, o) }),
	}
}

// guestfixOptions reads what the rules need beyond the guest: the domain
// config (--domain-config) is opened as a FILE target: read-only, and for
// fix locked (openForChange) before it is read, so that its second op
// applies to exactly what was read. The caller closes the target (nil
// without --domain-config).
func (e *env) guestfixOptions(ctx context.Context, o guestOptions, forChange bool) (guestfix.Options, *target.Target, error) {
	opts := guestfix.Options{HostKernel: o.HostKernel, Only: o.Only}
	if o.DomainConfig == "" {
		return opts, nil, nil
	}
	real, err := filepath.EvalSymlinks(o.DomainConfig)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return opts, nil, xerr.Invalidf("--domain-config: %w", err)
	}
	var dt *target.Target
	if forChange {
		dt, err = e.openForChange(ctx, target.Options{File: real})
	} else {
		dt, err = target.Open(ctx, target.Options{File: real})
	}
	if err != nil {
		if xerr.Code(err) == xerr.ExitRefused {
			return opts, nil, err
		}
		return opts, nil, xerr.Invalidf("--domain-config: %w", err)
	}
	data, err := dt.Root.ReadFile(filepath.Base(real))
	if err != nil {
		dt.Close()
		return opts, nil, xerr.Invalidf("--domain-config: %w", err)
	}
	if opts.Domain, err = guestfix.ParseDomainConfig(bytes.NewReader(data), o.DomainConfig); err != nil {
		dt.Close()
		return opts, nil, err
	}
	return opts, dt, nil
}

func runGuestCheck(ctx context.Context, e *env, o guestOptions) error {
	opts, dt, err := e.guestfixOptions(ctx, o, false)
	if err != nil {
		return err
	}
	defer dt.Close()
	tgt, err := e.openTarget(ctx, o.target())
	if err != nil {
		return err
	}
	defer tgt.Close()
	rep, err := guestfix.Check(tgt.Root, opts)
	if err != nil {
		return err
	}
	rep.Notes = append(rep.Notes, tgt.Notes...)
	if why := target.LiveRoot(tgt.Root.Dir()); why != "" {
		rep.Notes = append(rep.Notes, "--root "+o.Root+" is the running system ("+why+"): these findings describe the system this command runs on, not an offline guest; guest fix refuses it")
	}
	doc := &guestCheckDoc{Root: tgt.Root.Dir(), Disk: tgt.Disk, Partition: tgt.Partition, Report: rep, Clean: rep.Clean(), Error: newErrorInfo(rep.Err())}
	if opts.Domain != nil {
		doc.DomainConfig = &opts.Domain.Name
	}
	// Every rule is reported; a malformed file then sets the exit status.
	if err := e.emit(doc, func(w io.Writer) error { return renderGuestCheck(w, doc) }); err != nil {
		return err
	}
	if err := rep.Err(); err != nil {
		return err
	}
	var broken []string
	for _, f := range rep.Findings {
		if f.Severity == guestfix.Broken {
			broken = append(broken, f.ID)
		}
	}
	if len(broken) > 0 {
		return xerr.Problems(fmt.Errorf("guest check: %d broken finding(s): %s (xsrescue guest fix applies what can be automated)", len(broken), strings.Join(broken, ", ")))
	}
	return nil
}

// liveRootWhat is what guest fix asks for instead of the running system.
const liveRootWhat = "guest fix edits the root of a guest that is not running: shut the guest down and mount its root (or give its disk image with --disk)"

func runGuestFix(ctx context.Context, e *env, o guestOptions) error {
	// Before anything (lock, journal, domain config): the running system's
	// own /etc must never be edited.
	if o.Root != "" {
		if err := target.RefuseLiveRoot(o.Root, "--root "+o.Root, liveRootWhat); err != nil {
			return err
		}
	}
	opts, dt, err := e.guestfixOptions(ctx, o, true)
	if err != nil {
		return err
	}
	defer dt.Close()
	tgt, err := e.openForChange(ctx, o.target())
	if err != nil {
		return err
	}
	defer tgt.Close()
	doc := &guestFixDoc{Manual: []guestfix.Finding{}}
	e.setTarget(targetOf(tgt))
	fix, err := e.fixGuest(ctx, tgt, opts)
	if err != nil {
		return err
	}
	doc.changed = len(e.mut.changes) > 0 || (fix.Domain != nil && !fix.Domain.Empty())
	doc.broken = stillBroken(fix)
	if len(opts.Only) > 0 && !doc.changed && len(doc.broken) > 0 {
		// The rule asked for cannot be fixed automatically: exit 0 would
		// read as done.
		return xerr.Refusedf("nothing was changed; still broken, to fix by hand: %s", strings.Join(doc.broken, "; "))
	}
	doc.Manual = append(doc.Manual, fix.Manual...)
	if fix.Domain != nil {
		path := filepath.Join(dt.Root.Dir(), filepath.Base(o.DomainConfig))
		if real, err := filepath.EvalSymlinks(o.DomainConfig); err == nil {
			path = filepath.Join(dt.Root.Dir(), filepath.Base(real))
		}
		doc.DomainConfig = &path
		if _, err = e.applyDomainFix(ctx, tgt, dt, path, fix.Domain); err != nil {
			return err
		}
	}
	mdoc := e.mutationDocument(doc.broken, doc)
	mdoc.Error = newErrorInfo(fix.Err())
	if err := e.emit(mdoc, doc.render); err != nil {
		return err
	}
	if err := fix.Err(); err != nil {
		return err
	}
	if len(doc.broken) > 0 {
		return xerr.Problems(fmt.Errorf("%d broken finding(s) remain, to fix by hand: %s", len(doc.broken), strings.Join(doc.broken, "; ")))
	}
	return nil
}

// fixGuest plans and applies the guest's fixes. A journal op changes each
// path once; a fix that needs two steps on one path (lib/tls.disabled)
// says so, and is planned again after the first op.
func (e *env) fixGuest(ctx context.Context, tgt *target.Target, opts guestfix.Options) (*guestfix.Fix, error) {
	for round := 1; ; round++ {
		fix, err := guestfix.Plan(tgt.Root, opts)
		if err != nil {
			return nil, err
		}
		if fix.Guest.Empty() && len(stillBroken(fix)) > 0 {
			return fix, nil // not "already as requested": what is left is listed
		}
		if _, err := e.apply(ctx, tgt, fix.Guest); err != nil {
			return nil, err
		}
		if !fix.Again || round == 3 {
			return fix, nil
		}
		if e.DryRun {
			e.logf("dry run: once these changes are applied, guest fix plans the rest (lib/tls is renamed in a second op)")
			return fix, nil
		}
	}
}

// stillBroken lists the broken findings no change addresses, as
// "id: evidence".
func stillBroken(fix *guestfix.Fix) []string {
	var left []string
	for _, f := range fix.Manual {
		if f.Severity == guestfix.Broken {
			left = append(left, f.ID+": "+f.Evidence)
		}
	}
	return left
}

// applyDomainFix applies the domain config change as its own op on the
// config's FILE target dt (opened and locked before the config was read).
// Its journal is the guest's (--journal, or the guest root's default), so
// one journal lists both ops and nothing is written next to the host's
// domain configs. The guest's default journal is made (and a --disk guest
// mounted read-write for it) only once this op is confirmed.
func (e *env) applyDomainFix(ctx context.Context, guest, dt *target.Target, path string, p *plan.Plan) (*plan.Result, error) {
	if p.Empty() {
		return nil, nil
	}
	var o applyOptions
	if e.Journal == "" {
		o.journal = func(create bool) (string, error) { return journal.DefaultPath(guest.Root, create) }
		o.confirmed = guest.Reopen
	}
	e.logf("domain config %s (host side, a second op; undo it with --root %s):", path, filepath.Dir(path))
	return e.applyWith(ctx, dt, p, o)
}
