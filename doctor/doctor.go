// Package doctor looks at a broken XenServer disk or root and says what is
// wrong, what each installer would do, and the exact commands to run, in
// order. It only reads: it calls the read-only parts of partition,
// versionfile, statedb and journal and turns the rules of
// docs/version.md, docs/statedb.md and docs/disk.md into findings and a plan.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/xsrescue/xsrescue/internal/shquote"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/statedb"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/versionfile"
)

// Severities.
const (
	OK     = "ok"
	Warn   = "warn"
	Broken = "broken"
)

// Finding is one observation, with the same JSON shape as guestfix.Finding.
type Finding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Evidence string `json:"evidence"`
	Rule     string `json:"rule"`
}

// Step is one command of the plan. Manual steps are done by a person or
// another tool (the installer); Command then says what to do.
type Step struct {
	Step    int    `json:"step"`
	Command string `json:"command"`
	Why     string `json:"why"`
	Manual  bool   `json:"manual"`
}

// Alternative is another way out, e.g. the installer's Restore.
type Alternative struct {
	Name  string `json:"name"`
	Why   string `json:"why"`
	Steps []Step `json:"steps"`
}

// Report is the `doctor --json` document.
type Report struct {
	Disk         string            `json:"disk"`
	Root         string            `json:"root"`
	Layout       string            `json:"layout"`
	Installed    map[string]string `json:"installed"`
	Installer    string            `json:"installer"`
	Findings     []Finding         `json:"findings"`
	Plan         []Step            `json:"plan"`
	Alternatives []Alternative     `json:"alternatives"`
	// Mounts are the disk's partitions mounted while doctor read them
	// (each also a finding; the command puts them first).
	Mounts []partition.Mount `json:"-"`
}

// Broken lists the ids of the broken findings (doctor then exits 4).
func (r *Report) Broken() []string {
	var ids []string
	for _, f := range r.Findings {
		if f.Severity == Broken {
			ids = append(ids, f.ID)
		}
	}
	return ids
}

// Clean reports whether nothing is broken or questionable and nothing is
// left to do.
func (r *Report) Clean() bool {
	if len(r.Plan) > 0 {
		return false
	}
	for _, f := range r.Findings {
		if f.Severity != OK {
			return false
		}
	}
	return true
}

// Input is what the command opened for the doctor. Everything but one of
// DiskPath/Root may be missing; the doctor says what it could not look at.
type Input struct {
	DiskPath string          // --disk: the disk or image
	Disk     *partition.Disk // partition.Inspect + ReadMarkers of DiskPath
	Root     *target.Root    // the installation's root, opened read-only
	RootNote string          // why Root is nil (e.g. mounting needs root)
	RootName string          // how findings name Root (target.Target.Name: never a private mount point)
	// JournalShown names the journal in findings when Journal is a private
	// copy read out of an image root ("" : its path).
	JournalShown string
	JournalErr   error // the journal inside the root could not be looked for
	// Unlabelled are ext partitions that hold a XenServer root (an
	// inventory, no .xen-backup-partition) without the root-* label.
	Unlabelled []UnlabelledRoot
	Backup     *BackupData // what the backup partition holds, if it was read
	// Installer is the installer version the user means to run ("" for no
	// particular one: every verdict is reported and no installer step planned).
	Installer   string
	Journal     *journal.Journal // nil: no journal found
	JournalPath string           // what --journal said, repeated in plan commands
	SaveDir     string           // where planned partition images go
}

// UnlabelledRoot is a partition that holds a XenServer root the installer
// cannot find, because it finds the root by its label.
type UnlabelledRoot struct {
	Partition      partition.Partition
	ProductVersion string
}

// BackupData is what doctor needs from the backup partition's tree. The
// command reads it before it opens the root: an image is attached once at a
// time.
type BackupData struct {
	Dir    string              // the tree's directory, for plans on --root targets
	Info   *versionfile.Backup // marker, inventory, Restore verdict
	Err    error               // why Info could not be read
	DBPath string              // the database its xapi loads, relative to the tree
	DB     *statedb.Summary    // that database, nil if none or unreadable
}

