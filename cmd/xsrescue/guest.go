package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/guestfix"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

func init() {
	register(func() *cli.Command {
		return &cli.Command{
			Name:  "guest",
			Usage: "check and fix a Xen guest (domU) root after a CentOS update",
			Description: "After a yum update a CentOS 4.x domU can be left unbootable or degraded: the host keeps\n" +
				"booting the old xenU kernel whose modules the update removed, lib/tls comes back, the serial\n" +
				"console is missing, services that cannot work in a VM fail, the dbus user is missing, and\n" +
				".rpmnew files pile up. These commands check an offline guest root (--root DIR, or a guest\n" +
				"disk image with --disk IMG --partition N) rule by rule and fix it through the journal.\n" +
				"Rules: " + strings.Join(guestfix.RuleNames(), ", ") + " (docs/guest.md).",
			Commands: []*cli.Command{guestCheckCommand(), guestFixCommand()},
		}
	})
}

func guestDomainFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "host-kernel", Usage: "the kernel `VERSION` the host boots for this guest (default: kernel= of --domain-config)"},
		&cli.StringFlag{Name: "domain-config", Usage: "the guest's Xen domain config `FILE` on the host (kernel=, vcpus=, extra=)"},
	}
}

func guestCheckCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "findings with evidence for every guest rule",
		ArgsUsage: " ",
		Description: "Runs each rule on the guest root and prints one finding per thing checked, graded\n" +
			"ok, warn or broken, with the file and line it read. --host-kernel (or kernel= of the\n" +
			"--domain-config file) is the kernel the host boots for the guest: its modules must be in\n" +
			"lib/modules. vcpus= of the domain config decides whether irqbalance is useful.\n" +
			"A file a rule cannot use (a symlink to a different file, a loop, not a regular file, or\n" +
			"malformed) is a broken finding of that rule; every other rule is still reported. A\n" +
			"malformed file then makes the command exit 2 (file and line on stderr).\n" +
			"Read-only: never writes a byte, to the guest or to the domain config.\n\n" + exitHelp,
		Flags:  append(targetFlags(), guestDomainFlags()...),
		Action: runGuestCheck,
	}
}

func guestFixCommand() *cli.Command {
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
			"same journal as the guest's. The host-kernel and rpmnew rules are never fixed\n" +
			"automatically; what is left is listed. A second run changes nothing (\"already as requested\").\n\n" +
			"WARNING:\n   This edits the guest root (and the domain config). The guest must not be running.\n\n" +
			"A rule whose file is a symlink to a different file (etc/securetty -> /etc/shadow), a loop,\n" +
			"not a regular file, or malformed changes nothing: its broken finding is listed and the\n" +
			"other rules are fixed (docs/guest.md, \"Files a rule cannot use\").\n\n" +
			"EXIT STATUS:\n   0  fixed (or already as requested; rules skipped for a symlink and what stays broken\n" +
			"      are listed: \"Nothing was changed; left to do by hand\" when nothing could be fixed)\n" +
			"   1  the operation failed\n" +
			"   2  a malformed yum.conf, inittab or account file (after the other rules were fixed),\n" +
			"      a malformed domain config, an unknown rule, bad flags (file and line named)\n" +
			"   3  refused: no confirmation (give --yes when stdin is not a terminal), a mounted device,\n" +
			"      a rule asked for with --only whose file is a symlink to another file, or that\n" +
			"      stays broken while nothing is changed (uid 81 taken: fix the accounts by hand)\n",
		Flags: append(append(targetFlags(), guestDomainFlags()...),
			&cli.StringSliceFlag{Name: "only", Usage: "fix only `RULE` (repeatable; one of " + strings.Join(guestfix.RuleNames(), ", ") + ")"},
		),
		Action: runGuestFix,
	}
}

// GuestCheckDoc is the JSON document of `guest check` (docs/json.md).
type GuestCheckDoc struct {
	Root         string  `json:"root"`
	Disk         string  `json:"disk,omitempty"`
	Partition    int     `json:"partition,omitempty"`
	DomainConfig *string `json:"domain_config"`
	*guestfix.Report
	Clean bool        `json:"clean"`
	Error *guestError `json:"error,omitempty"`
}

// guestError is the error a guest command exits with after its document:
// a malformed guest file (exit 2), named in the document too.
type guestError struct {
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
}

func newGuestError(err error) *guestError {
	if err == nil {
		return nil
	}
	return &guestError{Message: err.Error(), ExitCode: xerr.Code(err)}
}

