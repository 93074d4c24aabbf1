// Package guestfix checks and fixes the root of a Xen guest (domU) that a
// CentOS update left unbootable or degraded: yum's installonlypkgs, the
// host kernel's modules, /lib/tls, the serial console, services that cannot
// work in a VM, the dbus system user and leftover .rpmnew files.
//
// Every read goes through target.Root; fixes are journal plans, never
// writes. Each rule analyses the root once and yields both its findings
// (Check) and its changes (Fix), so a fix is exactly what check reported.
package guestfix

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// Severity grades a finding, in the same words as doctor.
type Severity string

const (
	OK     Severity = "ok"
	Warn   Severity = "warn"   // degraded, or not checked for lack of information
	Broken Severity = "broken" // the guest will not boot or a service fails
)

// Finding is one result of a rule, in the shape doctor uses.
type Finding struct {
	ID       string   `json:"id"`       // rule, or rule/subject when a rule reports several things
	Severity Severity `json:"severity"` //
	Evidence string   `json:"evidence"` // what was read, with file and line
	Rule     string   `json:"rule"`
	fixed    bool     // the rule's changes address it
}

// fixing marks a finding that the rule's changes address.
func fixing(f Finding) Finding {
	f.fixed = true
	return f
}

// Options are what the host knows about the guest.
type Options struct {
	// HostKernel is the kernel version the host boots for the guest (uname -r
	// inside the guest); "" means the domain config's kernel, if any.
	HostKernel string
	// Domain is the guest's Xen domain config, nil when not given.
	Domain *DomainConfig
	// Only restricts the rules to these names (nil: all).
	Only []string
	// Now dates the shadow entry a fix adds (zero: the current time).
	Now time.Time
}

// Rule is one check with, where it can be automated, its fix.
type Rule struct {
	Name    string
	Summary string
	Fixable bool
	run     func(g *guest) (outcome, error)
}

// outcome is what a rule found and what it would change.
type outcome struct {
	findings []Finding
	changes  []plan.Change
	domain   []byte // new content of the domain config, nil when unchanged
	again    bool   // more changes follow once these are applied
	problems []*FileError
}

// refuse records err, from reading or parsing the guest file name, when it
// is a FileError, and reports whether it was one.
func (o *outcome) refuse(name string, err error) bool {
	var fe *FileError
	if !errors.As(fileErr(name, err), &fe) {
		return false
	}
	o.problems = append(o.problems, fe)
	return true
}

// runRule runs r: a file the rule could not use becomes a broken finding,
// and then the rule changes nothing.
func (g *guest) runRule(r Rule) (outcome, error) {
	o, err := r.run(g)
	if err != nil {
		return o, err
	}
	for _, p := range o.problems {
		p.Rule = r.Name
		o.findings = append(o.findings, p.finding())
	}
	if len(o.problems) > 0 {
		o.changes, o.domain, o.again = nil, nil, false
		for i := range o.findings {
			o.findings[i].fixed = false
		}
	}
	return o, nil
}

// Rules is every rule in the order they are checked.
var Rules = []Rule{
	{Name: "installonlypkgs", Summary: "yum keeps every kernel-xenU (installonlypkgs in etc/yum.conf)", Fixable: true, run: (*guest).installOnly},
	{Name: "host-kernel", Summary: "the kernel the guest boots (the host's kernel=, or pygrub's grub.conf default) has its modules in lib/modules and, for pygrub, its files and the Xen flavour", Fixable: true, run: (*guest).hostKernel},
	{Name: "tls", Summary: "lib/tls is disabled (renamed to lib/tls.disabled)", Fixable: true, run: (*guest).tls},
	{Name: "serial-console", Summary: "an exact ttyS0 line in etc/securetty, an agetty on ttyS0 in the boot runlevel in etc/inittab, xencons=ttyS console=ttyS0 in the domain config", Fixable: true, run: (*guest).serialConsole},
	{Name: "services", Summary: "haldaemon, mdmonitor, lvm2-monitor (and irqbalance on one vCPU) are not started in runlevels 2-5", Fixable: true, run: (*guest).services},
	{Name: "dbus-user", Summary: "an account named dbus (any uid; added with uid 81) exists when dbus is installed", Fixable: true, run: (*guest).dbusUser},
	{Name: "rpmnew", Summary: ".rpmnew and .rpmsave files under etc, with what differs (never changed automatically)", run: (*guest).rpmnew},
}