// ReadBackup reads a backup partition's tree for Diagnose.
func ReadBackup(root *target.Root, partition int, installer string) *BackupData {
	bd := &BackupData{Dir: root.Dir()}
	var inst *versionfile.Installer
	ins := versionfile.Installers()
	if installer != "" {
		in, err := versionfile.LookupInstaller(installer)
		if err != nil {
			bd.Err = err
			return bd
		}
		inst, ins = &in, []versionfile.Installer{in}
	}
	bd.Info, bd.Err = versionfile.InspectBackup(root, partition, ins, inst)
	if loc, err := statedb.Locate(root); err == nil && loc.Loads != "" {
		if s, err := summarize(root, loc.Loads); err == nil {
			bd.DBPath, bd.DB = loc.Loads, s
		}
	}
	return bd
}

// Diagnose runs every check and builds the plan. It never writes.
func Diagnose(ctx context.Context, in Input) (*Report, error) {
	d := &diag{in: in, rep: &Report{Disk: in.DiskPath, Layout: partition.LayoutUnknown, Installer: in.Installer,
		Installed: map[string]string{}, Findings: []Finding{}, Plan: []Step{}, Alternatives: []Alternative{}}}
	if in.Root != nil && in.DiskPath == "" {
		d.rep.Root = in.Root.Dir() // for --disk, a private mount point that is gone when doctor ends
	}
	if in.Installer != "" {
		inst, err := versionfile.LookupInstaller(in.Installer)
		if err != nil {
			return nil, err
		}
		d.installer = &inst
	}
	d.disk()
	if err := d.markers(); err != nil {
		return nil, err
	}
	d.backup()
	if err := d.statedb(ctx); err != nil {
		return nil, err
	}
	if err := d.journal(ctx); err != nil {
		return nil, err
	}
	d.plan()
	return d.rep, nil
}

type diag struct {
	in        Input
	rep       *Report
	installer *versionfile.Installer
	state     *versionfile.State
	installed *release.Release // the release the root's inventory claims

	// What the checks found that the plan acts on.
	backupPart  *partition.Partition
	backupSaved bool
	// noInventory says why the root's inventory cannot be used (missing,
	// unreadable): the installer skips such a root, and nothing xsrescue
	// plans makes it take the root.
	noInventory string
	// inventoryLink is the target of an etc/xensource-inventory symlink
	// that leaves the root ("" otherwise).
	inventoryLink string
	// inventoryCR: a line of the inventory ends in a carriage return.
	inventoryCR bool
	// noUpgrade: the plan stops before the installer (a dirty root or
	// backup must be replayed and diagnosed again first).
	noUpgrade     bool
	backupHolds   string // the release the backup holds, "" if none
	backupRestore bool   // the target installer would offer Restore
	setMarkers    bool   // version set --for-installer repairs every gate it can
	setRepairs    []versionfile.Repair
	// moveFlag: version set repairs the gates only with --move-active-flag;
	// markFirstboot: the firstboot gate fails and --mark-firstboot-done
	// would repair it (never planned by default).
	moveFlag      bool
	markFirstboot []string
	// firstbootRemedy is what a user can do about that gate by hand
	// (versionfile's FirstbootRemedy: it has looked at the scripts).
	firstbootRemedy string
	// firstbootNeedsDir: etc/firstboot.d/state is missing and the
	// installer wants it; --mark-firstboot-done refuses until a user
	// creates it.
	firstbootNeedsDir bool
	patch             *patchPlan
	// badByte: the database xapi loads is unreadable for one byte in a
	// value (planned: replace that byte, not the database).
	badByte       *badByte
	recoverOps    []int64
	needsRecovery []partition.Partition
	fsErrors      []partition.Partition // ext superblocks that record errors
	setAside      []string
	// gptPrimaryDamaged: the table was read from the backup GPT.
	gptPrimaryDamaged bool
	// emptyDOSSector0: an empty DOS table in sector 0, or a protective
	// MBR of the wrong type, hides the GPT from every installer: what
	// the installers read instead ("" when sector 0 is fine).
	emptyDOSSector0 string
	// covered are the finding ids (and id prefixes) a planned step acts
	// on; every other broken finding gets a step by hand (byHand).
	covered []string
	// mounts: partitions mounted right now. The plan is to unmount them
	// and diagnose again, nothing else: every other step (e2fsck, a
	// loop device, a write) on bytes the kernel is using corrupts them.
	mounts []partition.Mount
}

