package doctor

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/xsrescue/xsrescue/internal/shquote"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/versionfile"
)

// plan turns the findings into the commands an expert would type, in the
// order that never loses anything: finish interrupted ops, image the backup
// partition, set the markers, fix the database, then run the installer.
func (d *diag) plan() {
	t := d.targetArgs()
	if len(d.mounts) > 0 {
		// Nothing else: an e2fsck or a loop device over mounted bytes, or
		// a write, while the kernel holds them corrupts the filesystem,
		// and every finding about the files may be stale.
		for _, m := range d.mounts {
			d.manual(m.Release(), fmt.Sprintf("partition %d is mounted (%s) on %s through %s: unmount it before anything checks or changes the disk (save what you edited through it first; umount writes it back)", m.Partition, m.How(), m.Point, m.Device))
		}
		d.step("xsrescue doctor "+t+d.installerArg(), "then diagnose again: what was read while the partition was mounted may be stale, and the plan depends on it")
		return
	}
	if len(d.recoverOps) > 0 {
		// Every other finding describes the state the interrupted op left,
		// which recover is about to change: plan nothing else yet.
		ids := fmt.Sprint(d.recoverOps)
		d.step("xsrescue journal recover "+t+" --yes", fmt.Sprintf("op(s) %s interrupted: roll back (or finish undoing) before anything else changes the target; every new op is refused until then", strings.Trim(ids, "[]")))
		d.step("xsrescue doctor "+t, "then diagnose again: the rest of the plan depends on what recover leaves")
		return
	}
	if d.gptPrimaryDamaged {
		disk := shquote.Quote(d.in.DiskPath)
		d.manual(fmt.Sprintf("dd if=%s of=%s bs=1M count=1; then gdisk %s: r (recovery), b (use backup GPT header, rebuilding main), c (load backup partition table, Y), v, w (Y)", disk, shquote.Quote(d.imagePath(0, "gpt-head")), disk),
			"the primary GPT is damaged and the table was read from the intact backup GPT: keep the damaged first MiB, then rebuild the primary from the backup (never automatic: check the table gdisk shows against xsrescue disk inspect first)")
	}
	if d.emptyDOSSector0 != "" {
		d.covers("layout", "installer-verdict/")
		disk := shquote.Quote(d.in.DiskPath)
		d.manual(fmt.Sprintf("dd if=%s of=%s bs=512 count=1; then printf '\\000\\000' | dd of=%s bs=1 seek=510 count=2 conv=notrunc && sgdisk -e %s; then xsrescue doctor %s%s again", disk, shquote.Quote(d.imagePath(0, "sector0")), disk, disk, d.targetArgs(), d.installerArg()),
			d.emptyDOSSector0+" and finds no installation; keep sector 0, remove its boot signature, and let sgdisk write the protective MBR from the GPT (the boot code stays): by hand, as it rewrites the partition table")
	}
	if len(d.in.Unlabelled) > 0 {
		d.covers("layout", "root-label-missing/")
	}
	for _, u := range d.in.Unlabelled {
		if b := d.in.Disk.Partition(u.Partition.Number + 1); b != nil && strings.HasPrefix(b.FS, "ext") {
			d.step(fmt.Sprintf("xsrescue disk save-partition %s --partition %d --output %s%s", shquote.Quote(d.in.DiskPath), b.Number, shquote.Quote(d.imagePath(b.Number, "backup")), journalArg(d.in.JournalPath)),
				fmt.Sprintf("partition %d is where the installer looks for the backup of a root on partition %d: keep an image of it before anything changes the disk", b.Number, u.Partition.Number))
		}
		d.manual(d.onPartition(u.Partition, func(dev string) string { return "e2label " + dev + " root-xxxxxxxx" }),
			fmt.Sprintf("partition %d holds the XenServer root but lost its root-* label, by which the installer finds the root (and the backup as the next partition); choose any 8 lower-case letters for xxxxxxxx (6 for 7.0+ installs); by hand, after saving the partitions", u.Partition.Number))
	}
	replay, repair := false, false
	for _, p := range d.fsErrors {
		d.covers(fmt.Sprintf("fs-errors/%d", p.Number))
		d.manual(partition.CheckCommand(d.in.DiskPath, p),
			fmt.Sprintf("partition %d: %s: check and repair it before anything mounts it (xsrescue refuses to change it until then; e2fsck clears the record once the filesystem is consistent)", p.Number, p.Errors))
		repair = repair || p.Role == "root" || p.Role == "backup"
	}
	for _, p := range d.needsRecovery {
		if p.Errors != nil {
			continue // the e2fsck above replays the journal too
		}
		d.manual(partition.CheckCommand(d.in.DiskPath, p),
			fmt.Sprintf("partition %d was not unmounted cleanly: replay its journal before the installer mounts it", p.Number))
		replay = replay || p.Role == "root" || p.Role == "backup"
	}
	if replay || repair {
		// e2fsck writes the replayed journal to the disk and repairs what
		// it finds: what it leaves decides the rest, so plan nothing that
		// depends on those files until doctor has read them again.
		why := "then diagnose again: the findings about the markers, the backup and the database were read with the journal replayed in memory, as the installer's mount will replay it; e2fsck may change more than the replay (it repairs what it finds), so the rest of the plan waits for what it leaves"
		if repair {
			why = "then diagnose again: e2fsck repairs what it finds (it may move or clear files the findings were read from), so the rest of the plan waits for what it leaves"
		}
		d.step("xsrescue doctor "+t+d.installerArg(), why)
		d.setMarkers, d.markFirstboot, d.moveFlag, d.setAside, d.patch = false, nil, false, nil, nil
		d.noUpgrade = true
	}
	changes := false
	if p := d.backupPart; p != nil && p.FS != "" && d.backupHolds != "" && !d.backupSaved {
		why := fmt.Sprintf("the backup partition holds %s and every installer run reformats it: keep an image to restore", d.backupHolds)
		if d.in.DiskPath == "" {
			d.manual(d.saveBackup(), why)
		} else {
			d.step(d.saveBackup(), why)
		}
	}
	if d.noInventory != "" && d.installer != nil {
		// Nothing xsrescue can plan gives the root an inventory: the plan
		// changes nothing more (after keeping the backup) and does not
		// promise that the installer "now finds an installation".
		d.manual(fmt.Sprintf("cannot be repaired by xsrescue: %s; put back etc/xensource-inventory from a copy of this system's own (a backup of it, or the backup partition's if it holds the same system, checking INSTALLATION_UUID and CONTROL_DOMAIN_UUID), then run xsrescue doctor again", d.noInventory),
			fmt.Sprintf("the %s installer skips a root without a readable inventory (it needs PRODUCT_VERSION or PLATFORM_VERSION, the UUIDs and PRIMARY_DISK from it), and xsrescue does not invent them", d.installer.Release.Product))
		// No more changes, and no Upgrade step; the alternatives (the
		// installer's Restore) stay.
		d.covers("inventory-")
		d.setMarkers, d.markFirstboot, d.moveFlag, d.setAside, d.patch = false, nil, false, nil, nil
	}
	if d.inventoryCR && d.inventoryLink == "" {
		// What the installer decides is read through the carriage
		// returns: the verdict is known again only once they are gone,
		// and doctor runs again then.
		d.covers("installer-verdict/")
		d.manual(fmt.Sprintf("on the root partition mounted read-write (ROOT): sed -i 's/\\r$//' ROOT/etc/xensource-inventory; then xsrescue doctor %s%s again", t, d.installerArg()),
			"lines of etc/xensource-inventory end in a carriage return (a DOS editor): the installer keeps it in the value, so a version or name read from such a line no longer matches; nothing needs restoring, only the carriage returns removed")
		d.setMarkers, d.markFirstboot, d.moveFlag, d.setAside, d.patch = false, nil, false, nil, nil
	}
	if d.inventoryLink != "" {
		d.covers("inventory-outside-root", "installer-verdict/")
		how := "cp --remove-destination ROOT/" + shquote.Quote(strings.TrimPrefix(d.inventoryLink, "/")) + " ROOT/etc/xensource-inventory"
		if !strings.HasPrefix(d.inventoryLink, "/") {
			how = "replace it by a copy of the file it names inside the root"
		}
		d.manual(fmt.Sprintf("on the root partition mounted read-write (ROOT): %s; then xsrescue doctor %s%s again", how, t, d.installerArg()),
			fmt.Sprintf("etc/xensource-inventory is a symlink to %s, which leaves the root: the installer opens it on its own ramdisk and finds no inventory there (or another one), so what it does is unknown; xsrescue changes nothing through such a link", d.inventoryLink))
		d.setMarkers, d.markFirstboot, d.moveFlag, d.setAside, d.patch = false, nil, false, nil, nil
	}
	if d.setMarkers {
		d.covers("installer-verdict/" + d.installer.Release.Product)
		d.step(fmt.Sprintf("xsrescue version set %s --for-installer %s --yes", t, d.installer.Release.Product),
			fmt.Sprintf("make the %s installer's gates pass: %s", d.installer.Release.Product, repairsText(d)))
		changes = true
	}
	if len(d.markFirstboot) > 0 && d.installer != nil {
		d.covers("installer-verdict/" + d.installer.Release.Product + "/" + versionfile.GateFirstboot)
		by := d.firstbootRemedy
		if by == "" {
			by = fmt.Sprintf("boot the installed system once so that its first-boot scripts run (%s), shut it down cleanly, then run xsrescue doctor again", strings.Join(d.markFirstboot, ", "))
		}
		d.manual(by,
			fmt.Sprintf("the %s installer refuses an installation whose first-boot scripts did not all run; xsrescue never marks them done by itself (see the alternative mark-firstboot-done)", d.installer.Release.Product))
		var steps []Step
		if d.firstbootNeedsDir {
			steps = append(steps, Step{Step: 1, Manual: true, Command: "mkdir -p ROOT/etc/firstboot.d/state (on the root partition mounted read-write)",
				Why: fmt.Sprintf("the %s installer wants that directory and xsrescue does not create directories: version set --mark-firstboot-done refuses until it exists", d.installer.Release.Product)})
		}
		steps = append(steps, Step{Step: len(steps) + 1, Command: fmt.Sprintf("xsrescue version set %s --for-installer %s --mark-firstboot-done --yes", t, d.installer.Release.Product),
			Why: "writes the missing state files (or init-service markers) through the journal; journal undo removes them"})
		d.rep.Alternatives = append(d.rep.Alternatives, Alternative{Name: "mark-firstboot-done",
			Why:   fmt.Sprintf("WARNING: only if the scripts %s are known to be unnecessary: they are marked done without running and will never run (they configure the host once: network, storage)", strings.Join(d.markFirstboot, ", ")),
			Steps: steps})
	}
	if d.moveFlag {
		d.covers("installer-verdict/" + d.installer.Release.Product)
		d.manual("decide whether the other partition may lose the DOS active flag (see the alternative move-active-flag); xsrescue does not move it by itself",
			fmt.Sprintf("the %s installer finds the root only by the active flag, which another partition carries", d.installer.Release.Product))
		d.rep.Alternatives = append(d.rep.Alternatives, Alternative{Name: "move-active-flag",
			Why: fmt.Sprintf("WARNING: another partition (a Dell utility partition) carries the DOS active flag, and the %s installer finds the root only by that flag; moving it makes the firmware boot the root's boot loader instead: %s", d.installer.Release.Product, repairsText(d)),
			Steps: []Step{{Step: 1, Command: fmt.Sprintf("xsrescue version set %s --for-installer %s --move-active-flag --yes", t, d.installer.Release.Product),
				Why: "a journaled raw write of the MBR's four entries (before-bytes kept; journal undo puts the flag back)"}}})
	}
	for _, p := range d.setAside {
		d.covers("statedb-restore-pending")
		d.manual(fmt.Sprintf("move %s out of the root's var/lib/xcp (keep it)", p), "xapi would load it instead of state.db and then delete it")
	}
	if bb := d.badByte; bb != nil {
		d.covers("statedb-unreadable")
		d.planBadByte(t, bb)
		d.noUpgrade = true
	}
	if pp := d.patch; pp != nil {
		d.covers("statedb-")
		changes = true
		d.planPatch(t, pp)
	}
	if d.byHand(t) {
		// Something broken is left that no step above repairs: the
		// installer is not promised to accept the disk.
		d.noUpgrade = true
	}
	if changes && d.installer != nil && !d.noUpgrade {
		inst := d.installer.Release
		af := d.savePath(fmt.Sprintf("answerfile-upgrade-%s.xml", inst.Product))
		if d.in.DiskPath != "" {
			as, why := "", "an unattended upgrade by the installer; give --source URL for a network repository and --as NAME if the installer names the disk differently"
			manual := false
			if !strings.HasPrefix(d.in.DiskPath, "/dev/") {
				// The installer finds the installation to upgrade by comparing
				// <existing-installation> with the PRIMARY_DISK its inventory
				// records (docs/answerfile.md); an image's
				// path means nothing on the host.
				name := strings.TrimPrefix(d.rep.Installed["primary_disk"], "/dev/")
				as = " --as " + shquote.Quote(name)
				why = "an unattended upgrade by the installer; the disk is an image here, so it is named as the host's installer recorded it (PRIMARY_DISK); give --source URL for a network repository"
				if name == "" {
					as, manual = " --as NAME", true
					why = "an unattended upgrade by the installer; the disk is an image here and its inventory has no PRIMARY_DISK: replace NAME with the disk's name on the host (e.g. disk/by-id/..., or sda)"
				}
			}
			cmdline := fmt.Sprintf("xsrescue answerfile upgrade --disk %s%s --source local --output %s", shquote.Quote(d.in.DiskPath), as, shquote.Quote(af))
			if manual {
				d.manual(cmdline, why)
			} else {
				d.step(cmdline, why)
			}
		}
		d.manual(fmt.Sprintf("boot the %s installer and choose Upgrade (or answerfile=%s)", inst.Name, af),
			"it now finds an installation it accepts, and carries var/xapi/state.db over verbatim")
	}
	if d.backupRestore {
		inst := d.backupHolds
		if d.installer != nil {
			inst = d.installer.Release.Product
		}
		alt := Alternative{Name: "restore",
			Why: fmt.Sprintf("the backup partition holds %s, which the %s installer offers to Restore: the cleanest rollback, but changes made since that upgrade are lost", d.backupHolds, inst)}
		if !d.backupSaved {
			alt.Steps = append(alt.Steps, Step{Step: 1, Command: d.saveBackup(), Manual: d.in.DiskPath == "",
				Why: "keep the backup even if the installer is told to upgrade by mistake"})
		}
		alt.Steps = append(alt.Steps, Step{Step: len(alt.Steps) + 1, Command: fmt.Sprintf("boot the %s installer and choose Restore", inst), Why: "restores the backed-up system onto the root partition", Manual: true})
		d.rep.Alternatives = append(d.rep.Alternatives, alt)
	}
}

