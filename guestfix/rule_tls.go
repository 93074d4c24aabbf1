package guestfix

import "github.com/xsrescue/xsrescue/plan"

// tls: glibc's lib/tls libraries use segment tricks that Xen paravirtual
// guests must emulate (the "4gb seg fixup" messages); a glibc update puts
// the directory back, so it is renamed out of the way, as Xen's guides say.
func (g *guest) tls() (outcome, error) {
	const rule, dir, off = "tls", "lib/tls", "lib/tls.disabled"
	here, err := g.exists(dir)
	if err != nil || !here {
		return outcome{findings: []Finding{finding(rule, "", OK, "%s is absent", dir)}}, err
	}
	f := fixing(finding(rule, "", Warn, "%s exists: glibc's TLS libraries run slowly under Xen (4gb seg fixup); rename it to %s", dir, off))
	var changes []plan.Change
	busy, err := g.exists(off)
	if err != nil {
		return outcome{}, err
	}
	if busy {
		// Never overwrite an earlier disabled copy: move it to the first free
		// .old name.
		old := off + ".old"
		for n := 1; ; n++ {
			taken, err := g.exists(old)
			if err != nil {
				return outcome{}, err
			}
			if !taken {
				break
			}
			old = off + ".old." + itoa(n)
		}
		// One op changes each path once, so lib/tls follows in a second op.
		f.Evidence += "; the existing " + off + " becomes " + old + " first"
		return outcome{findings: []Finding{f}, again: true, changes: []plan.Change{{
			Kind: plan.Rename, Path: off, NewPath: old, Why: "keep the earlier disabled lib/tls (lib/tls follows in a second op)",
		}}}, nil
	}
	changes = append(changes, plan.Change{Kind: plan.Rename, Path: dir, NewPath: off, Why: "disable lib/tls inside a Xen guest"})
	return outcome{findings: []Finding{f}, changes: changes}, nil
}