func (d *diag) add(id, sev, rule, format string, args ...any) {
	d.rep.Findings = append(d.rep.Findings, Finding{ID: id, Severity: sev, Evidence: fmt.Sprintf(format, args...), Rule: rule})
}

// rootName names the root in findings.
func (d *diag) rootName() string {
	if d.in.RootName != "" {
		return d.in.RootName
	}
	return d.in.Root.Dir()
}

// named is err's message with the root's directory named as rootName
// (a --disk target's private mount point means nothing to the user).
func (d *diag) named(msg string) string {
	if dir := d.in.Root.Dir(); dir != "" {
		return strings.ReplaceAll(msg, dir, d.rootName())
	}
	return msg
}

// targetArgs is how plan commands name the target.
func (d *diag) targetArgs() string {
	s := ""
	if d.in.DiskPath != "" {
		s = "--disk " + shquote.Quote(d.in.DiskPath)
	} else if d.in.Root != nil {
		s = "--root " + shquote.Quote(d.in.Root.Dir())
	}
	if d.in.JournalPath != "" {
		s += " --journal " + shquote.Quote(d.in.JournalPath)
	}
	return s
}

// installerArg is " --for-installer V" when doctor plans for one.
func (d *diag) installerArg() string {
	if d.installer == nil {
		return ""
	}
	return " --for-installer " + shquote.Quote(d.installer.Release.Product)
}

func (d *diag) step(command, why string) {
	d.rep.Plan = append(d.rep.Plan, Step{Step: len(d.rep.Plan) + 1, Command: command, Why: why})
}

func (d *diag) manual(command, why string) {
	d.rep.Plan = append(d.rep.Plan, Step{Step: len(d.rep.Plan) + 1, Command: command, Why: why, Manual: true})
}

const (
	ruleLayout    = "docs/disk.md, roles: root = ext labelled root-* on type 83/basic data, backup = root+1, SR = root+2 when LVM"
	ruleDirty     = "docs/safety.md: xsrescue replays a dirty ext3 journal in memory (nothing written), so it reads what the installer's mount will see; the mount replays it on the disk"
	ruleBackup    = "docs/version.md, Restore: the installer offers Restore for a partition with .xen-backup-partition whose inventory it can read (from 8.0 on with a version in [2.1.0, own]); every upgrade reformats the backup partition"
	ruleSaved     = "docs/doctor.md: image the backup partition before any installer run"
	ruleJournal   = "docs/journal.md: an op left planned or applying was interrupted; journal recover finishes or rolls it back"
	ruleMarkers   = "docs/version.md: the inventory decides; keep every marker consistent with it"
	ruleInventory = "docs/version.md, inventory-keys: the installer lists a root only when it can read etc/xensource-inventory from it"
	ruleLabel     = "docs/version.md, root-partition: from 5.6 on the installer finds the root only by its ext label root-* (and the backup as root+1)"
	ruleGPT       = "UEFI 2.x §5.3: the primary GPT at LBA 1 and the backup at the last LBA hold the same table; firmware and installers read the primary"
	ruleVersions  = "docs/version.md: the installer model, one row per generation (root partition, keys, version class, range, firstboot, checks during the upgrade)"
	ruleActive    = "docs/version.md: the 5.6-6.5 installers find the root by the active flag (probeDisk); a standard MBR boot loader refuses two active entries"
	ruleMounted   = "docs/safety.md, mounted partitions: a mounted filesystem's bytes on the disk lag behind what it holds (read-write), and nothing may check or write them through another device while it is mounted"
	ruleFSErrors  = "docs/safety.md, filesystems with errors: EXT2_ERROR_FS or s_error_count in the superblock (tytso/e2fsprogs a9f482e55f3c lib/ext2fs/ext2_fs.h; e2fsck/unix.c check_if_skip checks it, and clears both once consistent)"
	ruleFirstboot = "docs/version.md, Firstboot: the installer refuses an installation whose first-boot scripts did not all run"
)