// covers records that the plan acts on the findings with these ids or id
// prefixes.
func (d *diag) covers(ids ...string) { d.covered = append(d.covered, ids...) }

// byHand gives every broken finding that no planned step acts on a step by
// hand saying what to do (a "nothing to do" beside a broken finding reads
// as "all is well" at 3 a.m.), then doctor again. A plan that diagnoses
// again already (after recover, an unmount, an e2fsck) covers everything.
// It reports whether it planned anything.
func (d *diag) byHand(t string) bool {
	for _, s := range d.rep.Plan {
		if strings.HasPrefix(s.Command, "xsrescue doctor ") {
			return false
		}
	}
	added, again := false, false
	for _, f := range d.rep.Findings {
		if f.Severity != Broken || slices.ContainsFunc(d.covered, func(id string) bool { return strings.HasPrefix(f.ID, id) }) {
			continue
		}
		what, why, more := d.remedy(f)
		d.manual(what, why)
		again = again || more
		d.covers(f.ID)
		if parts := strings.SplitN(f.ID, "/", 3); parts[0] == "installer-verdict" && len(parts) > 1 {
			d.covers(parts[0] + "/" + parts[1]) // one step for the verdict and its gates
		}
		added = true
	}
	if again {
		d.step("xsrescue doctor "+t+d.installerArg(), "then diagnose again: the plan depends on what the steps by hand leave")
	}
	return added
}

