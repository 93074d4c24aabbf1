package zfsroot_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/zfsroot"
)

// eraCase loads testdata/ips/eras/NAME: cfg_cache or pkg5.image, and
// disabled_auth when present, as a zone root.
func eraCase(t *testing.T, name string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for file, dst := range map[string]string{"cfg_cache": zfsroot.ImageFileCfgCache, "pkg5.image": zfsroot.ImageFilePkg5, "disabled_auth": zfsroot.ImageFileDisabled} {
		b, err := os.ReadFile(filepath.Join("testdata/ips/eras", name, file))
		if err == nil {
			fsys[dst] = &fstest.MapFile{Data: b, Mode: 0o644}
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return fsys
}

// eraReading is what a golden records of one reading: what pkg sees.
type eraReading struct {
	Era         zfsroot.Era
	SearchOrder []string
	Preferred   string
	Publishers  []eraPublisher
	Problems    []string
	Notes       []string
}

type eraPublisher struct {
	Name, File, Section string
	Sticky, Disabled    bool
	Origins, Mirrors    []string
	Shadowed            []string
}

func reading(img *zfsroot.Image) eraReading {
	r := eraReading{Era: img.Era, SearchOrder: img.SearchOrder, Preferred: img.Preferred, Problems: []string{}, Notes: []string{}}
	for _, p := range img.Publishers {
		r.Publishers = append(r.Publishers, eraPublisher{p.Name, p.File, p.Section, p.Sticky, p.Disabled, p.Origins, p.Mirrors, p.Shadowed})
	}
	for _, p := range img.Problems {
		r.Problems = append(r.Problems, p.Pkg+": "+p.String())
	}
	for _, p := range img.Notes {
		r.Notes = append(r.Notes, p.Pkg+": "+p.String())
	}
	return r
}

// TestEraReadings: each configuration with one realistic twist reads as
// that era's pkg reads it. The goldens (read.golden.json) were checked
// against the real pkg(5) configuration code of the three commits
// (docs/zfs.md, "How the goldens were checked").
func TestEraReadings(t *testing.T) {
	dirs, err := os.ReadDir("testdata/ips/eras")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 15 {
		t.Fatalf("only %d era cases", len(dirs))
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) {
			got := reading(load(t, eraCase(t, d.Name())))
			golden := filepath.Join("testdata/ips/eras", d.Name(), "read.golden.json")
			if *update {
				b, _ := json.MarshalIndent(got, "", "  ")
				if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var want eraReading
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-golden +got):\n%s", diff)
			}
		})
	}
}

// TestEraEdits: each edit writes what that era's pkg reads as intended
// (goldens checked against the real pkg code, as the readings), removes
// repeats that would mask it and changes every copy of the publisher.
func TestEraEdits(t *testing.T) {
	tests := []struct {
		dir, name string
		edit      func(*zfsroot.Image) (*plan.Plan, error)
		check     func(*zfsroot.Image) bool // the reading after the edit
	}{
		{"pkg5-missing-sticky", "sticky-true", sticky("opensolaris.org", true), isSticky("opensolaris.org", true)},
		{"pkg5-repeated-key", "sticky-false", sticky("opensolaris.org", false), isSticky("opensolaris.org", false)},
		{"v2-repeated-key", "sticky-false", sticky("opensolaris.org", false), isSticky("opensolaris.org", false)},
		{"v2-repeated-section", "sticky-true", sticky("opensolaris.org", true), isSticky("opensolaris.org", true)},
		{"v2-repeated-section", "unset", unset("opensolaris.org"), absent("opensolaris.org")},
		{"v2-disabled-auth-override", "sticky-false", sticky("contrib", false), isSticky("contrib", false)},
		{"v2-key-case", "sticky-false", sticky("opensolaris.org", false), isSticky("opensolaris.org", false)},
		{"v2-booleans", "sticky-false", sticky("opensolaris.org", false), isSticky("opensolaris.org", false)},
		{"v2-inline-comment", "sticky-true", sticky("opensolaris.org", true), isSticky("opensolaris.org", true)},
		{"v3-cfg-cache-invalid-boolean", "sticky-false", sticky("opensolaris.org", false), isSticky("opensolaris.org", false)},
		{"pkg5-disabled-auth", "unset", unset("contrib"), absent("contrib")},
	}
	for _, tc := range tests {
		t.Run(tc.dir+"/"+tc.name, func(t *testing.T) {
			fsys := eraCase(t, tc.dir)
			before := load(t, fsys)
			plan, err := tc.edit(before)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Empty() {
				t.Fatal("empty plan")
			}
			orig := map[string]string{}
			for k, v := range fsys {
				orig[k] = string(v.Data)
			}
			apply(t, fsys, plan)
			for path, f := range fsys {
				golden := filepath.Join("testdata/ips/eras", tc.dir, tc.name+"."+filepath.Base(path)+".golden")
				if string(f.Data) == orig[path] {
					if _, err := os.Stat(golden); err == nil {
						t.Errorf("%s unchanged but has a golden", path)
					}
					continue
				}
				if *update {
					if err := os.WriteFile(golden, f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(string(want), string(f.Data)); d != "" {
					t.Errorf("%s (-golden +got):\n%s", path, d)
				}
			}
			after := load(t, fsys)
			if !tc.check(after) || len(after.Problems) > len(before.Problems) {
				t.Errorf("after the edit: %+v problems %v", reading(after), after.Problems)
			}
			again, err := tc.edit(after)
			if err != nil || !again.Empty() {
				t.Errorf("second run: %+v %v, want an empty plan", again, err)
			}
		})
	}
}

func sticky(name string, v bool) func(*zfsroot.Image) (*plan.Plan, error) {
	return func(i *zfsroot.Image) (*plan.Plan, error) { return i.SetStickyPlan(name, v) }
}

func unset(name string) func(*zfsroot.Image) (*plan.Plan, error) {
	return func(i *zfsroot.Image) (*plan.Plan, error) { return i.UnsetPublisherPlan(name) }
}

func isSticky(name string, v bool) func(*zfsroot.Image) bool {
	return func(i *zfsroot.Image) bool { p, ok := i.Publisher(name); return ok && p.Sticky == v }
}

func absent(name string) func(*zfsroot.Image) bool {
	return func(i *zfsroot.Image) bool { _, ok := i.Publisher(name); return !ok }
}
