package zfsroot

import (
	"slices"
	"strings"
	"testing"
)

// TestZBEOrder: zone BEs order by their numbers, everywhere: the list,
// the newest zbe a "no active dataset." fix names, and the one a
// "multiple active datasets." fix keeps (text order put zbe-10 first).
func TestZBEOrder(t *testing.T) {
	names := []string{"p/z/ROOT/zbe-10", "p/z/ROOT/zbe-2", "p/z/ROOT/zbe", "p/z/ROOT/zbe-9", "p/z/ROOT/zbe-010x", "p/z/ROOT/zbe-99999999999999999999999"}
	slices.SortFunc(names, func(a, b string) int {
		if zbeLess(a, b) {
			return -1
		}
		if zbeLess(b, a) {
			return 1
		}
		return 0
	})
	want := []string{"p/z/ROOT/zbe", "p/z/ROOT/zbe-2", "p/z/ROOT/zbe-9", "p/z/ROOT/zbe-10", "p/z/ROOT/zbe-99999999999999999999999", "p/z/ROOT/zbe-010x"}
	if !slices.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	r := &ZBEReport{GlobalUUID: "u", GlobalBESource: "bootfs"}
	for _, n := range []string{"zbe-10", "zbe-2", "zbe"} {
		r.ZBEs = append(r.ZBEs, ZBE{Name: "p/z/ROOT/" + n, Active: "on", ParentBE: "u", Current: true})
	}
	r.judge()
	if r.Error != ErrMultipleActiveDataset || !strings.Contains(r.Fix, "(keeps p/z/ROOT/zbe-10;") ||
		!strings.Contains(r.Fix, "active=off p/z/ROOT/zbe && ") || !strings.Contains(r.Fix, "active=off p/z/ROOT/zbe-2 ") {
		t.Errorf("multiple: %s / %s", r.Error, r.Fix)
	}
	r = &ZBEReport{GlobalUUID: "u", GlobalBESource: "bootfs", ZBEs: []ZBE{{Name: "p/z/ROOT/zbe-10"}, {Name: "p/z/ROOT/zbe-9"}}}
	r.judge()
	if !strings.Contains(r.Fix, "=u p/z/ROOT/zbe-10 &&") {
		t.Errorf("none: %s", r.Fix)
	}
}