// GuestFixDoc is the JSON document of `guest fix` (docs/json.md).
type GuestFixDoc struct {
	Root         string             `json:"root"`
	DryRun       bool               `json:"dry_run"`
	Changes      []GuestChange      `json:"changes"`
	DomainConfig *GuestDomainFix    `json:"domain_config"`
	Manual       []guestfix.Finding `json:"manual"`
	Op           *plan.Result       `json:"op"`  // the last op applied to the guest
	Ops          []*plan.Result     `json:"ops"` // every op applied to the guest, in order
	Error        *guestError        `json:"error,omitempty"`
}

// GuestDomainFix is the domain config part of `guest fix`.
type GuestDomainFix struct {
	Path    string        `json:"path"`
	Changes []GuestChange `json:"changes"`
	Op      *plan.Result  `json:"op"`
}

// GuestChange is one planned change.
type GuestChange struct {
	Kind    plan.Kind `json:"kind"`
	Path    string    `json:"path"`
	NewPath string    `json:"new_path,omitempty"`
	Why     string    `json:"why"`
}

func guestChanges(p *plan.Plan) []GuestChange {
	out := []GuestChange{}
	for _, c := range p.Changes {
		out = append(out, GuestChange{Kind: c.Kind, Path: c.Path, NewPath: c.NewPath, Why: c.Why})
	}
	return out
}

// guestOptions reads the flags of guest check and fix. The domain config
// (--domain-config) is opened as a FILE target: read-only, and for fix
// locked (openForChange) before it is read, so that its second op applies
// to exactly what was read. The caller closes the target (nil without
// --domain-config).
func guestOptions(ctx context.Context, cmd *cli.Command, forChange bool) (guestfix.Options, *target.Target, error) {
	opts := guestfix.Options{HostKernel: cmd.String("host-kernel"), Only: cmd.StringSlice("only")}
	name := cmd.String("domain-config")
	if name == "" {
		return opts, nil, nil
	}
	real, err := filepath.EvalSymlinks(name)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return opts, nil, xerr.Invalidf("--domain-config: %w", err)
	}
	o := target.Options{File: real}
	var dt *target.Target
	if forChange {
		dt, err = openForChange(ctx, cmd, o)
	} else {
		dt, err = target.Open(ctx, o)
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
	if opts.Domain, err = guestfix.ParseDomainConfig(bytes.NewReader(data), name); err != nil {
		dt.Close()
		return opts, nil, err
	}
	return opts, dt, nil
}

func runGuestCheck(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	opts, dt, err := guestOptions(ctx, cmd, false)
	if err != nil {
		return err
	}
	defer dt.Close()
	tgt, err := openTarget(ctx, cmd, false)
	if err != nil {
		return err
	}
	defer tgt.Close()
	rep, err := guestfix.Check(tgt.Root, opts)
	if err != nil {
		return err
	}
	rep.Notes = append(rep.Notes, tgt.Notes...)
	doc := &GuestCheckDoc{Root: tgt.Root.Dir(), Disk: tgt.Disk, Partition: tgt.Partition, Report: rep, Clean: rep.Clean(), Error: newGuestError(rep.Err())}
	if opts.Domain != nil {
		doc.DomainConfig = &opts.Domain.Name
	}
	// Every rule is reported; a malformed file then sets the exit status.
	if err := output(cmd).Emit(doc, func(w io.Writer) error { return renderGuestCheck(w, doc) }); err != nil {
		return err
	}
	return alreadyReported(rep.Err())
}

func renderGuestCheck(w io.Writer, doc *GuestCheckDoc) error {
	where := doc.Root
	if doc.Disk != "" {
		where = fmt.Sprintf("%s partition %d", doc.Disk, doc.Partition)
	}
	hk, vcpus := doc.HostKernel, "unknown"
	if hk == "" {
		hk = "unknown"
	}
	if doc.VCPUs > 0 {
		vcpus = fmt.Sprint(doc.VCPUs)
	}
	fmt.Fprintf(w, "guest root: %s\ninit: %s   host kernel: %s   vCPUs: %s\n", where, doc.Init, hk, vcpus)
	fmt.Fprintf(w, "kernels in boot/: %s\nkernels in lib/modules/: %s\n\n", strings.Join(doc.Kernels.Boot, " "), strings.Join(doc.Kernels.Modules, " "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	count := map[guestfix.Severity]int{}
	for _, f := range doc.Findings {
		count[f.Severity]++
		fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.ToUpper(string(f.Severity)), f.ID, f.Evidence)
	}
	tw.Flush()
	for _, n := range doc.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "\n%d broken, %d warn, %d ok", count[guestfix.Broken], count[guestfix.Warn], count[guestfix.OK])
	if !doc.Clean {
		fmt.Fprint(w, " (xsrescue guest fix applies what can be automated; --dry-run shows it first)")
	}
	fmt.Fprintln(w)
	return nil
}

