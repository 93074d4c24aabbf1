package versionfile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xsrescue/xsrescue/release"
)

// Generation IDs, as in the JSON contract.
const (
	GenProductVersion  = "product-version"
	GenPlatformVersion = "platform-version"
)

// Generation is how one era of the host installer decides whether an
// existing install may be upgraded. The table is design/xenserver.md §3.2.
type Generation struct {
	ID       string          // GenProductVersion or GenPlatformVersion
	Era      string          // which installers, e.g. "XS 5.6 installer (2010)"
	Key      string          // the inventory key compared
	Min      release.Version // lower bound, inclusive
	MaxBelow bool            // upper bound is exclusive (the 5.6 installer)
	Source   string          // where the rule comes from
	Certain  string          // how sure that is
	// Required are the inventory keys that must be present and non-empty,
	// or the installer skips the install silently.
	Required []string
}

// requiredPlatform is what the 2016+ installer's readInventory and the later
// upgrade steps need (xenserver.md §3.1 step 3, rule 3).
var requiredPlatform = []string{"PLATFORM_VERSION", "PRODUCT_NAME", "PRODUCT_BRAND", "PRODUCT_VERSION", "PRODUCT_VERSION_TEXT",
	"INSTALLATION_UUID", "CONTROL_DOMAIN_UUID", "MANAGEMENT_INTERFACE", "PRIMARY_DISK"}

// requiredProduct is the same list for installers that compare
// PRODUCT_VERSION: XenServer 5.x wrote no PLATFORM_VERSION.
var requiredProduct = []string{"PRODUCT_NAME", "PRODUCT_BRAND", "PRODUCT_VERSION",
	"INSTALLATION_UUID", "CONTROL_DOMAIN_UUID", "MANAGEMENT_INTERFACE", "PRIMARY_DISK"}

var (
	// dotted parses a version constant of this file.
	dotted = func(s string) release.Version { x, _ := release.ParseVersion(s); return x }

	gen2008 = Generation{ID: GenProductVersion, Era: "XS 5.0/5.5 installer (2008 code)", Key: "PRODUCT_VERSION", Min: dotted("4.1.0"),
		Source:   "host-installer 7ee56bb058ed (xenserver.md §3.2)",
		Certain:  "partly verified: the 2008 code compares PRODUCT_VERSION, but a 2009 field report (5.5 to 5.0) has the 5.0 installer accept the disk after only etc/redhat-release was edited",
		Required: requiredProduct}
	gen2010 = Generation{ID: GenProductVersion, Era: "XS 5.6 installer (2010)", Key: "PRODUCT_VERSION", Min: dotted("5.5.0"), MaxBelow: true,
		Source:   "host-installer 4c7b5cfdd3be upgrade.py:55,130 (xenserver.md §3.2)",
		Certain:  "verified in the installer source",
		Required: requiredProduct}
	gen2013 = Generation{ID: GenProductVersion, Era: "XS 6.0-6.2 installer (2013)", Key: "PRODUCT_VERSION", Min: dotted("5.6.0"),
		Source:   "host-installer ab1a12040313 (xenserver.md §3.2)",
		Certain:  "verified in the installer source; it compares PRODUCT_VERSION-BUILD_NUMBER, and whether the build takes part in that comparison is unverified",
		Required: requiredProduct}
	gen2015 = Generation{ID: GenProductVersion, Era: "XS 6.5 installer (2015)", Key: "PRODUCT_VERSION", Min: dotted("6.0.0"),
		Source:   "host-installer, early 2015 (xenserver.md §3.2)",
		Certain:  "verified in the installer source",
		Required: requiredProduct}
	gen2016 = Generation{ID: GenPlatformVersion, Era: "XS 7.0-7.6 installer (2016)", Key: "PLATFORM_VERSION", Min: dotted("1.0.99"),
		Source:   "host-installer 75603e32e528 product.py:37, upgrade.py Upgrader.upgrades (xenserver.md §3.2)",
		Certain:  "verified in the installer source",
		Required: requiredPlatform}
	gen2018 = Generation{ID: GenPlatformVersion, Era: "8.x installer (2018-12 on, also XCP-ng)", Key: "PLATFORM_VERSION", Min: dotted("2.1.0"),
		Source:   "host-installer 1e7c70f \"Prevent upgrades from versions of XS prior to 7\", product.py:27-29, upgrade.py:42-47,247-251 (xenserver.md §3.2)",
		Certain:  "verified in the installer source",
		Required: requiredPlatform}
)

