package versionfile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/target"
)

// SetRequest is what `version set` was asked to do.
type SetRequest struct {
	To           string // VERSION[-BUILD]; empty: chosen for ForInstaller
	Platform     string // PLATFORM_VERSION; empty: from the release table, else kept
	ForInstaller string // an installer version whose acceptance the result must meet
	// AllowRaise permits writing a version newer than the installed one.
	// Without it PlanSet refuses: the tool exists to make an older
	// installer accept a newer system, and a faked newer version hides
	// the system from the checks written for what it really is.
	AllowRaise bool
}

// SetPlan is a planned marker rewrite with the reasons for its values.
type SetPlan struct {
	Plan      *journal.Plan
	Before    *Inventory
	After     *Inventory
	Values    map[string]string // the inventory keys set, with their new values
	Explain   []string          // why each value was chosen, what was left alone
	Installer *Installer        // from ForInstaller
}

// PlanSet reads root and plans a consistent rewrite of every marker:
// PRODUCT_VERSION, PRODUCT_VERSION_TEXT(_SHORT), BUILD_NUMBER,
// PLATFORM_VERSION in the inventory, the *-release files, os-release and
// issue. It refuses (exit 2) a version that is not dotted numbers, and
// (exit 3) a result the installer would skip.
func PlanSet(root *target.Root, req SetRequest) (*SetPlan, error) {
	before, err := ReadInventory(root)
	if err != nil {
		return nil, err
	}
	sp := &SetPlan{Before: before, After: before.Clone(), Values: map[string]string{}}
	if req.ForInstaller != "" {
		in, err := LookupInstaller(req.ForInstaller)
		if err != nil {
			return nil, xerr.Invalidf("--for-installer: %w", err)
		}
		sp.Installer = &in
	}
	ver, build, err := sp.chooseVersion(req)
	if err != nil {
		return nil, err
	}
	rel, known := release.Lookup(ver)
	if build == "" {
		switch {
		case known && rel.Build != "":
			build = rel.Build
			sp.explain("BUILD_NUMBER %s: a real build of %s (release table); %s", build, rel.Name, sp.buildRole())
		default:
			build = before.Value("BUILD_NUMBER")
			sp.explain("BUILD_NUMBER kept (%q): no build known for %s; %s", build, ver, sp.buildRole())
		}
	}
	platform, err := sp.choosePlatform(req, ver, rel, known)
	if err != nil {
		return nil, err
	}
	if err := sp.checkDirection(req, ver, platform); err != nil {
		return nil, err
	}
	if err := sp.setInventory(ver, build, platform); err != nil {
		return nil, err
	}
	if err := sp.check(); err != nil {
		return nil, err
	}
	sp.Plan = &journal.Plan{Command: "version set"}
	if newInv := sp.After.Bytes(); string(newInv) != string(before.Bytes()) {
		sp.Plan.Changes = append(sp.Plan.Changes, journal.Change{Kind: journal.Write, Path: InventoryPath, Content: newInv,
			Why: fmt.Sprintf("inventory: %s", describeValues(sp.Values))})
	}
	sp.planMarkers(root, ver, build)
	return sp, nil
}

// buildRole says what installers do with BUILD_NUMBER, in the words of the
// generation table's "how sure" notes: the 6.0-6.2 installers compare
// PRODUCT_VERSION-BUILD_NUMBER, and whether the build counts is unverified.
func (sp *SetPlan) buildRole() string {
	const unsure = "the 6.0-6.2 installers compare PRODUCT_VERSION-BUILD_NUMBER and whether the build takes part is unverified"
	switch {
	case sp.Installer == nil:
		return unsure + "; other installers ignore it"
	case sp.Installer.Generation.Era == gen2013.Era:
		return unsure + ": if the installer refuses, give --to VERSION-BUILD with the build of that installer's release"
	default:
		return fmt.Sprintf("the %s installer ignores it", sp.Installer.Release.Product)
	}
}

func (sp *SetPlan) explain(format string, args ...any) {
	sp.Explain = append(sp.Explain, fmt.Sprintf(format, args...))
}

