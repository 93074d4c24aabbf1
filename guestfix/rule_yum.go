package guestfix

import (
	"bytes"
	"slices"
	"strings"

	"github.com/xsrescue/xsrescue/plan"
)

const yumConf = "etc/yum.conf"

// installOnly: yum removes old versions of any kernel package that is not
// install-only; kernel-xenU is not in yum's default list, so an update
// replaces the xenU kernel the host still boots, modules included.
func (g *guest) installOnly() (outcome, error) {
	const rule = "installonlypkgs"
	var o outcome
	data, shown, ok, err := g.read(yumConf)
	switch {
	case o.refuse(yumConf, err):
		return o, nil
	case err != nil:
		return o, err
	case !ok:
		return outcome{findings: []Finding{finding(rule, "", Warn, "no %s: yum is not installed or the root is incomplete", yumConf)}}, nil
	}
	c, err := ParseYumConf(bytes.NewReader(data), shown)
	switch {
	case o.refuse(yumConf, err):
		return o, nil
	case err != nil:
		return o, err
	}
	pkgs, line, present := c.InstallOnlyPkgs()
	var missing []string
	for _, p := range XenUInstallOnlyPkgs {
		if !slices.Contains(pkgs, p) {
			missing = append(missing, p)
		}
	}
	where := "yum's default installonlypkgs (no line in [main])"
	if present {
		where = "installonlypkgs on line " + itoa(line)
	}
	if len(missing) == 0 {
		return outcome{findings: []Finding{finding(rule, "", OK, "%s: %s includes %s", yumConf, where, strings.Join(XenUInstallOnlyPkgs, " "))}}, nil
	}
	f := fixing(finding(rule, "", Warn, "%s: %s lacks %s: the next yum update removes the xenU kernel the host boots", yumConf, where, strings.Join(missing, " ")))
	c.Set("main", "installonlypkgs", strings.Join(append(pkgs, missing...), " "))
	return outcome{findings: []Finding{f}, changes: []plan.Change{{
		Kind: plan.Write, Path: yumConf, Content: c.Bytes(),
		Why: "installonlypkgs: keep every " + strings.Join(missing, " "),
	}}}, nil
}