// remedy is what a user can do about broken finding f, which xsrescue
// cannot repair, why, and whether doctor should look again afterwards.
func (d *diag) remedy(f Finding) (string, string, bool) {
	id := f.ID
	switch {
	case id == "layout":
		what, again := d.layoutRemedy()
		return what, "no partition of the disk holds an ext filesystem labelled root-*, so no installer finds an installation on it (" + f.Evidence + ")", again
	case id == "statedb-unreadable" || id == "statedb-not-a-file":
		return "cannot be repaired by xsrescue: keep the damaged file (move it aside), then put back the database xapi loads from a copy — the backup partition's var/xapi/state.db (the database as it was at the last upgrade), or a pool database dump (xe pool-dump-database) — and run xsrescue doctor again",
			"xapi does not start on a database it cannot read (" + f.Evidence + ")", true
	case strings.HasPrefix(id, "inventory-"):
		return "cannot be repaired by xsrescue: put back etc/xensource-inventory from a copy of this system's own (a backup of it, or the backup partition's if it holds the same system, checking INSTALLATION_UUID and CONTROL_DOMAIN_UUID), then run xsrescue doctor again",
			"every installer skips a root without a readable inventory, and xsrescue does not invent one (" + f.Evidence + ")", true
	case strings.HasPrefix(id, "installer-verdict/"):
		alt := ""
		if d.backupRestore {
			alt = "; or the alternative below (the installer's Restore)"
		}
		where := "--disk " + shquote.Quote(d.in.DiskPath)
		if d.in.DiskPath == "" && d.in.Root != nil {
			where = "--root " + shquote.Quote(d.in.Root.Dir())
		}
		return fmt.Sprintf("no xsrescue repair makes this installer accept the disk as it is: use an installer that accepts it (xsrescue version show %s lists them)%s", where, alt),
			fmt.Sprintf("%s: %s", id, f.Evidence), false
	}
	return fmt.Sprintf("no automatic repair for %s: see its rule (%s) and repair it by hand, then run xsrescue doctor again", id, f.Rule), f.Evidence, true
}

