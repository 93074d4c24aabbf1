package zfsroot_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/zfsroot"
)

var update = flag.Bool("update", false, "rewrite golden files")

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// image builds a zone root holding the given IPS files.
func image(t *testing.T, files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for dst, src := range files {
		fsys[dst] = &fstest.MapFile{Data: readTestdata(t, src), Mode: 0o644}
	}
	return fsys
}

func oldImage(t *testing.T) fstest.MapFS {
	return image(t, map[string]string{zfsroot.ImageFileCfgCache: "ips/cfg_cache.snv134", zfsroot.ImageFileDisabled: "ips/disabled_auth.snv134"})
}

func newImage(t *testing.T) fstest.MapFS {
	return image(t, map[string]string{zfsroot.ImageFilePkg5: "ips/pkg5.image.s11"})
}

// load reads the image as the pkg of the file's own era reads it: snv_134
// pkg for a cfg_cache written before 2010-10 (the goldens of those were
// checked against snv_134's code), else Solaris 11 pkg (the default).
func load(t *testing.T, fsys fstest.MapFS) *zfsroot.Image {
	t.Helper()
	img, err := zfsroot.LoadImage(fsys)
	if err == nil && img.Era == zfsroot.EraCfgCacheV2 {
		img, err = zfsroot.LoadImageAs(fsys, zfsroot.PkgSnv134)
	}
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// apply writes a plan's Writes into the map, as the journal would.
func apply(t *testing.T, fsys fstest.MapFS, p *plan.Plan) {
	t.Helper()
	for _, c := range p.Changes {
		if c.Kind != plan.Write {
			t.Fatalf("unexpected change %+v", c)
		}
		fsys[c.Path] = &fstest.MapFile{Data: c.Content, Mode: fsys[c.Path].Mode}
	}
}

func TestLoadImagePublishers(t *testing.T) {
	gz := load(t, newImage(t))
	gz.Publishers = gz.Publishers[:1] // a global zone that only has "solaris"
	old := load(t, oldImage(t))
	old.FlagSuspects(gz)
	type pub struct {
		Name              string
		Origins           []string
		Sticky, Disabled  bool
		Preferred         bool
		Rank, NumSuspects int
	}
	var got []pub
	for _, p := range old.Publishers {
		got = append(got, pub{p.Name, p.Origins, p.Sticky, p.Disabled, p.Preferred, p.Rank, len(p.Suspects)})
	}
	want := []pub{
		{"za21342", []string{"http://localhost:10000/"}, true, false, true, 1, 3},
		{"opensolaris.org", []string{"http://pkg.opensolaris.org/release/"}, true, false, false, 2, 3},
		{"contrib", []string{"http://pkg.opensolaris.org/contrib/"}, true, true, false, 3, 2},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("cfg_cache publishers (-want +got):\n%s", d)
	}
	if old.Zone != "nonglobal" || !old.Old() || old.Preferred != "za21342" {
		t.Errorf("zone %q old %v preferred %q", old.Zone, old.Old(), old.Preferred)
	}
	img := load(t, newImage(t))
	img.FlagSuspects(nil)
	p, _ := img.Publisher("solaris")
	if img.Old() || !p.Preferred || p.Rank != 1 || len(p.Suspects) != 0 || p.Origins[0] != "http://pkg.oracle.com/solaris/release/" {
		t.Errorf("pkg5.image solaris = %+v", p)
	}
}

// TestIPSEdits checks each edit of each example configuration against the
// exact expected files, that it is idempotent, and that the untouched files
// are left alone.
func TestIPSEdits(t *testing.T) {
	tests := []struct {
		name   string
		fsys   func(*testing.T) fstest.MapFS
		edit   func(*zfsroot.Image) (*plan.Plan, error)
		golden map[string]string // changed file -> golden
	}{
		{"cfg_cache unset za", oldImage, func(i *zfsroot.Image) (*plan.Plan, error) { return i.UnsetPublisherPlan("za21342") },
			map[string]string{zfsroot.ImageFileCfgCache: "ips/cfg_cache.unset-za21342.golden"}},
		{"cfg_cache unset disabled contrib", oldImage, func(i *zfsroot.Image) (*plan.Plan, error) { return i.UnsetPublisherPlan("contrib") },
			map[string]string{zfsroot.ImageFileCfgCache: "ips/cfg_cache.unset-contrib.golden", zfsroot.ImageFileDisabled: "ips/disabled_auth.unset-contrib.golden"}},
		{"cfg_cache non-sticky", oldImage, func(i *zfsroot.Image) (*plan.Plan, error) { return i.SetStickyPlan("opensolaris.org", false) },
			map[string]string{zfsroot.ImageFileCfgCache: "ips/cfg_cache.sticky-false.golden"}},
		{"pkg5.image unset opensolaris.org", newImage, func(i *zfsroot.Image) (*plan.Plan, error) { return i.UnsetPublisherPlan("opensolaris.org") },
			map[string]string{zfsroot.ImageFilePkg5: "ips/pkg5.image.unset-opensolaris.golden"}},
		{"pkg5.image unset preferred solaris", newImage, func(i *zfsroot.Image) (*plan.Plan, error) { return i.UnsetPublisherPlan("solaris") },
			map[string]string{zfsroot.ImageFilePkg5: "ips/pkg5.image.unset-solaris.golden"}},
		{"pkg5.image non-sticky", newImage, func(i *zfsroot.Image) (*plan.Plan, error) { return i.SetStickyPlan("opensolaris.org", false) },
			map[string]string{zfsroot.ImageFilePkg5: "ips/pkg5.image.sticky-false.golden"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := tc.fsys(t)
			before := fstest.MapFS{}
			for k, v := range fsys {
				before[k] = &fstest.MapFile{Data: v.Data, Mode: v.Mode}
			}
			plan, err := tc.edit(load(t, fsys))
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Changes) != len(tc.golden) {
				t.Fatalf("plan changes %d files, want %d: %+v", len(plan.Changes), len(tc.golden), plan.Changes)
			}
			apply(t, fsys, plan)
			for path, golden := range tc.golden {
				if *update {
					if err := os.WriteFile(filepath.Join("testdata", golden), fsys[path].Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if d := cmp.Diff(string(readTestdata(t, golden)), string(fsys[path].Data)); d != "" {
					t.Errorf("%s (-golden +got):\n%s", path, d)
				}
				if strings.Contains(string(fsys[path].Data), "%") {
					t.Errorf("%s: %% introduced", path)
				}
			}
			for path, f := range before {
				if _, changed := tc.golden[path]; !changed && string(f.Data) != string(fsys[path].Data) {
					t.Errorf("%s changed but should not", path)
				}
			}
			again, err := tc.edit(load(t, fsys))
			if err != nil || !again.Empty() {
				t.Errorf("second run: plan %+v err %v, want empty (idempotent)", again, err)
			}
		})
	}
}

func TestIPSEditRefusals(t *testing.T) {
	img := load(t, newImage(t))
	plan, err := img.UnsetPublisherPlan("solaris")
	if err != nil {
		t.Fatal(err)
	}
	fsys := newImage(t)
	apply(t, fsys, plan)
	_, err = load(t, fsys).UnsetPublisherPlan("opensolaris.org")
	if !errors.Is(err, xerr.ErrRefused) || !strings.Contains(err.Error(), "would leave no enabled publisher") {
		t.Errorf("removing the last publisher: %v", err)
	}
	if _, err := load(t, newImage(t)).SetStickyPlan("nosuch", false); !errors.Is(err, zfsroot.ErrNoPublisher) || xerr.Code(err) != 2 {
		t.Errorf("unknown publisher: %v", err)
	}
	gz := newImage(t)
	gz[zfsroot.ImageFilePkg5].Data = []byte(strings.Replace(string(gz[zfsroot.ImageFilePkg5].Data), "zone = nonglobal", "zone = global", 1))
	if err := load(t, gz).CheckZone(); !errors.Is(err, zfsroot.ErrNotZoneImage) || xerr.Code(err) != 3 {
		t.Errorf("global image: %v", err)
	}
	if err := load(t, newImage(t)).CheckZone(); err != nil {
		t.Errorf("zone image: %v", err)
	}
	if _, err := zfsroot.LoadImage(fstest.MapFS{}); !errors.Is(err, zfsroot.ErrNoImage) {
		t.Errorf("empty root: %v", err)
	}
}

func TestIPSStickyAdded(t *testing.T) {
	fsys := oldImage(t)
	f := fsys[zfsroot.ImageFileCfgCache]
	f.Data = []byte(strings.Replace(string(f.Data), "sticky = True\norigin = http://pkg.opensolaris.org/release/", "origin = http://pkg.opensolaris.org/release/", 1))
	img := load(t, fsys)
	if p, _ := img.Publisher("opensolaris.org"); !p.Sticky {
		t.Fatal("absent sticky must read as True")
	}
	plan, err := img.SetStickyPlan("opensolaris.org", false)
	if err != nil {
		t.Fatal(err)
	}
	got := string(plan.Changes[0].Content)
	want := "repo.sort_policy = priority\nsticky = False\n\n[authority_za21342]"
	if !strings.Contains(got, want) {
		t.Errorf("sticky not appended at the end of the section:\n%s", got)
	}
}

// FuzzIPSConfig reads arbitrary bytes as a cfg_cache (either era, told
// from the bytes) and as a pkg5.image, next to an example disabled_auth:
// never a panic, only invalid-input errors, and set-sticky either reads
// back as asked or is refused.
func FuzzIPSConfig(f *testing.F) {
	for _, s := range []string{"ips/cfg_cache.snv134", "ips/pkg5.image.s11", "ips/disabled_auth.snv134",
		"ips/eras/v2-repeated-section/cfg_cache", "ips/eras/v3-cfg-cache-invalid-boolean/cfg_cache", "ips/eras/pkg5-repeated-key/pkg5.image"} {
		b, err := os.ReadFile(filepath.Join("testdata", s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte("[property]\npublisher-search-order = ['a\n"), false)
	f.Add([]byte("key = value\n"), true)
	f.Add([]byte("\xef\xbb\xbf[authority_a]\nprefix = a\n"), true)
	f.Add([]byte("[authority_a]\n  prefix = a\n"), true)
	f.Add([]byte("[authority_a]\nprefix = a\n  sticky = 1\n\n\tmore\n[authority_a]\nsticky = %(x)s\n"), false)
	da := readTestdataF(f, "ips/disabled_auth.snv134")
	f.Fuzz(func(t *testing.T, b []byte, pkg5 bool) {
		name := zfsroot.ImageFileCfgCache
		if pkg5 {
			name = zfsroot.ImageFilePkg5
		}
		fsys := func() fstest.MapFS {
			return fstest.MapFS{name: {Data: b}, zfsroot.ImageFileDisabled: {Data: da}}
		}
		// Every pkg reading: each must read its own edits back.
		for _, reader := range zfsroot.Readers {
			img, err := zfsroot.LoadImageAs(fsys(), reader)
			if err != nil {
				if xerr.Code(err) != 2 {
					t.Fatalf("not an invalid-input error: %v", err)
				}
				continue
			}
			for _, p := range img.Publishers {
				fresh, err := zfsroot.LoadImageAs(fsys(), reader)
				if err != nil {
					t.Fatalf("second load: %v", err)
				}
				plan, err := fresh.SetStickyPlan(p.Name, false)
				if err != nil {
					if xerr.Code(err) != 3 {
						t.Fatalf("set-sticky %q: %v", p.Name, err)
					}
					continue
				}
				after := fsys()
				for _, c := range plan.Changes {
					after[c.Path] = &fstest.MapFile{Data: c.Content}
				}
				again, err := zfsroot.LoadImageAs(after, reader)
				if err != nil {
					t.Fatalf("set-sticky %q wrote an unreadable file: %v\n%s", p.Name, err, after[name].Data)
				}
				if q, ok := again.Publisher(p.Name); !ok || q.Sticky {
					t.Fatalf("set-sticky %q did not stick: %+v", p.Name, q)
				}
				fresh, _ = zfsroot.LoadImageAs(fsys(), reader)
				if _, err := fresh.UnsetPublisherPlan(p.Name); err != nil && xerr.Code(err) != 3 {
					t.Fatalf("unset %q: %v", p.Name, err)
				}
			}
		}
	})
}
