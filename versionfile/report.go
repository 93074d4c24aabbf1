package versionfile

import (
	"context"

	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/target"
)

// ShowOptions say what Show looks at.
type ShowOptions struct {
	Target target.Options // --root DIR or --disk DEV [--partition N], opened read-only
	// Only limits the verdicts to one installer, explained in full; nil:
	// every installer the model knows.
	Only *Installer
	// BackupRoot is an already mounted backup partition, for a --root
	// target (a --disk target's backups are found on the disk).
	BackupRoot string
}

// ShowReport is what `version show` reports (docs/json.md, version show).
type ShowReport struct {
	Root       string                 `json:"root"`
	Disk       string                 `json:"disk,omitempty"`
	Partition  int                    `json:"partition,omitempty"`
	Inventory  map[string]string      `json:"inventory"`
	Markers    []Marker               `json:"markers"`
	Consistent bool                   `json:"consistent"`
	Firstboot  Gate                   `json:"firstboot"`
	Facts      ShowFacts              `json:"facts"`
	Roots      []partition.RootChoice `json:"root_by_generation"`
	Verdicts   []Verdict              `json:"verdicts"`
	Backup     *Backup                `json:"backup"`
	Backups    []*Backup              `json:"backups"`
	BackupNote string                 `json:"backups_note"`
	Notes      []string               `json:"notes"`
	// Mounts are the disk's partitions mounted right now (the command puts
	// them first, as "mounted").
	Mounts []partition.Mount `json:"-"`
}

// ShowFacts are the files and table facts the gates were decided on.
type ShowFacts struct {
	Firstboot FirstbootFacts `json:"firstboot"`
	Root      RootFacts      `json:"root"`
}

// Show reads the markers of the target and says what every installer (or
// o.Only) would do with them. With --disk the partition table is read too
// (which partition each generation takes as the root, the active flag),
// and every partition is scanned for .xen-backup-partition, in-process:
// nothing is mounted, nothing written.
func Show(ctx context.Context, o ShowOptions) (*ShowReport, error) {
	o.Target.Writable, o.Target.Lock = false, nil
	tgt, err := target.Open(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	st, err := Inspect(tgt.Root)
	tgt.Close()
	if err != nil {
		return nil, tgt.Named(err)
	}
	var disk *partition.Disk
	if tgt.Disk != "" {
		if disk, err = partition.InspectPath(tgt.Disk, partition.OpenOptions{Markers: true}); err != nil {
			return nil, err
		}
		st.Disk = &DiskFacts{Disk: disk, Partition: tgt.Partition}
	}
	ins := Installers()
	if o.Only != nil {
		ins = []Installer{*o.Only}
	}
	rep := &ShowReport{
		Root: tgt.Root.Dir(), Disk: tgt.Disk, Partition: tgt.Partition,
		Inventory: st.Inventory.Map(), Markers: st.Markers, Consistent: st.Consistent,
		Firstboot: st.FirstbootSummary(), Facts: ShowFacts{Firstboot: st.Firstboot, Root: st.Root},
		Roots: []partition.RootChoice{}, Verdicts: st.Verdicts(ins), Backups: []*Backup{},
		Notes: append([]string{}, tgt.Notes...),
	}
	for _, p := range st.Inventory.Problems() {
		rep.Notes = append(rep.Notes, InventoryPath+" "+p)
	}
	if rep.Markers == nil {
		rep.Markers = []Marker{}
	}
	switch {
	case disk != nil:
		rep.Roots = disk.RootChoices()
		rep.Backups = DiskBackups(disk, ins, o.Only)
		rep.BackupNote = OtherDisksNote
		if x := disk.XenServer; x != nil && x.Backup != nil && x.RootPartition == tgt.Partition {
			rep.Backup = NewBackup(*x.Backup, ins, o.Only)
		}
		for _, w := range disk.Warnings {
			rep.Notes = append(rep.Notes, "disk: "+w)
		}
		rep.Mounts = disk.Mounts
		if m := disk.MountOf(tgt.Partition); m != nil && m.ReadWrite {
			for i := range rep.Verdicts {
				rep.Verdicts[i].Stale(*m)
			}
		}
		seen := map[*Backup]bool{}
		for _, b := range append(append([]*Backup{}, rep.Backups...), rep.Backup) {
			if b == nil || seen[b] {
				continue
			}
			seen[b] = true
			if m := disk.MountOf(b.Partition); m != nil && m.ReadWrite {
				b.Stale(*m)
			}
		}
	case o.BackupRoot != "":
		bt, err := target.Open(ctx, target.Options{Root: o.BackupRoot})
		if err != nil {
			return nil, err
		}
		defer bt.Close()
		if rep.Backup, err = InspectBackup(bt.Root, 0, ins, o.Only); err != nil {
			return nil, err
		}
		if b := rep.Backup; b.Marker == nil || *b.Marker {
			rep.Backups = append(rep.Backups, b)
		}
		rep.BackupNote = OtherDisksNote
	}
	return rep, nil
}

// PlanSetOn plans `version set` on an opened target: PlanSet on its root
// and, for --for-installer on a --disk target, the partition table the
// installer reads (the active flag it finds the root by). Errors name the
// target as the user gave it.
func PlanSetOn(tgt *target.Target, req SetRequest) (*SetPlan, error) {
	if tgt.Disk != "" && req.ForInstaller != "" {
		d, err := partition.InspectPath(tgt.Disk, partition.OpenOptions{})
		if err != nil {
			return nil, err
		}
		req.Disk, req.Device = &DiskFacts{Disk: d, Partition: tgt.Partition}, tgt.Disk
	}
	sp, err := PlanSet(tgt.Root, req)
	return sp, tgt.Named(err)
}