func runGuestFix(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	opts, dt, err := guestOptions(ctx, cmd, true)
	if err != nil {
		return err
	}
	defer dt.Close()
	dryRun := cmd.Bool("dry-run")
	tgt, err := openForChange(ctx, cmd, targetOptions(cmd, false))
	if err != nil {
		return err
	}
	defer tgt.Close()
	doc := &GuestFixDoc{Root: tgt.Root.Dir(), DryRun: dryRun, Changes: []GuestChange{}, Ops: []*plan.Result{}}
	// A journal op changes each path once; a fix that needs two steps on
	// one path (lib/tls.disabled) says so, and is planned again after the
	// first op.
	var fix *guestfix.Fix
	for round := 1; ; round++ {
		if fix, err = guestfix.Plan(tgt.Root, opts); err != nil {
			return err
		}
		doc.Changes = append(doc.Changes, guestChanges(fix.Guest)...)
		if fix.Guest.Empty() && len(stillBroken(fix)) > 0 {
			break // not "already as requested": what is left is listed below
		}
		res, err := applyPlan(ctx, cmd, tgt, fix.Guest)
		if err != nil {
			return err
		}
		if res != nil {
			doc.Op = res
			doc.Ops = append(doc.Ops, res)
		}
		if !fix.Again || round == 3 {
			break
		}
		if dryRun {
			output(cmd).Logf("dry run: once these changes are applied, guest fix plans the rest (lib/tls is renamed in a second op)")
			break
		}
	}
	changed := len(doc.Changes) > 0 || (fix.Domain != nil && !fix.Domain.Empty())
	broken := stillBroken(fix)
	if len(opts.Only) > 0 && !changed && len(broken) > 0 {
		// The rule asked for cannot be fixed automatically: exit 0 would
		// read as done.
		return xerr.Refusedf("nothing was changed; still broken, to fix by hand: %s", strings.Join(broken, "; "))
	}
	doc.Manual = append([]guestfix.Finding{}, fix.Manual...)
	if fix.Domain != nil {
		domainPath := filepath.Join(dt.Root.Dir(), filepath.Base(cmd.String("domain-config")))
		if real, err := filepath.EvalSymlinks(cmd.String("domain-config")); err == nil {
			domainPath = filepath.Join(dt.Root.Dir(), filepath.Base(real))
		}
		doc.DomainConfig = &GuestDomainFix{Path: domainPath, Changes: guestChanges(fix.Domain)}
		if doc.DomainConfig.Op, err = applyDomainFix(ctx, cmd, tgt, dt, domainPath, fix.Domain); err != nil {
			return err
		}
	}
	doc.Error = newGuestError(fix.Err())
	err = output(cmd).Emit(doc, func(w io.Writer) error {
		if len(doc.Manual) > 0 {
			if changed || len(broken) == 0 {
				fmt.Fprintln(w, "not fixed automatically:")
			} else {
				fmt.Fprintln(w, "Nothing was changed; left to do by hand:")
			}
			for _, f := range doc.Manual {
				fmt.Fprintf(w, "  %s %s: %s\n", strings.ToUpper(string(f.Severity)), f.ID, f.Evidence)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return alreadyReported(fix.Err())
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
func applyDomainFix(ctx context.Context, cmd *cli.Command, guest, dt *target.Target, path string, p *plan.Plan) (*plan.Result, error) {
	if p.Empty() {
		return nil, nil
	}
	var confirmed func(context.Context) error
	if cmd.String("journal") == "" {
		jpath, err := journal.DefaultPath(guest.Root, false)
		if err != nil {
			return nil, err
		}
		if err := cmd.Set("journal", jpath); err != nil {
			return nil, err
		}
		confirmed = func(ctx context.Context) error {
			if err := guest.Reopen(ctx); err != nil {
				return err
			}
			jpath, err := journal.DefaultPath(guest.Root, true)
			if err != nil {
				return err
			}
			return cmd.Set("journal", jpath)
		}
	}
	output(cmd).Logf("domain config %s (host side, a second op; undo it with --root %s):", path, filepath.Dir(path))
	return applyPlanWith(ctx, cmd, dt, p, confirmed)
}