func (d *diag) disk() {
	disk := d.in.Disk
	if disk == nil {
		return
	}
	d.rep.Layout = disk.Layout
	if disk.XenServer == nil {
		d.add("layout", Broken, ruleLayout, "%s: table %s, layout %s, no ext partition labelled root-*: no XenServer installation the installer would find", d.in.DiskPath, disk.Table, disk.Layout)
		for _, u := range d.in.Unlabelled {
			p := u.Partition
			d.add(fmt.Sprintf("root-label-missing/%d", p.Number), Broken, ruleLabel,
				"partition %d (%s, label %q) holds a XenServer root (PRODUCT_VERSION %s) that is not labelled root-*: no installer lists it, nor its backup partition %d", p.Number, p.FS, p.Label, orDash(u.ProductVersion), p.Number+1)
		}
	} else {
		var roles []string
		parts := append([]partition.Partition(nil), disk.Partitions...)
		sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
		for _, p := range parts {
			if p.Role != "" {
				roles = append(roles, fmt.Sprintf("%s %d", p.Role, p.Number))
			}
		}
		sev := OK
		if disk.Layout == partition.LayoutUnknown {
			sev = Warn
		}
		d.add("layout", sev, ruleLayout, "%s table, layout %s: %s", disk.Table, disk.Layout, strings.Join(roles, ", "))
		if b := disk.XenServer.Backup; b != nil {
			d.backupPart = disk.Partition(b.Partition)
		}
	}
	// A partition's recorded errors and its journal needing recovery are
	// findings of their own (fs-errors/N, fs-needs-recovery/N, below):
	// Inspect's warning about the same is not shown a second time. The
	// other warnings keep their number in disk inspect's list.
	own := map[string]bool{}
	for _, p := range disk.Partitions {
		if disk.MountOf(p.Number) == nil {
			own[partition.FSErrorsWarning(p)] = p.Errors != nil
			own[partition.RecoveryWarning(p)] = p.NeedsRecovery
		}
	}
	for i, w := range disk.Warnings {
		if own[w] {
			continue
		}
		d.add(fmt.Sprintf("disk-warning/%d", i+1), Warn, "partition.Inspect: problems that leave the disk readable are warnings", "%s", w)
		if strings.HasPrefix(w, "primary GPT is damaged") {
			d.gptPrimaryDamaged = true
		}
		if strings.HasPrefix(w, partition.EmptyDOSWarningPrefix) {
			d.emptyDOSSector0 = "sector 0 holds an empty DOS table and no 0xEE entry: every installer (blkid, fdisk) reads an empty DOS disk"
		}
		if strings.HasPrefix(w, partition.WrongTypePMBRWarningPrefix) {
			d.emptyDOSSector0 = "sector 0 holds a protective MBR whose entry has another type than 0xEE: every installer (blkid, fdisk) reads a DOS disk with one partition over the whole disk"
		}
	}
	d.mounts, d.rep.Mounts = disk.Mounts, disk.Mounts
	for _, m := range disk.Mounts {
		sev := Warn
		if m.ReadWrite {
			sev = Broken
		}
		d.add(fmt.Sprintf("partition-mounted/%d", m.Partition), sev, ruleMounted, "%s", m)
	}
	for _, p := range disk.Partitions {
		if p.Errors != nil && disk.MountOf(p.Number) == nil {
			d.fsErrors = append(d.fsErrors, p)
			d.add(fmt.Sprintf("fs-errors/%d", p.Number), Broken, ruleFSErrors,
				"partition %d (%s, %s %s): %s: the kernel met corruption on it; xsrescue refuses to change it, and the installer would mount it as it is", p.Number, orDash(p.Role), p.FS, orDash(p.Label), p.Errors)
		}
		if p.NeedsRecovery && disk.MountOf(p.Number) == nil {
			d.needsRecovery = append(d.needsRecovery, p)
			what := p.FS
			if p.Label != "" {
				what += " " + p.Label
			}
			d.add(fmt.Sprintf("fs-needs-recovery/%d", p.Number), Warn, ruleDirty,
				"partition %d (%s, %s): the %s journal needs recovery (the filesystem was not unmounted cleanly); it is read with the journal replayed in memory", p.Number, orDash(p.Role), what, p.FS)
		}
	}
}