// chooseVersion returns the product version and build to write.
func (sp *SetPlan) chooseVersion(req SetRequest) (string, string, error) {
	if req.To != "" {
		ver, build, hasBuild := strings.Cut(req.To, "-")
		if _, err := release.ParseVersion(ver); err != nil {
			return "", "", xerr.Invalidf("--to %q: the version must be dotted numbers such as 5.0.0 (optionally -BUILD): %v", req.To, err)
		}
		if hasBuild && (build == "" || CheckValue(build) != nil || strings.ContainsAny(build, " ()")) {
			return "", "", xerr.Invalidf("--to %q: build %q must be non-empty, without spaces, quotes or parentheses", req.To, build)
		}
		return ver, build, nil
	}
	in := sp.Installer
	if in == nil {
		return "", "", xerr.Invalidf("give --to VERSION[-BUILD] or --for-installer VERSION")
	}
	// The release the installer itself ships is the natural choice; the 5.6
	// installer refuses its own version, so fall back to the newest release
	// it accepts.
	var pick *release.Release
	for _, r := range release.All() {
		val := r.Product
		if in.Generation.Key == "PLATFORM_VERSION" {
			val = r.Platform
		}
		if ok, _ := in.Accepts(val); ok && val != "" {
			if pick == nil || r.Product == in.Release.Product || pick.Product != in.Release.Product {
				pick = &r
			}
		}
	}
	if pick == nil {
		return "", "", xerr.Refusedf("no release in the table is accepted by the %s installer", in.Release.Product)
	}
	sp.explain("PRODUCT_VERSION %s (%s): the %s installer compares %s and accepts %s", pick.Product, pick.Name, in.Release.Product, in.Generation.Key, in.RangeText())
	return pick.Product, "", nil
}

func (sp *SetPlan) choosePlatform(req SetRequest, ver string, rel release.Release, known bool) (string, error) {
	old := sp.Before.Value("PLATFORM_VERSION")
	switch {
	case req.Platform != "":
		if _, err := release.ParseVersion(req.Platform); err != nil {
			return "", xerr.Invalidf("--platform-version %q: must be dotted numbers such as 2.1.0: %v", req.Platform, err)
		}
		sp.explain("PLATFORM_VERSION %s: given with --platform-version", req.Platform)
		return req.Platform, nil
	case known && rel.Platform != "":
		sp.explain("PLATFORM_VERSION %s: the platform version of %s (release table)", rel.Platform, rel.Name)
		return rel.Platform, nil
	case release.Compare(dotted(ver), dotted("7.0")) >= 0:
		shown := old
		if shown == "" {
			shown = "none"
		}
		return "", xerr.Invalidf("--to %s: the release table has no PLATFORM_VERSION for this version, and every 7.0+ installer compares PLATFORM_VERSION, not PRODUCT_VERSION (installed: %s): give --platform-version too, or use --for-installer VERSION", ver, shown)
	case old != "":
		sp.explain("PLATFORM_VERSION kept (%s): the release table has none for this version; installers before 7.0 compare PRODUCT_VERSION, and every 7.0+ installer still compares PLATFORM_VERSION %s", old, old)
		return old, nil
	default:
		return "", nil
	}
}

