package versionfile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
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
	// MarkFirstbootDone writes the state files of firstboot scripts that
	// never ran (or the init-service markers), so that the firstboot gate
	// passes. Never a default: those scripts then never run.
	MarkFirstbootDone bool
	// MoveActiveFlag clears the DOS active flag of another partition (a
	// Dell utility partition) when the root needs it.
	MoveActiveFlag bool
	// Disk is the disk the root is on (--disk): the partition-table gate is
	// repaired there, on Device (absolute path).
	Disk   *DiskFacts
	Device string
}

// SetPlan is a planned marker rewrite with the reasons for its values.
type SetPlan struct {
	firstbootDone bool
	Plan          *plan.Plan
	Before        *Inventory
	After         *Inventory
	Values        map[string]string // the inventory keys set, with their new values
	Explain       []string          // why each value was chosen, what was left alone
	Installer     *Installer        // from ForInstaller
	// Repairs name, for each planned change, the installer gate it makes
	// pass; Remaining are the gates still failing (the firstboot gate
	// without MarkFirstbootDone) and Verdict the installer's verdict on
	// the result.
	Repairs   []Repair
	Remaining []Gate
	Verdict   *Verdict
	// state is the root as read; table the planned partition-table edit.
	state *State
	table *tableRepair
	// keep: the installer accepts the installed version; it is kept.
	keep bool
}

// Repair is one planned change and the gate it is for.
type Repair struct {
	Gate   string `json:"gate"`
	Change string `json:"change"`
}

// PlanSet reads root and plans a consistent rewrite of every marker:
// PRODUCT_VERSION, PRODUCT_VERSION_TEXT(_SHORT), BUILD_NUMBER,
// PLATFORM_VERSION in the inventory, the *-release files, os-release and
// issue. It refuses (exit 2) a version that is not dotted numbers, and
// (exit 3) a result the installer would skip.
func PlanSet(root *target.Root, req SetRequest) (*SetPlan, error) {
	st, err := Inspect(root)
	if err != nil {
		return nil, err
	}
	st.Disk = req.Disk
	if st.InventoryOutside != "" {
		// Writing the file the link names inside the root would change
		// nothing the installer reads.
		return nil, xerr.Refusedf("refusing: %s: the installer does not read the file xsrescue would change; replace the link by the file it names inside the root first (cp --remove-destination), then run this again; nothing was changed", st.InventoryOutside)
	}
	before := st.Inventory
	sp := &SetPlan{Before: before, After: before.Clone(), Values: map[string]string{}, state: st}
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
			if in := sp.Installer; in != nil && in.Generation.Class == ClassArcsBuild && isDigits(build) {
				// "6.2.0-70446" reads as 6.2.0 with a last arc "0-70446",
				// newer than 6.2.0: a letter makes the class split the build
				// off and ignore it.
				sp.explain("BUILD_NUMBER %sp, not %s: the %s installer's version class keeps a purely numeric build in the last arc, which makes %s-%s newer than %s; a build ending in a letter is read as a build and ignored (real builds end in one: %s)", build, build, in.Release.Product, ver, build, ver, "10918p, 70446c")
				build += "p"
				sp.repair(GateVersion, "BUILD_NUMBER ends in a letter")
			}
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
	if in := sp.Installer; in != nil && versionGate(*in, sp.Before).Status != StatusOK {
		// The version the installer compares is a repair of its own,
		// beside the table or key repairs the same plan may make.
		k := in.Generation.Key
		was := sp.Before.Value(k)
		if was == "" {
			was = "(absent)"
		}
		if now := sp.After.Value(k); now != sp.Before.Value(k) {
			sp.repair(GateVersion, fmt.Sprintf("%s %s -> %s", k, was, now))
		}
	}
	var created []plan.Change
	if sp.Installer != nil {
		if err := sp.addRequiredKeys(); err != nil {
			return nil, err
		}
		if err := sp.planTable(req); err != nil {
			return nil, err
		}
		if created, err = sp.planFirstboot(root, req.MarkFirstbootDone); err != nil {
			return nil, err
		}
	}
	if err := sp.check(); err != nil {
		return nil, err
	}
	sp.Plan = &plan.Plan{Command: "version set"}
	if newInv := sp.After.Bytes(); string(newInv) != string(before.Bytes()) {
		sp.Plan.Changes = append(sp.Plan.Changes, plan.Change{Kind: plan.Write, Path: InventoryPath, Content: newInv,
			Why: fmt.Sprintf("inventory: %s%s", describeValues(sp.Values), sp.gatesOf(InventoryPath))})
	}
	sp.planMarkers(root, ver, build)
	sp.Plan.Changes = append(sp.Plan.Changes, created...)
	if sp.table != nil {
		sp.Plan.Changes = append(sp.Plan.Changes, sp.table.change)
	}
	return sp, nil
}

