package guestfix

import (
	"github.com/xsrescue/xsrescue/plan"
	"slices"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/internal/lazyre"
)

func itoa(n int) string { return strconv.Itoa(n) }

// installedKernels lists boot/vmlinuz-* and lib/modules/*.
func (g *guest) installedKernels() (Kernels, error) {
	k := Kernels{Boot: []string{}, Modules: []string{}}
	boot, err := g.list("boot")
	if err != nil {
		return k, err
	}
	for _, e := range boot {
		if v, ok := strings.CutPrefix(e.Name(), "vmlinuz-"); ok && v != "" {
			k.Boot = append(k.Boot, v)
		}
	}
	mods, err := g.list("lib/modules")
	if err != nil {
		return k, err
	}
	for _, e := range mods {
		if e.IsDir() {
			k.Modules = append(k.Modules, e.Name())
		}
	}
	k.Boot, k.Modules = sortedUnique(k.Boot), sortedUnique(k.Modules)
	return k, nil
}

// kernelRelease splits a Red Hat kernel release into version-release and
// flavour: 2.6.9-55.ELxenU -> 2.6.9-55.EL, xenU; 2.6.18-8.el5xen -> 2.6.18-8.el5, xen.
var kernelRelease = lazyre.New(`^(.+\.(?:EL|el[0-9]+(?:_[0-9]+)?))([A-Za-z]*)$`)

// KernelPackage is the RPM that installs the modules of a kernel release:
// 2.6.9-55.ELxenU -> kernel-xenU-2.6.9-55.EL.
func KernelPackage(release string) string {
	m := kernelRelease().FindStringSubmatch(release)
	if m == nil {
		return "kernel-" + release
	}
	if m[2] == "" {
		return "kernel-" + m[1]
	}
	return "kernel-" + m[2] + "-" + m[1]
}

// hostKernel: the host (dom0) boots the domU's kernel from its own disk; the
// guest must still have that kernel's modules, which a guest-side update
// removes with the old kernel package.
func (g *guest) hostKernel() (outcome, error) {
	const rule = "host-kernel"
	installed := "boot/ has " + listOrNone(g.kernels.Boot) + "; lib/modules/ has " + listOrNone(g.kernels.Modules)
	hk := g.bootKernel
	if pb := g.boot; pb != nil {
		var o outcome
		switch {
		case o.refuse(pb.errName, pb.err):
			return o, nil
		case pb.err != nil:
			return o, pb.err
		}
		o.findings = []Finding{pb.finding}
		o.findings[0].Evidence += "; " + installed
		if pb.change != nil {
			o.changes = []plan.Change{*pb.change}
		}
		return o, nil
	}
	if hk == "" {
		return outcome{findings: []Finding{finding(rule, "", Warn,
			"host kernel unknown (give --host-kernel or a --domain-config with kernel=): %s", installed)}}, nil
	}
	if slices.Contains(g.kernels.Modules, hk) {
		return outcome{findings: []Finding{finding(rule, "", OK,
			"lib/modules/%s exists; %s; keep %s installed", hk, installed, KernelPackage(hk))}}, nil
	}
	return outcome{findings: []Finding{finding(rule, "", Broken,
		"the host boots %s but lib/modules/%s is missing (%s): reinstall %s in the guest, or point the host at a kernel the guest has modules for",
		hk, hk, installed, KernelPackage(hk))}}, nil
}

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}