// Kernels lists the kernel versions installed in the guest.
type Kernels struct {
	Boot    []string `json:"boot"`    // boot/vmlinuz-VERSION
	Modules []string `json:"modules"` // lib/modules/VERSION
}

// Report is the result of Check.
type Report struct {
	Init       string    `json:"init"`        // sysv, upstart or systemd
	HostKernel string    `json:"host_kernel"` // the release the guest boots (pygrub: grub.conf's default), "" when unknown
	VCPUs      int       `json:"vcpus"`       // 0 when unknown
	Kernels    Kernels   `json:"kernels"`
	Findings   []Finding `json:"findings"`
	Notes      []string  `json:"notes"`
	// Problems are the files rules could not use, each also a finding.
	Problems []*FileError `json:"-"`
}

// Err is what a check exits with once the report is out: the first
// malformed file (exit 2), nil when there is none. A symlink that is not
// followed is a finding, not an error.
func (r *Report) Err() error { return firstInvalid(r.Problems) }

func firstInvalid(problems []*FileError) error {
	var bad []*FileError
	for _, p := range problems {
		if xerr.Code(p) == xerr.ExitInvalid {
			bad = append(bad, p)
		}
	}
	switch len(bad) {
	case 0:
		return nil
	case 1:
		return bad[0]
	}
	return xerr.Invalidf("%w (and %d more malformed file(s), see the findings)", bad[0], len(bad)-1)
}

// Clean reports whether no finding is worse than ok.
func (r *Report) Clean() bool {
	for _, f := range r.Findings {
		if f.Severity != OK {
			return false
		}
	}
	return true
}

// Fix is what Plan returns: the changes inside the guest root, the change to
// the domain config (on the host, a root of its own: its directory), and the
// findings that are not ok and that no change addresses.
type Fix struct {
	Guest  *plan.Plan
	Domain *plan.Plan // nil without a domain config
	Manual []Finding
	// Again says that Guest has to be applied before the rest can be
	// planned (a journal op changes each path once): apply it, then call
	// Plan again.
	Again bool
	// Problems are the files rules could not use: those rules change
	// nothing and their findings are in Manual.
	Problems []*FileError
}

// Err is what a fix exits with once the other rules are applied: the first
// malformed file (exit 2), nil when there is none.
func (f *Fix) Err() error { return firstInvalid(f.Problems) }

// Check runs the rules on the guest root.
func Check(root *target.Root, opts Options) (*Report, error) {
	g, rules, err := newGuest(root, opts)
	if err != nil {
		return nil, err
	}
	rep := &Report{Init: g.init, HostKernel: g.bootKernel, VCPUs: g.vcpus, Kernels: g.kernels, Findings: []Finding{}}
	for _, r := range rules {
		o, err := g.runRule(r)
		if err != nil {
			return nil, err
		}
		rep.Findings = append(rep.Findings, o.findings...)
		rep.Problems = append(rep.Problems, o.problems...)
	}
	rep.Notes = append([]string{}, g.notes...)
	return rep, nil
}