// GenerationOf returns the generation of the installer shipped with rel.
func GenerationOf(rel release.Release) Generation {
	p := dotted(rel.Product)
	switch {
	case release.Compare(p, dotted("5.6")) < 0:
		return gen2008
	case release.Compare(p, dotted("6.0")) < 0:
		return gen2010
	case release.Compare(p, dotted("6.5")) < 0:
		return gen2013
	case release.Compare(p, dotted("7.0")) < 0:
		return gen2015
	case release.Compare(p, dotted("8.0")) < 0:
		return gen2016
	default:
		return gen2018
	}
}

// Installer is one installer version with its rule.
type Installer struct {
	Release    release.Release
	Generation Generation
	Max        release.Version // the installer's own PRODUCT or PLATFORM version
}

// ErrUnknownInstaller is returned for an installer version the release
// table does not know (its PLATFORM_VERSION would be a guess).
var ErrUnknownInstaller = errors.New("unknown installer version")

// LookupInstaller finds the installer of a release ("5.0", "8.2.1", "ely").
func LookupInstaller(name string) (Installer, error) {
	rel, ok := release.Lookup(name)
	if !ok || !ruleKnown(rel) {
		return Installer{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownInstaller, name, knownProducts())
	}
	return installerOf(rel)
}

// ruleKnown: 4.x installers predate the code in xenserver.md §3.2, so
// their rule is unknown although the table names the release.
func ruleKnown(rel release.Release) bool {
	return release.Compare(dotted(rel.Product), dotted("5.0")) >= 0
}

func installerOf(rel release.Release) (Installer, error) {
	g := GenerationOf(rel)
	maxS := rel.Product
	if g.Key == "PLATFORM_VERSION" {
		maxS = rel.Platform
	}
	if maxS == "" {
		return Installer{}, fmt.Errorf("%w: %s has no known %s", ErrUnknownInstaller, rel.Name, g.Key)
	}
	return Installer{Release: rel, Generation: g, Max: dotted(maxS)}, nil
}

// Installers lists the installers whose rule is known, oldest first
// (XenServer 5.0 on; 4.x installers predate the code in xenserver.md §3.2).
func Installers() []Installer {
	var out []Installer
	for _, r := range release.All() {
		if !ruleKnown(r) {
			continue
		}
		if in, err := installerOf(r); err == nil {
			out = append(out, in)
		}
	}
	return out
}

func knownProducts() string {
	var s []string
	for _, in := range Installers() {
		s = append(s, in.Release.Product)
	}
	return strings.Join(s, ", ")
}

// RangeText is the accepted range, e.g. "[2.1.0, 3.2.0]".
func (in Installer) RangeText() string {
	closing := "]"
	if in.Generation.MaxBelow {
		closing = ")"
	}
	return fmt.Sprintf("[%s, %s%s", in.Generation.Min, in.Max, closing)
}

// Rule is the rule text of this installer, as shown with every verdict.
func (in Installer) Rule() string {
	return fmt.Sprintf("the %s installer (%s) compares %s from etc/xensource-inventory (build ignored) and offers Upgrade when it is within %s and PRODUCT_NAME is %s",
		in.Release.Product, in.Generation.Era, in.Generation.Key, in.RangeText(), ProductName)
}

// Accepts reports whether value (a dotted version, optionally "-build") is
// within this installer's range, with the reason.
func (in Installer) Accepts(value string) (bool, string) {
	key := in.Generation.Key
	if value == "" {
		return false, fmt.Sprintf("%s is missing or empty: the installer skips the install silently", key)
	}
	ver, _ := release.SplitBuild(value)
	got, err := release.ParseVersion(ver)
	if err != nil {
		return false, fmt.Sprintf("%s=%q is not a dotted number: the installer cannot compare it", key, value)
	}
	if release.Compare(got, in.Generation.Min) < 0 {
		return false, fmt.Sprintf("%s %s is older than %s, the oldest this installer upgrades", key, ver, in.Generation.Min)
	}
	c := release.Compare(got, in.Max)
	if c > 0 || (c == 0 && in.Generation.MaxBelow) {
		return false, fmt.Sprintf("%s %s is newer than the installer's own %s (accepted %s): a newer system is not upgradeable", key, ver, in.Max, in.RangeText())
	}
	return true, fmt.Sprintf("%s %s is within %s", key, ver, in.RangeText())
}

// ProductName is the PRODUCT_NAME of every XenServer and XCP-ng installer
// (xenserver.md §4.1), compared exactly by Upgrader.upgrades.
const ProductName = "xenenterprise"
