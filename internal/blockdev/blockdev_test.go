package blockdev

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestOverlaps(t *testing.T) {
	a := extent{"file 8:1 12", 100, 200}
	for _, c := range []struct {
		b    extent
		want bool
	}{
		{extent{"file 8:1 12", 199, 300}, true},
		{extent{"file 8:1 12", 200, 300}, false}, // adjacent
		{extent{"file 8:1 12", 0, 100}, false},
		{extent{"file 8:1 12", 0, math.MaxInt64}, true},
		{extent{"file 8:1 13", 100, 200}, false}, // another file
		{extent{"", 100, 200}, false},            // unknown never matches
	} {
		if got := a.overlaps(c.b); got != c.want {
			t.Errorf("%v overlaps %v = %v", a, c.b, got)
		}
	}
	if addSat(math.MaxInt64-1, 5) != math.MaxInt64 || addSat(1, 2) != 3 {
		t.Error("addSat")
	}
}

// A file no loop device maps has no users (the loop cases are tested with
// real loop devices in target and partimage).
func TestUsersOfAFreshFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(p, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if u := Users(fi, 0, 4096); len(u) != 0 {
		t.Errorf("Users = %v", u)
	}
}
