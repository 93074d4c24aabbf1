package guestfix

import (
	"bytes"
	"io/fs"
	"slices"
	"strings"

	"github.com/xsrescue/xsrescue/plan"
)

const (
	securetty = "etc/securetty"
	inittab   = "etc/inittab"
)

// ConsoleArgs are the kernel arguments that put a xenU kernel's console on
// the serial line the guest's agetty serves.
var ConsoleArgs = []string{"xencons=ttyS", "console=ttyS0"}

// initSystem tells SysV init from upstart and systemd, which do not start
// gettys from etc/inittab.
func (g *guest) initSystem() (kind, why string, err error) {
	if fi, err := g.root.Lstat("sbin/init"); err == nil && fi.Mode().Type() == fs.ModeSymlink {
		link, err := g.root.Readlink("sbin/init")
		if err != nil {
			return "", "", err
		}
		if strings.Contains(link, "systemd") {
			return "systemd", "sbin/init -> " + link, nil
		}
	}
	tab, err := g.exists(inittab)
	if err != nil {
		return "", "", err
	}
	for _, p := range []string{"usr/lib/systemd/systemd", "lib/systemd/systemd"} {
		if ok, err := g.exists(p); err != nil || ok && !tab {
			return "systemd", p + " and no " + inittab, err
		}
	}
	initctl, err := g.exists("sbin/initctl")
	if err != nil {
		return "", "", err
	}
	if ents, err := g.list("etc/init"); err != nil || initctl && len(ents) > 0 {
		return "upstart", "sbin/initctl and etc/init/", err
	}
	return "sysv", "", nil
}

// serialConsole: a xenU kernel's console is the Xen console, seen inside the
// guest as ttyS0 once the host passes xencons=ttyS; without a getty there
// and ttyS0 in securetty nobody can log in on it.
func (g *guest) serialConsole() (outcome, error) {
	const rule = "serial-console"
	var o outcome
	data, _, ok, err := g.read(securetty)
	switch {
	case o.refuse(securetty, err):
	case err != nil:
		return o, err
	case !ok:
		o.findings = append(o.findings, finding(rule, "securetty", OK, "no %s: pam_securetty lets root log in on every tty", securetty))
	case hasLine(data, "ttyS0"):
		o.findings = append(o.findings, finding(rule, "securetty", OK, "%s lists ttyS0", securetty))
	default:
		o.findings = append(o.findings, fixing(finding(rule, "securetty", Warn, "%s lacks ttyS0: root cannot log in on the Xen console", securetty)))
		o.changes = append(o.changes, plan.Change{Kind: plan.Write, Path: securetty, Content: appendLine(data, "ttyS0"), Why: "let root log in on the serial console"})
	}

	f, change, err := g.inittabGetty()
	switch {
	case o.refuse(inittab, err):
	case err != nil:
		return o, err
	default:
		o.findings = append(o.findings, f)
		if change != nil {
			o.changes = append(o.changes, *change)
		}
	}

	if g.opts.Domain == nil {
		g.note("serial-console: host side (%s in extra) not checked: no --domain-config", strings.Join(ConsoleArgs, " "))
		return o, nil
	}
	f, o.domain, err = g.domainConsole()
	o.findings = append(o.findings, f)
	return o, err
}

func (g *guest) inittabGetty() (Finding, *plan.Change, error) {
	const rule, subject = "serial-console", "inittab"
	if g.init != "sysv" {
		g.note("serial-console: %s root (%s): the inittab check is skipped; its serial getty is configured by %s", g.init, g.initWhy, g.init)
		return finding(rule, subject, OK, "skipped: %s root (%s) does not start gettys from %s", g.init, g.initWhy, inittab), nil, nil
	}
	data, shown, ok, err := g.read(inittab)
	if err != nil {
		return Finding{}, nil, err
	}
	if !ok {
		return finding(rule, subject, Broken, "no %s on a SysV init root: init has no runlevel and starts no getty", inittab), nil, nil
	}
	t, err := ParseInittab(bytes.NewReader(data), shown)
	if err != nil {
		return Finding{}, nil, err
	}
	if e, ok := t.GettyOn("ttyS0"); ok {
		return finding(rule, subject, OK, "%s line %d runs a getty on ttyS0 (%s)", inittab, e.Line, e.Process), nil, nil
	}
	if e, ok := t.Entry("S0"); ok {
		return finding(rule, subject, Warn, "%s has no getty on ttyS0, and id S0 is taken by line %d (%s): add one by hand", inittab, e.Line, e.Process), nil, nil
	}
	at := t.InsertBefore("1", SerialGetty)
	return fixing(finding(rule, subject, Warn, "%s has no getty on ttyS0: no login on the Xen console", inittab)),
		&plan.Change{Kind: plan.Write, Path: inittab, Content: t.Bytes(), Why: "agetty on ttyS0 (new line " + itoa(at) + ")"}, nil
}

func (g *guest) domainConsole() (Finding, []byte, error) {
	const rule, subject = "serial-console", "domain-config"
	c := g.opts.Domain
	a, ok := c.Get("extra")
	if ok && a.Value.Kind != StringValue {
		return finding(rule, subject, Warn, "%s line %d: extra is %s, not a string literal: add %s by hand", c.Name, a.Line, a.Value.Raw, strings.Join(ConsoleArgs, " ")), nil, nil
	}
	var missing []string
	for _, t := range ConsoleArgs {
		if !ok || !slices.Contains(strings.Fields(a.Value.Str), t) {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return finding(rule, subject, OK, "%s line %d: extra has %s", c.Name, a.Line, strings.Join(ConsoleArgs, " ")), nil, nil
	}
	where := "no extra line"
	if ok {
		where = "extra on line " + itoa(a.Line) + " lacks " + strings.Join(missing, " ")
	}
	out, err := c.WithExtraTokens(ConsoleArgs)
	if err != nil {
		return Finding{}, nil, err
	}
	return fixing(finding(rule, subject, Warn, "%s: %s: the guest kernel's console is not on ttyS0", c.Name, where)), out, nil
}