func (d *diag) markers() error {
	if d.in.Root == nil {
		if d.in.RootNote != "" {
			d.add("root-not-examined", Warn, "target: the root partition is read in-process (extfs, read-only) for the markers and the xapi database", "%s", d.in.RootNote)
		}
		x := d.in.Disk
		if x == nil || x.XenServer == nil || x.XenServer.Inventory == nil {
			return nil
		}
		inv := x.XenServer.Inventory
		d.setInstalled(inv)
		if in := d.installer; in != nil {
			// The version gate needs only the inventory, which disk inspect read in-process.
			g := in.VersionGate(inv)
			sev := OK
			switch g.Status {
			case versionfile.StatusFail:
				sev, d.setMarkers = Broken, true
			case versionfile.StatusUnknown:
				sev = Warn
			}
			d.add("installer-verdict/"+in.Release.Product, sev, in.Rule(), "%s=%s: %s (the other gates need the root mounted)", in.Generation.Key, orDash(inv[in.Generation.Key]), g.Reason)
		}
		return nil
	}
	if _, err := d.in.Root.Stat(versionfile.InventoryPath); errors.Is(err, fs.ErrNotExist) {
		d.add("inventory-missing", Broken, ruleInventory, "%s has no %s: the installer skips this root silently, and no marker or version can be checked", d.rootName(), versionfile.InventoryPath)
		d.noInventory = fmt.Sprintf("%s has no %s", d.rootName(), versionfile.InventoryPath)
		return nil
	}
	st, err := versionfile.Inspect(d.in.Root)
	if err != nil {
		// doctor reports what it finds and carries on with the other checks.
		d.add("inventory-unreadable", Broken, ruleInventory, "%s", d.named(err.Error()))
		d.noInventory = d.named(err.Error())
		return nil
	}
	d.state = st
	if probs := st.Inventory.Problems(); len(probs) > 0 {
		d.add("inventory-lines", Warn, ruleInventory, "%s %s: the installer reads every line so (readKeyValueFile); the verdicts below judge the values it reads", versionfile.InventoryPath, strings.Join(probs, "; "))
		d.inventoryCR = st.Inventory.HasCR()
	}
	if st.InventoryOutside != "" {
		d.add("inventory-outside-root", Broken, ruleInventory, "%s: %s", d.rootName(), st.InventoryOutside)
		link, _ := d.in.Root.Readlink(versionfile.InventoryPath)
		d.inventoryLink = link
	}
	if x := d.in.Disk; x != nil && x.XenServer != nil {
		st.Disk = &versionfile.DiskFacts{Disk: x, Partition: x.XenServer.RootPartition}
	}
	d.setInstalled(st.Inventory.Map())
	if st.Consistent {
		d.add("markers", OK, ruleMarkers, "%d marker files agree with etc/xensource-inventory (PRODUCT_VERSION %s)", len(st.Markers), st.Inventory.Value("PRODUCT_VERSION"))
	} else {
		var vals []string
		for _, m := range st.Markers {
			vals = append(vals, fmt.Sprintf("%s=%s", m.Path, orDash(m.ProductVersion)))
		}
		d.add("markers", Warn, ruleMarkers, "markers disagree with the inventory's PRODUCT_VERSION %s: %s", orDash(st.Inventory.Value("PRODUCT_VERSION")), strings.Join(vals, ", "))
	}
	if d.installer == nil {
		by := map[string][]string{}
		for _, v := range st.Verdicts(versionfile.Installers()) {
			if m := d.rootMount(); m != nil && m.ReadWrite {
				v.Stale(*m)
			}
			by[v.Outcome] = append(by[v.Outcome], v.Installer)
		}
		var parts []string
		for _, o := range versionfile.Outcomes {
			if len(by[o]) > 0 {
				parts = append(parts, fmt.Sprintf("%s: %s", o, strings.Join(by[o], " ")))
			}
		}
		d.add("installer-verdicts", OK, ruleVersions, "%s (choose one with --for-installer V for a plan)", strings.Join(parts, "; "))
		return nil
	}
	return d.verdict(st)
}