// checkDirection refuses (exit 3) a version above the installed one unless
// req.AllowRaise, and, whatever the flags, a system the chosen installer
// rejects as too old: the installers' lower bounds are deliberate ("Prevent
// upgrades from versions of XS prior to 7", xenserver.md §3.2), so faking
// past them hands an unsupported upgrade to an installer not written for
// that system.
func (sp *SetPlan) checkDirection(req SetRequest, ver, platform string) error {
	b := sp.Before
	if in := sp.Installer; in != nil {
		have := b.Value(in.Generation.Key)
		if have == "" && in.Generation.Key == "PLATFORM_VERSION" {
			if rel, ok := release.Lookup(b.Value("PRODUCT_VERSION")); ok {
				have = rel.Platform
			}
		}
		v, err := release.ParseVersion(have)
		if have == "" || err != nil || release.Compare(v, in.Generation.Min) < 0 {
			shown := have
			if shown == "" {
				shown = "none"
			}
			return xerr.Refusedf("refusing: the installed system (PRODUCT_VERSION %s, %s %s) is below the %s installer's lower bound %s (%s): that installer does not upgrade a system this old, and faking a newer version would hide it from the checks; use an installer of a release that upgrades %s",
				b.Value("PRODUCT_VERSION"), in.Generation.Key, shown, in.Release.Product, in.Generation.Min, in.Generation.Era, b.Value("PRODUCT_VERSION"))
		}
	}
	if req.AllowRaise {
		return nil
	}
	raised := func(key, old, nv string) error {
		o, err1 := release.ParseVersion(old)
		n, err2 := release.ParseVersion(nv)
		if err1 != nil || err2 != nil || release.Compare(n, o) <= 0 {
			return nil
		}
		return xerr.Refusedf("refusing: %s %s is newer than the installed %s: version set makes an older installer accept a newer system, not the reverse (give --allow-raise to do it anyway)", key, nv, old)
	}
	if err := raised("PRODUCT_VERSION", b.Value("PRODUCT_VERSION"), ver); err != nil {
		return err
	}
	// A PLATFORM_VERSION added where there was none (6.1, 6.2 wrote
	// none) is judged by PRODUCT_VERSION above.
	return raised("PLATFORM_VERSION", b.Value("PLATFORM_VERSION"), platform)
}

func (sp *SetPlan) setInventory(ver, build, platform string) error {
	b, a := sp.Before, sp.After
	set := func(k, val string) error {
		if err := a.Set(k, val); err != nil {
			return xerr.Invalid(err)
		}
		if b.Value(k) != val {
			sp.Values[k] = val
		}
		return nil
	}
	if err := set("PRODUCT_VERSION", ver); err != nil {
		return err
	}
	for _, k := range []string{"PRODUCT_VERSION_TEXT", "PRODUCT_VERSION_TEXT_SHORT"} {
		if old, ok := b.Get(k); ok {
			if err := set(k, versionText(old, b.Value("PRODUCT_VERSION"), ver)); err != nil {
				return err
			}
		}
	}
	if _, ok := b.Get("BUILD_NUMBER"); ok || build != "" {
		if err := set("BUILD_NUMBER", build); err != nil {
			return err
		}
	}
	if platform != "" {
		if err := set("PLATFORM_VERSION", platform); err != nil {
			return err
		}
	}
	return nil
}

// versionText maps a PRODUCT_VERSION_TEXT to the new version in the same
// style: the full version where it was the full version, else major.minor.
func versionText(oldText, oldVer, newVer string) string {
	if oldText == oldVer {
		return newVer
	}
	return shortVersion(newVer)
}

// shortVersion is "5.5" for 5.5.0 and "8.2.1" for 8.2.1.
func shortVersion(ver string) string {
	parts := strings.Split(ver, ".")
	for len(parts) > 2 && parts[len(parts)-1] == "0" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, ".")
}

// check refuses (exit 3) a result the installer would skip: a required
// key lost, or, with --for-installer, values that installer rejects.
func (sp *SetPlan) check() error {
	required := slices.Concat(requiredPlatform, requiredProduct)
	had := MissingKeys(sp.Before, required)
	for _, k := range MissingKeys(sp.After, required) {
		if !slices.Contains(had, k) {
			return xerr.Refusedf("refusing: the change would remove %s from etc/xensource-inventory and the installer would skip the disk", k)
		}
	}
	if sp.Installer == nil {
		return nil
	}
	st := &State{Inventory: sp.After, Firstboot: Gate{OK: true}}
	vd := st.Verdict(*sp.Installer)
	for _, g := range vd.Gates {
		if !g.OK && g.Name != "firstboot" {
			return xerr.Refusedf("refusing: with these values the %s installer would not offer Upgrade: %s (rule: %s)", sp.Installer.Release.Product, g.Reason, vd.Rule)
		}
	}
	sp.explain("the %s installer would accept the result: %s", sp.Installer.Release.Product, vd.Gates[0].Reason)
	return nil
}

