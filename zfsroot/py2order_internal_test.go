package zfsroot

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestSolarisOrderAgainstPkg: 80 zone configurations whose publisher
// order hangs on Python 2 dicts (publishers missing from
// publisher-search-order or a cfg_cache without it, two sections naming
// one publisher, sections in disabled_auth) read as Solaris 11 pkg, for
// each interpreter alone, agree with what the real 9ecae477 ImageConfig
// printed under CPython 2.7.18 64-bit — as it is (py27) and with
// ConfigParser's section dict a plain dict as in Python 2.6 (py26):
// search order, each publisher's sticky, disabled and origins (the copy
// that wins), and whether pkg refuses the image (testdata/ips/py2order,
// README.md there).
func TestSolarisOrderAgainstPkg(t *testing.T) {
	var want map[string]map[string]pkgReading
	readJSON(t, "testdata/ips/py2order/pkg.json", &want)
	if len(want) < 80 {
		t.Fatalf("%d cases", len(want))
	}
	defer func(e []py2Env) { py2Envs = e }(py2Envs)
	differ := 0
	for name, byEnv := range want {
		fsys := zoneFS("testdata/ips/py2order/" + name)
		if !slices.Equal(byEnv["py26"].SearchOrder, byEnv["py27"].SearchOrder) {
			differ++
		}
		for env, w := range byEnv {
			py2Envs = []py2Env{{py27: env == "py27", bits: 64}}
			img, err := LoadImageAs(fsys, PkgSolaris)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var refused bool
			for _, p := range img.Problems {
				refused = refused || p.Pkg == PkgSolaris
			}
			if refused != (w.Refused != nil) {
				t.Errorf("%s %s: refused %v, pkg: %v (problems %v)", name, env, refused, w.Refused, img.Problems)
				continue
			}
			if refused {
				continue
			}
			if !slices.Equal(img.SearchOrder, w.SearchOrder) {
				t.Errorf("%s %s: search order %q, pkg %q (notes %v)", name, env, img.SearchOrder, w.SearchOrder, img.Notes)
			}
			for _, wp := range w.Publishers {
				p, ok := img.Publisher(wp.Name)
				slices.Sort(wp.Origins)
				origins := slices.Sorted(slices.Values(p.Origins))
				if !ok || p.Sticky != wp.Sticky || p.Disabled != wp.Disabled || !slices.Equal(origins, wp.Origins) {
					t.Errorf("%s %s: publisher %+v, pkg %+v", name, env, p, wp)
				}
			}
			if len(img.Publishers) != len(w.Publishers) {
				t.Errorf("%s %s: %d publishers, pkg %d", name, env, len(img.Publishers), len(w.Publishers))
			}
		}
	}
	if differ == 0 {
		t.Error("no case where Python 2.6's and 2.7's ConfigParser give different orders")
	}
}

// TestSnv134OrderAgainstPkg: 60 OpenSolaris cfg_cache files (with
// disabled_auth) without publisher-search-order, most without
// preferred-authority, many with two sections naming one publisher, read
// as snv_134 pkg agree with the real eced1e4a ImageConfig under CPython
// 2.7.18 64-bit with ConfigParser's section dict a plain dict, as in the
// Python 2.6 that pkg ran on: search order, preferred publisher (none:
// every publisher disabled, which pkg cannot use), and each publisher.
func TestSnv134OrderAgainstPkg(t *testing.T) {
	var want map[string]pkgReading
	readJSON(t, "testdata/ips/py2order-snv134/pkg.json", &want)
	if len(want) < 60 {
		t.Fatalf("%d cases", len(want))
	}
	notFileOrder := 0
	for name, w := range want {
		fsys := zoneFS("testdata/ips/py2order-snv134/" + name)
		img, err := LoadImageAs(fsys, PkgSnv134)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w.Refused != nil {
			t.Fatalf("%s: pkg refused: %s", name, *w.Refused)
		}
		if o, _ := snv134SectionOrder(img.main); !slices.Equal(o, img.main.order) {
			notFileOrder++
		}
		preferred := w.Preferred
		if strings.Contains(preferred, "No preferred publisher") {
			preferred = ""
			if len(img.Problems) != 1 || !strings.Contains(img.Problems[0].Message, "no enabled publisher") {
				t.Errorf("%s: problems %v, want only: no enabled publisher", name, img.Problems)
			}
		} else if len(img.Problems) > 0 {
			t.Errorf("%s: problems %v", name, img.Problems)
		}
		if !slices.Equal(img.SearchOrder, w.SearchOrder) || img.Preferred != preferred {
			t.Errorf("%s: search order %q preferred %q, pkg %q %q (notes %v)", name, img.SearchOrder, img.Preferred, w.SearchOrder, preferred, img.Notes)
		}
		for _, wp := range w.Publishers {
			p, ok := img.Publisher(wp.Name)
			slices.Sort(wp.Origins)
			if !ok || p.Sticky != wp.Sticky || p.Disabled != wp.Disabled || !slices.Equal(slices.Sorted(slices.Values(p.Origins)), wp.Origins) {
				t.Errorf("%s: publisher %+v, pkg %+v", name, p, wp)
			}
		}
		if len(img.Publishers) != len(w.Publishers) {
			t.Errorf("%s: %d publishers, pkg %d", name, len(img.Publishers), len(w.Publishers))
		}
	}
	if notFileOrder < 20 {
		t.Errorf("only %d cases where the dict's order is not the file's", notFileOrder)
	}
}

