package guestfix

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/internal/lazyre"
	"github.com/xsrescue/xsrescue/plan"
)

// VMServices cannot do their job in a paravirtual guest (no HAL hardware,
// no md arrays, no dm event monitoring) and fail health checks there.
var VMServices = []string{"haldaemon", "mdmonitor", "lvm2-monitor"}

// irqbalance spreads interrupts over CPUs; with one vCPU it has nothing to do.
const irqbalance = "irqbalance"

// RCLink is one S##name or K##name entry of an rc?.d directory.
type RCLink struct {
	Dir      string // etc/rc.d/rc3.d
	Name     string // S26haldaemon
	Start    bool   // S (start) or K (kill)
	Priority int    // 26
	Service  string // haldaemon
}

var rcLinkName = lazyre.New(`^([SK])([0-9]{2})(.+)$`)

// ParseRCLink splits an rc?.d entry name; ok is false for other names.
func ParseRCLink(dir, name string) (RCLink, bool) {
	m := rcLinkName().FindStringSubmatch(name)
	if m == nil {
		return RCLink{}, false
	}
	n, _ := strconv.Atoi(m[2])
	return RCLink{Dir: dir, Name: name, Start: m[1] == "S", Priority: n, Service: m[3]}, true
}

// chkconfigHeader is the "# chkconfig: 2345 26 74" line of an init script.
var chkconfigHeader = lazyre.New(`^#\s*chkconfig:\s*(\S+)\s+(-?[0-9]+)\s+(-?[0-9]+)`)

// stopPriority is the kill priority chkconfig gives the service's K links:
// the third number of its chkconfig header, else 100 minus the start
// priority (the convention the headers follow).
func (g *guest) stopPriority(l RCLink) (int, string, error) {
	script := "etc/rc.d/init.d/" + l.Service
	data, _, ok, err := g.read(script)
	if err != nil {
		return 0, "", err
	}
	if ok {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if m := chkconfigHeader().FindStringSubmatch(sc.Text()); m != nil {
				if n, err := strconv.Atoi(m[3]); err == nil && n >= 0 && n <= 99 {
					return n, script + " chkconfig header", nil
				}
			}
		}
	}
	return 100 - l.Priority, "100 - start priority", nil
}

// services: turning a service off offline is what `chkconfig --level 2345
// NAME off` does: its S##NAME links in rc2.d-rc5.d become K##NAME.
func (g *guest) services() (outcome, error) {
	const rule = "services"
	var o outcome
	names := append([]string(nil), VMServices...)
	switch {
	case g.vcpus == 1:
		names = append(names, irqbalance)
	case g.vcpus > 1:
		o.findings = append(o.findings, finding(rule, irqbalance, OK, "the guest has %d vCPUs: irqbalance has work to do", g.vcpus))
	}
	starts := map[string][]RCLink{}
	for level := 2; level <= 5; level++ {
		dir := fmt.Sprintf("etc/rc.d/rc%d.d", level)
		ents, err := g.list(dir)
		if err != nil {
			return o, err
		}
		for _, e := range ents {
			if l, ok := ParseRCLink(dir, e.Name()); ok && l.Start {
				starts[l.Service] = append(starts[l.Service], l)
			}
		}
	}
	if g.vcpus == 0 {
		if links := starts[irqbalance]; len(links) > 0 {
			o.findings = append(o.findings, finding(rule, irqbalance, Warn, "irqbalance starts (%s) and the vCPU count is unknown (give --domain-config): turn it off if the guest has one vCPU", linkList(links)))
		}
	}
	for _, name := range names {
		links := starts[name]
		if len(links) == 0 {
			o.findings = append(o.findings, finding(rule, name, OK, "%s is not started in runlevels 2-5", name))
			continue
		}
		why := "cannot work in a Xen guest"
		if name == irqbalance {
			why = "has nothing to balance on one vCPU"
		}
		o.findings = append(o.findings, fixing(finding(rule, name, Warn, "%s starts (%s) but %s", name, linkList(links), why)))
		for _, l := range links {
			c, err := g.turnOff(l)
			if o.refuse("etc/rc.d/init.d/"+l.Service, err) {
				break // every link of the service reads the same script
			}
			if err != nil {
				return o, err
			}
			o.changes = append(o.changes, c)
		}
	}
	return o, nil
}

func (g *guest) turnOff(l RCLink) (plan.Change, error) {
	stop, from, err := g.stopPriority(l)
	if err != nil {
		return plan.Change{}, err
	}
	from2 := l.Dir + "/" + l.Name
	to := fmt.Sprintf("%s/K%02d%s", l.Dir, stop, l.Service)
	taken, err := g.exists(to)
	if err != nil {
		return plan.Change{}, err
	}
	if taken {
		// A K link is already there: the S entry is only a leftover.
		kind := plan.RemoveSymlink
		if fi, err := g.root.Lstat(from2); err != nil {
			return plan.Change{}, err
		} else if fi.Mode().Type() != fs.ModeSymlink {
			kind = plan.Remove
		}
		return plan.Change{Kind: kind, Path: from2, Why: "chkconfig " + l.Service + " off (" + to + " exists)"}, nil
	}
	return plan.Change{Kind: plan.Rename, Path: from2, NewPath: to, Why: "chkconfig " + l.Service + " off (K" + fmt.Sprintf("%02d", stop) + " from " + from + ")"}, nil
}

func linkList(links []RCLink) string {
	s := make([]string, len(links))
	for i, l := range links {
		s[i] = strings.TrimPrefix(l.Dir, "etc/rc.d/") + "/" + l.Name
	}
	return strings.Join(s, ", ")
}