// buildRole says what installers do with BUILD_NUMBER, in the words of the
// generation table's "how sure" notes: the 6.0-6.2 installers compare
// PRODUCT_VERSION-BUILD_NUMBER, and whether the build counts is unverified.
func (sp *SetPlan) buildRole() string {
	const quirk = "installers from 5.6 FP1 to 7.1 read a purely numeric build as part of the version, which makes it newer"
	switch {
	case sp.Installer == nil:
		return quirk + "; the others order versions without it"
	case sp.Installer.Generation.Class == ClassArcsBuild:
		return fmt.Sprintf("the %s installer reads a build ending in a letter as a build and ignores it, a purely numeric one as part of the version", sp.Installer.Release.Product)
	default:
		return fmt.Sprintf("the %s installer orders versions without it", sp.Installer.Release.Product)
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
	if in.Generation.NotPublic != "" {
		return "", "", xerr.Refusedf("refusing: the rules of the %s installer are unknown (%s): give --to VERSION and check the result yourself", in.Release.Product, in.Generation.NotPublic)
	}
	// A system the installer accepts already keeps its version: only its
	// other gates are repaired (choosing V's own release would make it
	// claim to be a release it is not, and be refused as a raise).
	if cur := sp.Before.Value("PRODUCT_VERSION"); cur != "" && versionGate(*in, sp.Before).Status == StatusOK {
		if _, err := release.ParseVersion(cur); err == nil {
			sp.keep = true
			sp.explain("PRODUCT_VERSION %s kept: the %s installer accepts the installed version already (%s)", cur, in.Release.Product, in.RangeText())
			return cur, sp.Before.Value("BUILD_NUMBER"), nil
		}
	}
	var pick *release.Release
	for _, r := range release.All() {
		val := r.Product
		if in.Generation.Key == "PLATFORM_VERSION" {
			val = r.Platform
		}
		if val == "" {
			continue
		}
		if ok, _ := in.compare(val, in.Generation.Key); ok {
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
	case sp.keep && req.Platform == "":
		return old, nil // "" stays absent
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
// upgrades from versions of XS prior to 7", host-installer 1e7c70f355f6), so faking
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
		if have == "" || err != nil || release.Compare(v, dotted(in.Generation.Min)) < 0 {
			if have == "" {
				have = "none"
			}
			// The key the installer compares, and PRODUCT_VERSION when
			// that is another one: each named once.
			shown := in.Generation.Key + " " + Shown(have)
			if in.Generation.Key != "PRODUCT_VERSION" {
				shown = "PRODUCT_VERSION " + Shown(b.Value("PRODUCT_VERSION")) + ", " + shown
			}
			return xerr.Refusedf("refusing: the installed system (%s) is below the %s installer's lower bound %s (%s): that installer does not upgrade a system this old, and faking a newer version would hide it from the checks; use an installer of a release that upgrades %s",
				shown, in.Release.Product, in.Generation.Min, in.Generation.Era, Shown(b.Value("PRODUCT_VERSION")))
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
// key lost, or, with --for-installer, a gate or a during-upgrade check that
// still fails (the firstboot gate excepted: it is repaired only on request,
// and otherwise reported in Remaining).
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
	st := sp.after()
	vd := st.Verdict(*sp.Installer)
	sp.Verdict = &vd
	var refuse []string
	for _, g := range append(append([]Gate{}, vd.Gates...), vd.DuringUpgrade...) {
		switch {
		case g.Status == StatusFail && g.Name == GateFirstboot:
			sp.Remaining = append(sp.Remaining, g)
		case g.Status == StatusFail, g.Status == StatusStops:
			refuse = append(refuse, g.Name+": "+g.Reason)
		case g.Status == StatusUnknown:
			sp.explain("%s: unknown after the change: %s", g.Name, g.Reason)
		}
	}
	if len(refuse) > 0 {
		return xerr.Refusedf("refusing: with this change the %s installer would still not get through: %s (rule: %s); nothing was changed", sp.Installer.Release.Product, strings.Join(refuse, "; "), vd.Rule)
	}
	for _, g := range vd.Gates {
		if g.Name == GateVersion {
			sp.explain("the %s installer would accept the result: %s", sp.Installer.Release.Product, g.Reason)
		}
	}
	return nil
}

// after is the root as it will be once the plan is applied.
func (sp *SetPlan) after() *State {
	st := *sp.state
	st.Inventory = sp.After
	if sp.table != nil {
		st.Disk = sp.table.after
	}
	if sp.firstbootDone {
		st.Firstboot.Missing = []string{}
		st.Firstboot.StateEntries = max(st.Firstboot.StateEntries, len(st.Firstboot.Scripts))
		st.Firstboot.RanNetworkInit, st.Firstboot.RanStorageInit = true, true
	}
	return &st
}

// describeValues lists the keys set, the version keys first, then the
// keys added for the installer (BACKUP_PARTITION, PRODUCT_NAME, ...).
func describeValues(vals map[string]string) string {
	var s []string
	first := []string{"PRODUCT_VERSION", "PRODUCT_VERSION_TEXT", "PRODUCT_VERSION_TEXT_SHORT", "BUILD_NUMBER", "PLATFORM_VERSION"}
	for _, k := range first {
		if v, ok := vals[k]; ok {
			s = append(s, fmt.Sprintf("%s=%s", k, v))
		}
	}
	var rest []string
	for k := range vals {
		if !slices.Contains(first, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		s = append(s, fmt.Sprintf("%s=%s", k, vals[k]))
	}
	if len(s) == 0 {
		// Called only when the bytes change: a key rewritten as KEY='value'.
		return "values unchanged, lines rewritten as KEY='value'"
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
		sp.Plan.Changes = append(sp.Plan.Changes, plan.Change{Kind: plan.Write, Path: m.Resolved, Content: out,
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

// Shown is s as messages show a value read from the disk: as it is, or
// Go-quoted when it holds a control character (a carriage return, which a
// terminal acts on), a quote (an inventory line 'X'\r keeps X'\r, which
// reads as a stray quote otherwise), invalid UTF-8 or a blank at either end.
func Shown(s string) string {
	if !utf8.ValidString(s) || strings.TrimSpace(s) != s || strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == '"' || r == '\''
	}) {
		return strconv.Quote(s)
	}
	return s
}