// layoutRemedy says where the root may have gone: a partition whose
// filesystem no probe recognised (a damaged ext superblock: e2fsck can use
// a backup superblock; then doctor again), or nowhere.
func (d *diag) layoutRemedy() (string, bool) {
	var cands []string
	if d.in.Disk != nil {
		for _, p := range d.in.Disk.Partitions {
			if p.FS != "" || len(p.Probe) == 0 || !p.RootType() {
				continue
			}
			why := p.Probe[0]
			cands = append(cands, fmt.Sprintf("partition %d (type %s, %s): %s", p.Number, p.Type, why,
				partition.OnPartition(d.in.DiskPath, p, func(dev string) string { return "e2fsck -n -b 32768 " + dev })))
		}
	}
	if len(cands) == 0 {
		return "no partition holds a filesystem xsrescue could not recognise: this disk does not hold the installation (look at the other disks), or its table was rewritten; restore the disk from an image if there is one", false
	}
	return "if the root was on one of these partitions, its ext superblock is damaged: check it against a backup superblock, read-only first — " + strings.Join(cands, "; ") +
		" (32768 for 4 KiB blocks, 8193 for 1 KiB; mke2fs -n with the original options lists them); if that finds the filesystem, run it again with -y instead of -n, then xsrescue doctor again", true
}

