package versionfile

import (
	"fmt"
	"strings"

	"github.com/xsrescue/xsrescue/release"
)

// FirstbootRemedy says what a user can do, by hand, about the firstboot
// gate of installer in on this root: "" when the gate passes. It never
// claims that a step is harmless without having looked: an empty
// etc/firstboot.d/state satisfies the strict installers only when no
// executable digit-named script is there, and booting a system that
// records its first boot in var/lib/misc/ran-*-init never creates the
// directory (initMarkersOnly).
func (st *State) FirstbootRemedy(in Installer) string {
	return firstbootRemedy(in, st.Firstboot, st.Inventory)
}

// FirstbootNeedsStateDir reports whether the firstboot gate of installer
// in fails for want of etc/firstboot.d/state, which only a user can create
// (the journal creates no directories): --mark-firstboot-done refuses
// until it exists.
func (st *State) FirstbootNeedsStateDir(in Installer) bool {
	f, g := st.Firstboot, in.Generation
	return firstbootGate(g, f).Status == StatusFail && !f.stateExists() &&
		g.Firstboot != FirstbootStorage && g.Firstboot != FirstbootInitDone
}

// initMarkersOnly says why the root's own release records its first boot
// only in var/lib/misc/ran-*-init, so that booting it never creates
// etc/firstboot.d/state; "" when that is not known. Both markers present
// show it; so does a release of 8.2 or later (PLATFORM_VERSION 3.2.0 on):
// host-installer 1249ec10c07d "replaces the previous firstboot mechanism",
// and the package owning the directory (xenserver-firstboot, which ships
// %dir /etc/firstboot.d/state up to 8.1) is retired in 8.2 (docs/version.md).
func initMarkersOnly(f FirstbootFacts, inv *Inventory) string {
	if f.RanNetworkInit && f.RanStorageInit {
		return "both var/lib/misc/ran-*-init present"
	}
	if inv == nil {
		return ""
	}
	pv := inv.Value("PLATFORM_VERSION")
	v, err := release.ParseVersion(pv)
	if err != nil || release.Compare(v, release.Version{3, 2, 0}) < 0 {
		return ""
	}
	return fmt.Sprintf("PLATFORM_VERSION %s: 8.2 or later", pv)
}

func firstbootRemedy(in Installer, f FirstbootFacts, inv *Inventory) string {
	g := in.Generation
	gt := firstbootGate(g, f)
	if gt.Status == StatusOK || gt.Status == StatusNotReached || g.NotPublic != "" {
		return ""
	}
	name := in.Release.Product
	links := describePaths(append(append([]FirstbootPath{}, f.StatFails...), f.unresolvedScripts()...))
	if len(links) > 0 {
		return fmt.Sprintf("fix %s first: the %s installer stats every digit-named entry of %s on its own filesystem, where an absolute link points into its ramdisk and a dangling one raises; remove the entry, or make it a relative link to the script inside the root", strings.Join(links, "; "), name, firstbootDir)
	}
	if gt.Status == StatusUnknown {
		return fmt.Sprintf("nothing xsrescue can advise: %s", gt.Reason)
	}
	scripts := strings.Join(f.Scripts, ", ")
	mark := fmt.Sprintf("xsrescue version set --for-installer %s --mark-firstboot-done (WARNING: the scripts are then marked done without ever running)", name)
	own := initMarkersOnly(f, inv)
	switch {
	case f.StateNotDir:
		return fmt.Sprintf("%s is not a directory: move it aside and create the directory by hand (xsrescue does not create directories)", firstbootState)
	case !f.stateExists() && (g.Firstboot == FirstbootStorage || g.Firstboot == FirstbootInitDone):
		return fmt.Sprintf("the installation never completed its first boot (no %s, and not every var/lib/misc/ran-*-init the %s installer wants): boot it once and shut it down cleanly; or %s", firstbootState, name, mark)
	case !f.stateExists() && own != "" && len(f.Scripts) > 0 && g.Firstboot != FirstbootDirOnly:
		return fmt.Sprintf("this system records its first boot in var/lib/misc/ran-*-init (%s), and booting it never creates %s; the %s installer wants that directory with a state file for each executable script of %s (%s): an empty directory does not do. Create it by hand (mkdir -p ROOT/%s; xsrescue does not create directories), then %s", own, firstbootState, name, firstbootDir, scripts, firstbootState, mark)
	case !f.stateExists() && own != "":
		what := "no executable digit-named script is in " + firstbootDir
		if g.Firstboot == FirstbootDirOnly {
			what = "this installer does not test the scripts"
		}
		return fmt.Sprintf("this system records its first boot in var/lib/misc/ran-*-init (%s), and booting it never creates %s: an empty %s satisfies the %s installer (%s), and no script is skipped by it (create it by hand: mkdir -p ROOT/%s; xsrescue does not create directories)", own, firstbootState, firstbootState, name, what, firstbootState)
	case !f.stateExists() && len(f.Scripts) > 0 && g.Firstboot != FirstbootDirOnly:
		return fmt.Sprintf("no %s: the installation never completed its first boot; boot it once and shut it down cleanly. If its first-boot scripts are known to have run, an empty directory does not do: the %s installer wants a state file for each executable script of %s (%s): create the directory by hand (mkdir -p ROOT/%s; xsrescue does not create directories), then %s", firstbootState, name, firstbootDir, scripts, firstbootState, mark)
	case !f.stateExists():
		return fmt.Sprintf("no %s: the installation never completed its first boot; boot it once and shut it down cleanly (or, if its first-boot scripts are known to have run, create the empty directory by hand: mkdir -p ROOT/%s; the %s installer tests no state file then)", firstbootState, firstbootState, name)
	case g.Firstboot == FirstbootCount && f.StateEntries != len(f.Scripts) && len(f.Missing) == 0:
		return fmt.Sprintf("%s holds %d entries for %d executable scripts: the 5.5 installer wants the counts equal; move the state entries no script has aside by hand", firstbootState, f.StateEntries, len(f.Scripts))
	}
	return fmt.Sprintf("boot the installed system once so that its first-boot scripts run (%s), shut it down cleanly, then check again; or %s", strings.Join(f.Missing, ", "), mark)
}