// verdict reports the chosen installer's gates and plans what version set
// can repair. It only reads: PlanSet plans, nothing is applied.
func (d *diag) verdict(st *versionfile.State) error {
	in := *d.installer
	v := st.Verdict(in)
	id := "installer-verdict/" + in.Release.Product
	if m := d.rootMount(); m != nil && m.ReadWrite {
		v.Stale(*m)
		d.add(id, Warn, v.Rule, "%s=%s: %s", v.Compares, orDash(v.Value), v.Reason)
		return nil
	}
	// Given a directory, doctor cannot see the partition table: the gates
	// that read it are unknown, which is said once, not as a problem.
	tableOnly := st.Disk == nil
	var unknown []versionfile.Gate
	for _, g := range append(append([]versionfile.Gate{}, v.Gates...), v.DuringUpgrade...) {
		if g.Status == versionfile.StatusUnknown {
			unknown = append(unknown, g)
			tableOnly = tableOnly && slices.Contains([]string{versionfile.GateRoot, versionfile.GateSingleSR, versionfile.CheckDOSTable, versionfile.CheckLayout}, g.Name)
		}
	}
	sev := Broken
	evidence := v.Reason
	switch {
	case v.Outcome == versionfile.OutcomeUpgrade:
		sev = OK
	case !v.OffersUpgrade && len(v.FailedGates()) == 0 && tableOnly:
		sev = OK
		evidence = "yes as far as the root's files go; the gates that read the partition table were not checked (give --disk)"
		unknown = nil
	case v.Outcome == versionfile.OutcomeUnknown || v.Outcome == versionfile.OutcomeUnverified:
		sev = Warn
	}
	d.add(id, sev, v.Rule, "%s=%s: %s", v.Compares, orDash(v.Value), evidence)
	if sev == OK {
		return nil
	}
	for _, g := range append(append([]versionfile.Gate{}, v.Gates...), v.DuringUpgrade...) {
		if g.Status == versionfile.StatusFail {
			d.add(id+"/"+g.Name, Broken, g.Source, "%s", g.Reason)
		}
	}
	for _, g := range unknown {
		if !(st.Disk == nil && g.Name == versionfile.GateRoot) {
			d.add(id+"/"+g.Name, Warn, g.Source, "unknown: %s", g.Reason)
		}
	}
	if slices.Contains(v.FailedGates(), versionfile.GateFirstboot) {
		d.markFirstboot = st.Firstboot.Missing
		if len(d.markFirstboot) == 0 {
			d.markFirstboot = []string{"the init-service markers var/lib/misc/ran-network-init and ran-storage-init"}
		}
		d.firstbootRemedy = st.FirstbootRemedy(in)
		d.firstbootNeedsDir = st.FirstbootNeedsStateDir(in)
	}
	if len(v.FailedGates()) == 0 {
		return nil
	}
	req := versionfile.SetRequest{ForInstaller: in.Release.Product, Disk: st.Disk}
	if st.Disk != nil {
		req.Device = d.in.DiskPath
	}
	sp, err := versionfile.PlanSet(d.in.Root, req)
	if errors.Is(err, partition.ErrOtherActive) {
		msg := strings.TrimSuffix(strings.TrimPrefix(err.Error(), "refusing: "), "; nothing was changed")
		d.add(id+"/active-flag", Broken, ruleActive, "%s", d.named(msg))
		req.MoveActiveFlag = true
		if sp, err = versionfile.PlanSet(d.in.Root, req); err == nil {
			d.moveFlag, d.setRepairs = true, sp.Repairs
			return nil
		}
	}
	if err != nil {
		// Plan only what version set would accept: it refuses, for example,
		// to fake a system older than the installer's lower bound as newer.
		d.add(id+"/version-set", Broken, ruleVersions, "xsrescue version set would refuse: %s", d.named(err.Error()))
		return nil
	}
	d.setMarkers, d.setRepairs = len(sp.Plan.Changes) > 0, sp.Repairs
	return nil
}