func journalArg(j string) string {
	if j == "" {
		return ""
	}
	return " --journal " + shquote.Quote(j)
}

func (d *diag) savePath(name string) string {
	dir := d.in.SaveDir
	if dir == "" {
		dir = "."
	}
	return filepath.Join(dir, name)
}

func (d *diag) imagePath(n int, role string) string {
	base := strings.TrimSuffix(filepath.Base(d.in.DiskPath), filepath.Ext(d.in.DiskPath))
	return d.savePath(fmt.Sprintf("%s-p%d-%s.img", base, n, role))
}

// referenceFile is where the reference database is read from: inside a
// --root tree directly, copied out next to the images for a --disk.
func (d *diag) referenceFile(pp *patchPlan) string {
	if d.in.DiskPath == "" {
		if pp.refRoot != "" {
			return filepath.Join(d.in.Root.Dir(), pp.refRoot)
		}
		return filepath.Join(d.in.Backup.Dir, pp.refBackup)
	}
	return d.savePath(fmt.Sprintf("reference-%s-schema%d.db", pp.target.Product, pp.refSchema))
}

// planPatch plans the statedb patch: with a reference database written by
// the target xapi (copied out first from a disk) or from the datamodel
// history. What the patch would refuse even with --drop-data stops the plan
// at a manual step; data it drops is the user's decision, taken after a
// step that keeps a copy of the database.
func (d *diag) planPatch(t string, pp *patchPlan) {
	why := fmt.Sprintf("make the database xapi loads exactly what xapi of %s reads (%s)", pp.target.Name, strings.Join(pp.reasons, ", "))
	hasRef := pp.refRoot != "" || pp.refBackup != ""
	switch {
	case len(pp.hostMissing) > 0 && !hasRef:
		d.manual(fmt.Sprintf("put back what the 12-pair manifest needs (%s; e.g. from the backup partition), or find a database this host's xapi of %s wrote; then run xsrescue doctor again",
			strings.Join(pp.hostMissing, "; "), pp.target.Name),
			"xsrescue statedb patch --to-release would stop here: it takes these host values from the root, and no reference database was found")
		return
	case pp.refused != "":
		d.manual(fmt.Sprintf("decide what becomes of /%s: xsrescue statedb patch cannot make it what xapi of %s reads, even with --drop-data (%s); then run xsrescue doctor again", pp.loaded, pp.target.Name, pp.refused),
			"a patch step here would be refused; the alternatives (the installer's Restore, or a fresh database for xapi to create) are the user's to choose")
		// an upgrade now would carry over a database its xapi does not load
		d.noUpgrade = true
		return
	}
	args := " --to-release " + pp.target.Product
	whyFrom := "; no reference database was found: the tables and columns come from the datamodel history"
	if hasRef {
		ref := d.referenceFile(pp)
		if d.in.DiskPath != "" {
			part, src := d.in.Disk.XenServer.RootPartition, pp.refRoot
			if pp.refBackup != "" {
				part, src = d.backupPart.Number, pp.refBackup
			}
			d.step(d.dumpFile(part, src, ref), fmt.Sprintf("copy out the database written by xapi of %s (schema %d), read-only, as the reference", pp.target.Name, pp.refSchema))
		}
		args, whyFrom = " --like "+shquote.Quote(ref), ", taking tables and columns from the reference"
	}
	why += whyFrom
	drop := ""
	if len(pp.dropData) > 0 {
		keep := d.savePath(fmt.Sprintf("state-before-%s.db", pp.target.Product))
		copyCmd := fmt.Sprintf("cp -p %s %s", shquote.Quote(filepath.Join(d.in.Root.Dir(), pp.loaded)), shquote.Quote(keep))
		if d.in.DiskPath != "" {
			copyCmd = d.dumpFile(d.in.Disk.XenServer.RootPartition, pp.loaded, keep)
		}
		d.step(copyCmd, "keep a copy of the database as it is, read-only: the next step drops data (and refuses to unless this copy holds exactly the database it patches)")
		drop = " --drop-data --keep-copy " + shquote.Quote(keep)
		why += fmt.Sprintf("; --drop-data is the user's decision: xapi of %s cannot keep %s, which the patch drops (the copy of step %d keeps them; journal undo puts the file back); to keep them instead, stop here", pp.target.Name, limit(pp.dropData, 4), len(d.rep.Plan))
	}
	d.step(fmt.Sprintf("xsrescue statedb patch %s%s%s --yes", t, args, drop), why)
}