// TestOrderUnknownWhereInterpretersDiffer: where the interpreters pkg
// may run on order the sections differently, the order is unknown (a
// note says so and how) and Python 3 pkg's (or the file's) is shown.
// Twelve sections authority_p338-0…11 are ordered differently by a 32-
// and a 64-bit Python 2.6 dict; testdata/ips/py2order/0NN are cases
// where Python 2.6's ConfigParser and 2.7's give different orders.
func TestOrderUnknownWhereInterpretersDiffer(t *testing.T) {
	cfg := "[property]\nsend-uuid = True\n\n[variant]\nvariant.opensolaris.zone = nonglobal\n\n"
	for i := range 12 {
		cfg += fmt.Sprintf("[authority_p338-%d]\nprefix = p338-%d\norigin = http://p%d.example/\nmirrors = []\n\n", i, i, i)
	}
	img, err := LoadImageAs(fstest.MapFS{ImageFileCfgCache: {Data: []byte(cfg)}}, PkgSnv134)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Notes) != 1 || !strings.Contains(img.Notes[0].Message, "which is unknown: it differs between 32- and 64-bit Python 2.6") || img.Preferred != "p338-0" {
		t.Errorf("snv_134: preferred %q, notes %v", img.Preferred, img.Notes)
	}
	var want map[string]map[string]pkgReading
	readJSON(t, "testdata/ips/py2order/pkg.json", &want)
	n := 0
	for name, byEnv := range want {
		if slices.Equal(byEnv["py26"].SearchOrder, byEnv["py27"].SearchOrder) {
			continue
		}
		n++
		fsys := zoneFS("testdata/ips/py2order/" + name)
		img, err := LoadImageAs(fsys, PkgSolaris)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(img.Notes, func(p Problem) bool {
			return strings.Contains(p.Message, "which is unknown: it differs between interpreters (Python 2.6 32-bit: ")
		}) {
			t.Errorf("%s: no unknown-order note: %v", name, img.Notes)
		}
	}
	if n == 0 {
		t.Error("no case where Python 2.6 and 2.7 differ")
	}
}

// zoneFS is a zone root holding the image configuration files in dir.
func zoneFS(dir string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for file, dst := range map[string]string{"cfg_cache": ImageFileCfgCache, "pkg5.image": ImageFilePkg5, "disabled_auth": ImageFileDisabled} {
		if b, err := os.ReadFile(filepath.Join(dir, file)); err == nil {
			fsys[dst] = &fstest.MapFile{Data: b}
		}
	}
	return fsys
}

// pkgReading is what the real pkg code printed for one configuration.
type pkgReading struct {
	Refused    *string
	Preferred  string // snv_134 only
	Publishers []struct {
		Name     string
		Sticky   bool
		Disabled bool
		Origins  []string
	}
	SearchOrder []string `json:"search_order"`
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