func describeValues(vals map[string]string) string {
	var s []string
	for _, k := range []string{"PRODUCT_VERSION", "PRODUCT_VERSION_TEXT", "PRODUCT_VERSION_TEXT_SHORT", "BUILD_NUMBER", "PLATFORM_VERSION"} {
		if v, ok := vals[k]; ok {
			s = append(s, fmt.Sprintf("%s=%s", k, v))
		}
	}
	if len(s) == 0 {
		return "unchanged"
	}
	return strings.Join(s, " ")
}

// planMarkers rewrites each marker file once, at its resolved path inside
// the root (7.x: redhat-release and system-release are links to
// centos-release).
func (sp *SetPlan) planMarkers(root *target.Root, ver, build string) {
	b := sp.Before
	repl := map[string]string{}
	add := func(old, nv string) {
		if old == "" || nv == "" || old == nv {
			return
		}
		if _, taken := repl[old]; !taken {
			repl[old] = nv
		}
	}
	oldVer, oldBuild := b.Value("PRODUCT_VERSION"), b.Value("BUILD_NUMBER")
	if oldBuild != "" && build != "" {
		add(oldVer+"-"+oldBuild, ver+"-"+build)
	}
	add(oldVer, ver)
	for _, k := range []string{"PRODUCT_VERSION_TEXT", "PRODUCT_VERSION_TEXT_SHORT"} {
		add(b.Value(k), sp.After.Value(k))
	}
	add(shortVersion(oldVer), shortVersion(ver))
	add(b.Value("PLATFORM_VERSION"), sp.After.Value("PLATFORM_VERSION"))
	// A version text that is more than a version ("8.2 CU1") is replaced
	// as a phrase; a bare "8.2" in free text could be anything.
	phrases := map[string]string{}
	for _, k := range []string{"PRODUCT_VERSION_TEXT", "PRODUCT_VERSION_TEXT_SHORT"} {
		if old := b.Value(k); strings.Contains(old, " ") {
			phrases[old] = sp.After.Value(k)
		}
	}

	done := map[string]bool{}
	for _, p := range MarkerPaths {
		m, data, ok := readMarker(root, p)
		key := m.Resolved
		if key == "" {
			key = p
		}
		if !ok || done[key] {
			continue
		}
		done[key] = true
		if data == nil {
			sp.explain("%s left alone: %s", p, m.Problem)
			continue
		}
		where := p
		if m.Resolved != p {
			where = fmt.Sprintf("%s (-> %s)", p, m.Resolved)
		}
		var out []byte
		switch p {
		case "etc/os-release", "etc/issue":
			if m.Problem == "" && !agrees(m, b) {
				// A stale hand edit: map its version too.
				add(m.ProductVersion, ver)
			}
			s, n := replacePhrases(string(data), phrases)
			s, m := substituteVersions(s, repl)
			n += m
			if n == 0 && len(repl) > 0 {
				sp.explain("%s left alone: it names none of the old versions", where)
				continue
			}
			if n == 0 {
				continue
			}
			out = []byte(s)
		default:
			var err error
			out, err = SetReleaseVersion(data, ver, build)
			if err != nil {
				sp.explain("%s left alone (%v): installers do not read it", where, err)
				continue
			}
			if m.ProductVersion != "" {
				add(m.ProductVersion, ver)
			}
		}
		if string(out) == string(data) {
			continue
		}
		sp.Plan.Changes = append(sp.Plan.Changes, journal.Change{Kind: journal.Write, Path: m.Resolved, Content: out,
			Why: fmt.Sprintf("%s: version %s", where, ver)})
	}
}

// replacePhrases replaces each old phrase by its new text and counts the
// replacements.
func replacePhrases(text string, phrases map[string]string) (string, int) {
	n := 0
	for old, nv := range phrases {
		n += strings.Count(text, old)
		text = strings.ReplaceAll(text, old, nv)
	}
	return text, n
}