// rootMount is the root partition's mount, or nil.
func (d *diag) rootMount() *partition.Mount {
	if x := d.in.Disk; x != nil && x.XenServer != nil {
		return x.MountOf(x.XenServer.RootPartition)
	}
	return nil
}

func (d *diag) setInstalled(inv map[string]string) {
	for k, v := range map[string]string{"product_version": "PRODUCT_VERSION", "platform_version": "PLATFORM_VERSION",
		"build_number": "BUILD_NUMBER", "product_brand": "PRODUCT_BRAND", "product_name": "PRODUCT_NAME", "primary_disk": "PRIMARY_DISK"} {
		if inv[v] != "" {
			d.rep.Installed[k] = inv[v]
		}
	}
	if r, ok := release.Lookup(inv["PRODUCT_VERSION"]); ok {
		d.installed = &r
	}
}

func (d *diag) backup() {
	if d.backupPart == nil && d.in.DiskPath == "" && d.in.Backup != nil {
		// --root with --backup-root: a mounted tree, not a partition of a
		// known disk (number 0, no filesystem UUID to find in the journal).
		d.backupPart = &partition.Partition{Role: "backup", FS: "ext3"}
	}
	p := d.backupPart
	if p == nil {
		return
	}
	d.backupSaved = d.savedInJournal(p)
	if p.FS == "" {
		return // partition.Inspect warned: no backup to restore
	}
	var b *versionfile.Backup
	if d.in.Backup != nil {
		if d.in.Backup.Err != nil {
			d.add("backup-partition", Warn, ruleBackup, "%s: %v", d.backupName(), d.in.Backup.Err)
			return
		}
		b = d.in.Backup.Info
	} else if x := d.in.Disk.XenServer.Backup; x != nil {
		ins := versionfile.Installers()
		if d.installer != nil {
			ins = []versionfile.Installer{*d.installer}
		}
		b = versionfile.NewBackup(*x, ins, d.installer)
	}
	if x := d.in.Disk; x != nil {
		if m := x.MountOf(p.Number); m != nil && m.ReadWrite {
			b.Stale(*m)
		}
	}
	if b.Inventory == nil {
		d.add("backup-partition", Warn, ruleBackup, "%s: %s, no etc/xensource-inventory: nothing the installer could restore", d.backupName(), p.FS)
		return
	}
	d.backupHolds = b.Inventory["PRODUCT_VERSION"]
	marker := "no .xen-backup-partition"
	switch {
	case b.HasMarker():
		marker = ".xen-backup-partition present"
	case b.Marker == nil:
		marker = ".xen-backup-partition unknown: " + *b.MarkerError
	}
	switch {
	case b.OffersRestore:
		d.backupRestore = true
		d.add("backup-restorable", OK, ruleBackup, "%s holds %s %s (%s): the %s installer would offer Restore", d.backupName(), b.Inventory["PRODUCT_BRAND"], d.backupHolds, marker, b.Installer)
	default:
		why := b.Reason
		if why == "" {
			why = marker
		}
		d.add("backup-not-restorable", Warn, ruleBackup, "%s holds %s %s (%s): no Restore: %s", d.backupName(), b.Inventory["PRODUCT_BRAND"], d.backupHolds, marker, strings.TrimPrefix(why, "no: "))
	}
	if d.backupSaved {
		d.add("backup-saved", OK, ruleSaved, "the journal records an image of partition %d (filesystem %s) whose file still exists", p.Number, p.UUID)
	} else {
		d.add("backup-not-saved", Warn, ruleSaved, "no saved image of %s in the journal: the next installer run reformats it", d.backupName())
	}
}

