package main

import (
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/doctor"
	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/release"
)

// TestDoctorInstallerRepairs: doctor reports each failing gate of the
// chosen installer and plans version set with the gate each change is
// for; a Dell utility partition's active flag and first-boot scripts that
// never ran are offered only as alternatives, with their warnings.
func TestDoctorInstallerRepairs(t *testing.T) {
	t.Parallel()
	needRootAndE2fs(t)
	mib := fixtures.MiB
	rel, _ := release.Lookup("6.2")
	cases := []struct {
		name, installer string
		spec            fixtures.DiskSpec
		finding         string // a finding's id
		planWhy         string // in the version set step's why ("" = no such step)
		alternative     string
	}{
		{"no-active", "6.2", func() fixtures.DiskSpec {
			s := fixtures.Mini("doctor-no-active", "dos", fixtures.RootSpec{Release: "6.2"}, nil)
			s.Partitions[0].Bootable = false
			return s
		}(), "installer-verdict/6.2.0/root-partition", "DOS table: set the active flag on partition 1 (gate root-partition)", ""},
		{"dell-active", "6.2", fixtures.DiskSpec{Name: "doctor-dell", Size: 100 * mib, Table: "dos", Partitions: []fixtures.PartSpec{
			{Number: 1, Start: mib, Size: 16 * mib, Type: "de", Bootable: true},
			{Number: 2, Start: 17 * mib, Size: 64 * mib, Type: "83", FS: "ext3",
				Label: fixtures.RootLabel("doctor-dell", rel), Root: &fixtures.RootSpec{Release: "6.2", Seed: "doctor-dell"}},
			{Number: 3, Start: 81 * mib, Size: 16 * mib, Type: "83"},
		}}, "installer-verdict/6.2.0/active-flag", "", "move-active-flag"},
		{"never-ran", "7.1", fixtures.Mini("doctor-never-ran", "gpt", fixtures.RootSpec{Release: "7.1", NeverBooted: true}, nil),
			"installer-verdict/7.1.0/firstboot", "", "mark-firstboot-done"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			img, err := fixtures.BuildDisk(dir, c.spec)
			if err != nil {
				t.Fatal(err)
			}
			before := fingerprint(t, img)
			rep := doctorJSON(t, "--disk", img, "--installer", c.installer, "--save-dir", dir)
			if fingerprint(t, img) != before {
				t.Fatal("doctor wrote to the disk")
			}
			if !hasFinding(rep.Report, c.finding) {
				t.Errorf("no finding %s: %+v", c.finding, rep.Findings)
			}
			var set *doctorStep
			for i, s := range rep.Plan {
				if strings.HasPrefix(s.Command, "xsrescue version set") {
					set = &rep.Plan[i]
				}
			}
			switch {
			case c.planWhy == "" && set != nil:
				t.Errorf("planned %q; the repair needs the user's decision", set.Command)
			case c.planWhy != "" && (set == nil || !strings.Contains(set.Why, c.planWhy)):
				t.Errorf("version set step %+v, want why with %q", set, c.planWhy)
			}
			if c.alternative != "" {
				var alt *doctorAlternative
				for i, a := range rep.Alternatives {
					if a.Name == c.alternative {
						alt = &rep.Alternatives[i]
					}
				}
				if alt == nil || !strings.HasPrefix(alt.Why, "WARNING") || !strings.Contains(alt.Steps[0].Command, "--"+c.alternative) {
					t.Errorf("alternative %s: %+v", c.alternative, rep.Alternatives)
				}
			}
		})
	}
}

func hasFinding(rep *doctor.Report, id string) bool {
	for _, f := range rep.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}