// dumpFile is the read-only debugfs command that copies the file at src
// (relative to the filesystem's root) of partition part out to dst.
// debugfs splits the -R request into words itself (e2fsprogs lib/ss/parse.c
// ss_parse): each path is a "..." word there, or a blank or quote in
// --save-dir makes dump fail, and debugfs exits 0 all the same.
func (d *diag) dumpFile(part int, src, dst string) string {
	p := d.in.Disk.Partition(part)
	if strings.HasPrefix(dst, "-") {
		dst = "./" + dst // not an option of dump
	}
	return fmt.Sprintf("debugfs -R %s %s", shquote.Quote(fmt.Sprintf("dump %s %s", ssQuote("/"+src), ssQuote(dst))), shquote.Quote(fmt.Sprintf("%s?offset=%d", d.in.DiskPath, p.Start)))
}

// ssQuote is s as one word of a debugfs request: inside "...", a doubled
// quote stands for one (ss_parse, QUOTED_STRING mode).
func ssQuote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// saveBackup is the command that images the backup partition; with
// --backup-root the disk is not known, so the user names it.
func (d *diag) saveBackup() string {
	if d.in.DiskPath == "" {
		return fmt.Sprintf("xsrescue disk save-partition DISK --role backup --output %s%s (DISK: the disk whose backup partition is mounted on %s; unmount it first)",
			shquote.Quote(d.savePath("backup.img")), journalArg(d.in.JournalPath), d.in.Backup.Dir)
	}
	return fmt.Sprintf("xsrescue disk save-partition %s --role backup --output %s%s", shquote.Quote(d.in.DiskPath), shquote.Quote(d.imagePath(d.backupPart.Number, "backup")), journalArg(d.in.JournalPath))
}