// Plan builds the fixes of the (selected) rules. A rule that cannot use a
// file changes nothing; when rules were selected with Only, that is an
// error (exit 3 for a symlink not followed, 2 for a malformed file) and
// nothing is planned, otherwise the other rules' fixes are.
func Plan(root *target.Root, opts Options) (*Fix, error) {
	g, rules, err := newGuest(root, opts)
	if err != nil {
		return nil, err
	}
	fix := &Fix{Guest: &plan.Plan{Command: "guest fix"}}
	for _, r := range rules {
		o, err := g.runRule(r)
		if err != nil {
			return nil, err
		}
		if len(o.problems) > 0 && len(opts.Only) > 0 {
			return nil, fmt.Errorf("rule %s: %w", r.Name, o.problems[0])
		}
		fix.Problems = append(fix.Problems, o.problems...)
		fix.Guest.Changes = append(fix.Guest.Changes, o.changes...)
		fix.Again = fix.Again || o.again
		if o.domain != nil {
			fix.Domain = &plan.Plan{Command: "guest fix", Changes: []plan.Change{{
				Kind: plan.Write, Path: filepath.Base(opts.Domain.Name), Content: o.domain,
				Why: "serial console on the host side: xencons=ttyS console=ttyS0 in extra",
			}}}
		}
		for _, f := range o.findings {
			if f.Severity != OK && !f.fixed {
				fix.Manual = append(fix.Manual, f)
			}
		}
	}
	if fix.Domain == nil && opts.Domain != nil {
		fix.Domain = &plan.Plan{Command: "guest fix"}
	}
	return fix, nil
}

// RuleNames lists the rule names, for help texts and errors.
func RuleNames() []string {
	names := make([]string, len(Rules))
	for i, r := range Rules {
		names[i] = r.Name
	}
	return names
}

// guest is one analysis of a root.
type guest struct {
	root       *target.Root
	opts       Options
	init       string
	initWhy    string
	bootKernel string
	vcpus      int
	kernels    Kernels
	notes      []string
	// cmdline is the guest kernel's command line as far as it is known
	// (extra= of the domain config), cmdlineFrom where it was read.
	cmdline     []string
	cmdlineFrom string
	// boot is what pygrub boots, for a guest whose domain config has a
	// bootloader and no kernel (nil otherwise).
	boot *pygrubBoot
}

func newGuest(root *target.Root, opts Options) (*guest, []Rule, error) {
	rules := Rules
	if len(opts.Only) > 0 {
		rules = nil
		for _, r := range Rules {
			if slices.Contains(opts.Only, r.Name) {
				rules = append(rules, r)
			}
		}
		for _, name := range opts.Only {
			if !slices.Contains(RuleNames(), name) {
				return nil, nil, xerr.Invalidf("unknown rule %q (rules: %s)", name, strings.Join(RuleNames(), ", "))
			}
		}
	}
	g := &guest{root: root, opts: opts, bootKernel: opts.HostKernel}
	if opts.Domain != nil {
		if g.bootKernel == "" {
			g.bootKernel = opts.Domain.Kernel()
		}
		g.vcpus = opts.Domain.VCPUs()
		if a, ok := opts.Domain.Get("extra"); ok && a.Value.Kind == StringValue {
			g.cmdline, g.cmdlineFrom = strings.Fields(a.Value.Str), fmt.Sprintf("%s line %d extra", opts.Domain.Name, a.Line)
		}
	}
	var err error
	if g.kernels, err = g.installedKernels(); err != nil {
		return nil, nil, err
	}
	if g.init, g.initWhy, err = g.initSystem(); err != nil {
		return nil, nil, err
	}
	if b, ok := opts.Domain.bootloader(); ok && g.bootKernel == "" {
		pb := g.pygrub(b)
		// pygrub hands the kernel its entry's arguments, not extra
		// (nil: unknown).
		g.boot, g.bootKernel = &pb, pb.kernel
		g.cmdline, g.cmdlineFrom = pb.args, pb.argsFrom
	}
	return g, rules, nil
}

func (g *guest) note(format string, args ...any) {
	g.notes = append(g.notes, fmt.Sprintf(format, args...))
}

func (g *guest) now() time.Time {
	if g.opts.Now.IsZero() {
		return time.Now()
	}
	return g.opts.Now
}

func finding(rule, subject string, sev Severity, format string, args ...any) Finding {
	id := rule
	if subject != "" {
		id += "/" + subject
	}
	return Finding{ID: id, Severity: sev, Evidence: fmt.Sprintf(format, args...), Rule: rule}
}

func sortedUnique(list []string) []string {
	sort.Strings(list)
	out := list[:0]
	for i, s := range list {
		if i == 0 || s != list[i-1] {
			out = append(out, s)
		}
	}
	return out
}