// backupName names the backup partition in findings.
func (d *diag) backupName() string {
	if d.in.DiskPath == "" && d.in.Backup != nil {
		return "backup root " + d.in.Backup.Dir
	}
	return fmt.Sprintf("backup partition %d", d.backupPart.Number)
}

// savedInJournal looks for a partition-image record of p whose image still
// exists.
func (d *diag) savedInJournal(p *partition.Partition) bool {
	if d.in.Journal == nil || p.UUID == "" {
		return false
	}
	ops, err := d.in.Journal.List(context.Background())
	if err != nil {
		return false
	}
	for _, op := range ops {
		if op.Target != p.UUID || op.Status != journal.StatusApplied {
			continue
		}
		det, err := d.in.Journal.Op(context.Background(), op.ID)
		if err != nil {
			continue
		}
		for _, c := range det.Changes {
			if c.External != nil && c.External.Type == "partition-image" && fileExists(c.External.Name) {
				return true
			}
		}
	}
	return false
}

func (d *diag) journal(ctx context.Context) error {
	j := d.in.Journal
	if d.in.JournalErr != nil {
		d.add("journal-unknown", Warn, ruleJournal, "whether the root holds a journal of earlier xsrescue ops is unknown: %s", d.named(d.in.JournalErr.Error()))
	}
	if j == nil {
		return nil
	}
	ops, err := j.List(ctx)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.Path(), err)
	}
	counts := map[string]int{}
	for _, op := range ops {
		counts[op.Status]++
		if op.Status == journal.StatusPlanned || op.Status == journal.StatusApplying {
			d.recoverOps = append(d.recoverOps, op.ID)
			d.add(fmt.Sprintf("journal-interrupted/%d", op.ID), Broken, ruleJournal, "op %d (%s) was left %s at %s", op.ID, op.Command, op.Status, op.Started)
		}
	}
	var parts []string
	for _, s := range []string{journal.StatusApplied, journal.StatusUndone, journal.StatusRolledBack, journal.StatusFailed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	name := j.Path()
	if d.in.JournalShown != "" {
		name = d.in.JournalShown
	}
	d.add("journal", OK, ruleJournal, "%s: %d ops (%s)", name, len(ops), orDash(strings.Join(parts, ", ")))
	return nil
}

func fileExists(p string) bool {
	_, err := filepath.Abs(p)
	if err != nil {
		return false
	}
	return statOK(p)
}

// orDash shows a value read from the disk in a finding: "-" when empty,
// Go-quoted when it holds what would hide in a line of text (a carriage
// return, which a terminal acts on, or a quote the installer kept: an
// inventory line 'X'\r keeps X'\r, shown as a stray quote otherwise).
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return versionfile.Shown(s)
}
