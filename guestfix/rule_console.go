package guestfix

import (
	"bytes"
	"fmt"
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
	st, err := g.readSecuretty()
	switch {
	case o.refuse(securetty, err):
	case err != nil:
		return o, err
	case st.absent != "":
		o.findings = append(o.findings, finding(rule, "securetty", OK, "%s: pam_securetty's stat() fails, so it lets root log in on every tty", st.absent))
	case st.mode.Perm()&0o002 != 0:
		// pam_securetty: "is either world writable or not a normal
		// file" -> PAM_AUTH_ERR, whatever the file lists.
		o.findings = append(o.findings, finding(rule, "securetty", Broken, "%s is world-writable (mode %04o): pam_securetty then refuses root on every tty; chmod o-w it by hand", st.shown, st.mode.Perm()))
	default:
		o.secureTTY(st)
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

// secureTTY checks etc/securetty as pam_securetty reads it (SecureTTY): a
// line that is ttyS0 only after trimming does not let root in, which is
// worse than no line at all — someone meant to allow it.
func (o *outcome) secureTTY(st securettyFile) {
	const rule = "serial-console"
	ok, near := SecureTTY(st.data, "ttyS0")
	var f Finding
	switch {
	case ok:
		o.findings = append(o.findings, finding(rule, "securetty", OK, "%s lists ttyS0", st.shown))
		return
	case near != "":
		f = finding(rule, "securetty", Broken,
			"%s %s: pam_securetty compares each line exactly (only the newline is removed), so it does not match ttyS0 and root cannot log in on the Xen console", st.shown, near)
	default:
		f = finding(rule, "securetty", Warn, "%s lacks ttyS0: root cannot log in on the Xen console", st.shown)
	}
	if st.path == "" {
		f.Evidence += fmt.Sprintf("; add an exact ttyS0 line to %s by hand (not edited through a symlink to a file of another name)", st.resolved)
		o.findings = append(o.findings, f)
		return
	}
	o.findings = append(o.findings, fixing(f))
	o.changes = append(o.changes, plan.Change{Kind: plan.Write, Path: st.path, Content: appendLine(st.data, "ttyS0"), Why: "let root log in on the serial console: an exact ttyS0 line"})
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
	lvl, why, known := g.runlevel(t)
	gettys := t.GettiesOn("ttyS0")
	for _, e := range gettys {
		if !known {
			return finding(rule, subject, Warn, "%s line %d runs a getty on ttyS0 in runlevels %s, but the runlevel the guest boots into is unknown: %s", inittab, e.Line, e.Levels(), why), nil, nil
		}
		if strings.IndexByte(e.Levels(), lvl) >= 0 {
			return finding(rule, subject, OK, "%s line %d runs a getty on ttyS0 in runlevels %s, which include %c, the runlevel the guest boots into (%s)", inittab, e.Line, e.Levels(), lvl, why), nil, nil
		}
	}
	if known && !loginLevel(lvl) {
		return finding(rule, subject, Warn, "the guest boots into runlevel %c (%s), where no getty runs: check %s by hand", lvl, why, inittab), nil, nil
	}
	if len(gettys) > 0 {
		// The getty is there, in the wrong runlevels: add the boot level
		// (and the usual multi-user levels) to the first one.
		e := gettys[0]
		levels := withLevels(e.Runlevels, "2345"+string(lvl))
		t.SetRunlevels(e.Line, levels)
		return fixing(finding(rule, subject, Broken, "%s line %d runs a getty on ttyS0 only in runlevels %s, but the guest boots into runlevel %c (%s): no login on the Xen console", inittab, e.Line, e.Levels(), lvl, why)),
			&plan.Change{Kind: plan.Write, Path: inittab, Content: t.Bytes(), Why: "agetty on ttyS0 in runlevels " + levels + " (line " + itoa(e.Line) + ")"}, nil
	}
	if e, ok := t.Entry("S0"); ok {
		return finding(rule, subject, Warn, "%s has no getty on ttyS0, and id S0 is taken by line %d (%s): add one by hand", inittab, e.Line, e.Process), nil, nil
	}
	line := SerialGetty
	if known {
		line = strings.Replace(SerialGetty, ":2345:", ":"+withLevels("2345", string(lvl))+":", 1)
	}
	at := t.InsertBefore("1", line)
	return fixing(finding(rule, subject, Warn, "%s has no getty on ttyS0: no login on the Xen console", inittab)),
		&plan.Change{Kind: plan.Write, Path: inittab, Content: t.Bytes(), Why: "agetty on ttyS0 (new line " + itoa(at) + ")"}, nil
}

// runlevel is the runlevel init enters at boot: the kernel command line's
// (CmdlineRunlevel), else initdefault's (DefaultRunlevel); why says where
// it comes from, or, when known is false, why it is unknown.
func (g *guest) runlevel(t *Inittab) (lvl byte, why string, known bool) {
	if lvl, ok := CmdlineRunlevel(g.cmdline); ok {
		return lvl, "from " + g.cmdlineFrom + ", which overrides initdefault", true
	}
	lvl, e, ok := t.DefaultRunlevel()
	switch {
	case ok && g.boot != nil && g.cmdline == nil:
		return lvl, fmt.Sprintf("from %s line %d %s:%s:%s:%s, unless the kernel arguments pygrub passes, unknown here, name a runlevel", inittab, e.Line, e.ID, e.Runlevels, e.Action, e.Process), true
	case ok:
		return lvl, fmt.Sprintf("from %s line %d %s:%s:%s:%s", inittab, e.Line, e.ID, e.Runlevels, e.Action, e.Process), true
	case e.Line > 0:
		return 0, fmt.Sprintf("%s line %d: initdefault level %q is not 0-9 or S, so init asks for a runlevel on the console", inittab, e.Line, lvl), false
	}
	return 0, "no initdefault entry in " + inittab + ": init asks for a runlevel on the console", false
}

// loginLevel: the runlevels a guest offers logins in: not halt (0),
// reboot (6) or single user (S, and 1, which Red Hat's rc ends in S).
func loginLevel(lvl byte) bool { return lvl >= '2' && lvl <= '9' && lvl != '6' }

// withLevels is the runlevels field levels with more added, in the order
// S, 0-9 (duplicates dropped).
func withLevels(levels, more string) string {
	var b strings.Builder
	for _, c := range []byte("sS0123456789") {
		if strings.IndexByte(levels, c) >= 0 || strings.IndexByte(more, c) >= 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
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