// onPartition is partition.OnPartition on doctor's disk.
func (d *diag) onPartition(p partition.Partition, run func(dev string) string) string {
	return partition.OnPartition(d.in.DiskPath, p, run)
}

func sortStrings(s []string) { sort.Strings(s) }

// repairsText lists the changes version set plans, each with its gate.
func repairsText(d *diag) string {
	if len(d.setRepairs) == 0 {
		return fmt.Sprintf("set every marker to a version it accepts (it compares %s)", d.installer.Generation.Key)
	}
	var s []string
	for _, r := range d.setRepairs {
		s = append(s, fmt.Sprintf("%s (gate %s)", r.Change, r.Gate))
	}
	return strings.Join(s, "; ")
}

// planBadByte is the step by hand that replaces the one byte xmlm cannot
// decode: where it is (file, offset, table, row, attribute), a copy kept
// first, the shell line that rewrites just that byte (mode and owner
// kept), then doctor again.
func (d *diag) planBadByte(t string, bb *badByte) {
	at := bb.at
	ref := ""
	if at.Ref != "" {
		ref = " (" + at.Ref + ")"
	}
	file, where := "ROOT/"+bb.path, "on the root partition mounted read-write (ROOT): "
	if d.in.DiskPath == "" {
		file, where = filepath.Join(d.in.Root.Dir(), bb.path), ""
	}
	keep := d.savePath("state-damaged.db")
	repl, meant := "", "or drop it: printf ''"
	if bb.b >= 0xa0 {
		// Latin-1 maps 0xA0-0xFF to U+00A0-U+00FF: two UTF-8 bytes.
		r := string(rune(bb.b))
		repl = fmt.Sprintf("\\%03o\\%03o", r[0], r[1])
		meant = fmt.Sprintf("if it is Latin-1 it is %q, which UTF-8 writes as % x (printf '%s'); else the character meant, in UTF-8, or drop it (printf '')", r, []byte(r), repl)
	}
	q := shquote.Quote(file)
	d.manual(fmt.Sprintf("%scp -p %s %s (keep it); then F=%s; { head -c %d \"$F\"; printf '%s'; tail -c +%d \"$F\"; } > \"$F.new\" && chmod --reference=\"$F\" \"$F.new\" && chown --reference=\"$F\" \"$F.new\" && mv \"$F.new\" \"$F\"; then xsrescue doctor %s%s again",
		where, q, shquote.Quote(keep), q, at.Offset, repl, at.Offset+2, t, d.installerArg()),
		fmt.Sprintf("xapi cannot read /%s for one byte, 0x%02x at offset %d, in table %s, row %d%s, attribute %s, which is not UTF-8: replace that byte (%s); doctor then reads on (another such byte gets its own step): putting back a copy from the backup partition or a pool dump would lose every change since it was made",
			bb.path, bb.b, at.Offset, at.Table, at.Row, ref, at.Attr, meant))
}
