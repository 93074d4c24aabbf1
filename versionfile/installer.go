package versionfile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xsrescue/xsrescue/release"
)

// Installer is one installer version with its row of the model.
type Installer struct {
	Release    release.Release
	Generation *Generation
	// Max is the installer's own version (THIS_PRODUCT_VERSION, or
	// THIS_PLATFORM_VERSION from 7.0 on), the upper end of its range.
	Max string
	// Platform is the installer's own PLATFORM_VERSION, the upper end of
	// XCPUpgrader's range (rows with XCP): "" when the release table does
	// not know it, PlatformAbove/PlatformBelow then bound it.
	Platform                     string
	PlatformAbove, PlatformBelow string
}

// platformBounds bound the own PLATFORM_VERSION of an installer the
// release table does not know it for: XenCenter tells a XenServer 6.2
// (Clearwater) host by platform_version >= 1.6.900 and 6.5 (Creedence) by
// >= 1.8.90 (xenserver/xenadmin 79752242b1cd XenModel/Utils/Helpers.cs
// ClearwaterOrGreater, CreedenceOrGreater).
var platformBounds = map[string][2]string{"6.2.0": {"1.6.900", "1.8.90"}}

// ErrUnknownInstaller is returned for an installer version the release
// table does not know (its PLATFORM_VERSION would be a guess) or whose code
// predates the model (4.x).
var ErrUnknownInstaller = errors.New("unknown installer version")

// LookupInstaller finds the installer of a release ("5.0", "8.2.1", "ely").
func LookupInstaller(name string) (Installer, error) {
	rel, ok := release.Lookup(name)
	if !ok {
		return Installer{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownInstaller, name, knownProducts())
	}
	in, ok := installerOf(rel)
	if !ok {
		return Installer{}, fmt.Errorf("%w %q: the model starts with 5.0 (known: %s)", ErrUnknownInstaller, name, knownProducts())
	}
	return in, nil
}

func installerOf(rel release.Release) (Installer, bool) {
	g := generationByID(generationFor[rel.Product])
	if g == nil {
		return Installer{}, false
	}
	in := Installer{Release: rel, Generation: g, Max: rel.Product}
	if g.Key == "PLATFORM_VERSION" {
		in.Max = rel.Platform
	}
	if g.XCP {
		in.Platform = rel.Platform
		if b, ok := platformBounds[rel.Product]; ok && in.Platform == "" {
			in.PlatformAbove, in.PlatformBelow = b[0], b[1]
		}
	}
	return in, true
}

// Installers lists every installer the model knows, oldest first.
func Installers() []Installer {
	var out []Installer
	for _, r := range release.All() {
		if in, ok := installerOf(r); ok {
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

// RangeText is the accepted range, e.g. "[2.1.0, 3.2.0]"; "unknown" for an
// installer whose code is not public.
func (in Installer) RangeText() string {
	g := in.Generation
	if g.NotPublic != "" {
		return "unknown"
	}
	closing := "]"
	if g.MaxBelow {
		closing = ")"
	}
	return fmt.Sprintf("[%s, %s%s", g.Min, in.Max, closing)
}

// xcpRangeText is XCPUpgrader's range, e.g. "[1.6.0, 1.9.0]".
func (in Installer) xcpRangeText() string {
	own := in.Platform
	if own == "" {
		own = "own platform, unknown"
		if in.PlatformAbove != "" {
			own = fmt.Sprintf("own platform, >= %s and < %s", in.PlatformAbove, in.PlatformBelow)
		}
	}
	return fmt.Sprintf("[%s, %s]", XCPMin, own)
}

// Rule is the one-line rule of this installer, shown with every verdict.
func (in Installer) Rule() string {
	g := in.Generation
	if g.NotPublic != "" {
		return fmt.Sprintf("the %s installer: unknown (%s)", in.Release.Product, g.NotPublic)
	}
	build := "BUILD_NUMBER must be present"
	switch g.Build {
	case No:
		build = "BUILD_NUMBER optional"
	case Unknown:
		build = "whether BUILD_NUMBER must be present is unknown"
	}
	xcp := ""
	if g.XCP {
		xcp = fmt.Sprintf(" (or the name is %s and the version within %s: XCPUpgrader)", XCPName, in.xcpRangeText())
	}
	return fmt.Sprintf("the %s installer (%s, %s %s) takes the root by rule %s, reads etc/xensource-inventory (%s), compares %s with class %s and offers Upgrade when it is within %s, PRODUCT_NAME is %s%s and firstboot rule %s passes",
		in.Release.Product, g.Era, g.Repo, g.Commit, g.Root, build, g.Key, g.Class, in.RangeText(), ProductName, xcp, g.Firstboot)
}

// Certainty says how sure the verdict's rule is.
func (in Installer) Certainty() string {
	g := in.Generation
	switch {
	case g.NotPublic != "":
		return "unknown: " + g.NotPublic
	case !in.Release.Verified:
		return fmt.Sprintf("read in the installer source; the installer's own version %s (%s) has no public source", in.Max, in.Release.Name)
	case g.Build == Unknown || g.OldLayout == Unknown:
		return "read in the installer source; which commits this release's installer contains is not public, so rules changed in that window are unknown"
	}
	return "read in the installer source"
}

// ProductName is the PRODUCT_NAME of every XenServer and XCP-ng installer
// (host-installer version.PRODUCT_NAME, XCP-ng branding), compared exactly
// by Upgrader.upgrades.
const ProductName = "xenenterprise"
