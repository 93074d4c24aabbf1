package versionfile

import (
	"errors"
	"strings"
	"testing"
)

// TestVersionClasses: each class against the Python it transcribes. The
// expected results were worked out from the code of each commit (see
// vclass.go); the quirks are the point: a numeric build in the 2010 class,
// two arcs in the 2008 class, non-numeric arcs in the 2017 class.
func TestVersionClasses(t *testing.T) {
	t.Parallel()
	type rel int
	const (
		lt rel = iota
		eq
		gt
		raise
	)
	cases := []struct {
		class VersionClass
		a, b  string
		want  rel // of a to b, by Le/Lt
	}{
		// product.Version of 5.0/5.5: exactly three arcs; the build never orders.
		{ClassThreeArcs, "5.0.0-10918p", "5.0.0", eq},
		{ClassThreeArcs, "5.5.0-15119p", "5.0.0", gt},
		{ClassThreeArcs, "4.1.0", "5.0.0-10918p", lt},
		{ClassThreeArcs, "5.5-15119p", "5.0.0", raise}, // two arcs: ValueError
		{ClassThreeArcs, "5.0.0-", "5.0.0", raise},     // empty build: UnboundLocalError
		{ClassThreeArcs, "5.0.0-p1", "5.0.0", raise},   // build without digits: AttributeError
		{ClassThreeArcs, "5.0.0-1-2", "5.0.0", raise},  // two '-': ValueError
		{ClassThreeArcs, "5.0.0a", "5.0.0", lt},        // a suffix is older than none
		// 5.6: two arcs allowed; the build orders when both have one.
		{ClassTwoOrThreeArcs, "5.5-15119p", "5.5.0", eq},
		{ClassTwoOrThreeArcs, "5.6.0-31188p", "5.6.0", eq},
		{ClassTwoOrThreeArcs, "5.6.0-31188p", "5.6.0-31189p", lt},
		{ClassTwoOrThreeArcs, "5.6.0a", "5.6.0", raise},
		// a423d27 / xcp.version da1414b: a numeric build is an arc.
		{ClassArcsBuild, "6.2.0-70446c", "6.2.0", eq},
		{ClassArcsBuild, "6.2.0-70446", "6.2.0", gt},
		{ClassArcsBuild, "6.2.0-70446", "6.2.1", lt},
		{ClassArcsBuild, "5.6.0", "6.2.0-70446c", lt},
		{ClassArcsBuild, "2.1.0-release/kolkata/master/29", "2.1.0", gt},
		{ClassArcsBuild, "6.2.0-12ab", "6.2.0", raise}, // int("12a"): ValueError
		{ClassArcsBuild, "6.2.x", "6.2.0", raise},      // invalid arc types
		{ClassArcsBuild, "6.2.0", "6.2.x", raise},      // int vs str: infinite recursion
		// 23c550a: the build is split off the last arc and ignored.
		{ClassBuildIgnored2017, "2.3.0-125380c", "2.3.0", eq},
		{ClassBuildIgnored2017, "2.3.0-123", "2.3.0", eq},
		{ClassBuildIgnored2017, "3.4.0-8.3.0", "2.7.0", gt},    // decided by the first arc
		{ClassBuildIgnored2017, "3.4.0-8.3.0", "3.4.0", raise}, // "0-8" minus 0: TypeError
		{ClassBuildIgnored2017, "2.3.1", "2.3.0", gt},
		{ClassBuildIgnored2017, "2.3.0.1", "2.3.0", gt}, // longer is greater
		// a8c50c7: the build is split off first.
		{ClassBuildIgnored, "3.4.0-8.3.0", "3.4.0", eq},
		{ClassBuildIgnored, "3.2.0-release/yangtze/master/58", "3.2.1", lt},
		{ClassBuildIgnored, "x.y", "3.2.0", raise},
	}
	for _, c := range cases {
		t.Run(string(c.class)+"/"+c.a+"/"+c.b, func(t *testing.T) {
			a, errA := c.class.Parse(c.a)
			b, errB := c.class.Parse(c.b)
			var le, lt2 bool
			err := errors.Join(errA, errB)
			if err == nil {
				var e1, e2 error
				le, e1 = c.class.Le(a, b)
				lt2, e2 = c.class.Lt(a, b)
				err = errors.Join(e1, e2)
			}
			if c.want == raise {
				if !errors.Is(err, errRaises) {
					t.Fatalf("want the installer's code to raise, got le=%v lt=%v err=%v", le, lt2, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := gt
			switch {
			case lt2:
				got = lt
			case le:
				got = eq
			}
			if got != c.want {
				t.Fatalf("le=%v lt=%v, want relation %d", le, lt2, c.want)
			}
		})
	}
}

// TestArcCmpNone: arc_cmp falls off its end (a "-" arc against a string
// arc without "-") and returns None, which Python 2 orders below 0.
func TestArcCmpNone(t *testing.T) {
	t.Parallel()
	a, _ := ClassArcsBuild.Parse("6.2.0-1")
	b, _ := ClassArcsBuild.Parse("6.2.x")
	le, err := ClassArcsBuild.Le(a, b)
	if err != nil || !le {
		t.Fatalf("le=%v err=%v, want None read as <= 0", le, err)
	}
}

// FuzzVersionClass: no class panics or loops on any version string, and a
// comparison of a version with itself never says "less than".
func FuzzVersionClass(f *testing.F) {
	for _, s := range []string{"5.5.0-15119p", "6.2.0-70446", "3.4.0-8.3.0", "2.1.0-release/kolkata/master/29", "1-2-3-4", "..", "-", "5.0.0a-1b"} {
		f.Add(s)
	}
	classes := []VersionClass{ClassThreeArcs, ClassTwoOrThreeArcs, ClassArcsBuild, ClassBuildIgnored2017, ClassBuildIgnored}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		for _, c := range classes {
			v, err := c.Parse(s)
			if err != nil {
				if !errors.Is(err, errRaises) {
					t.Fatalf("%s: %q: error outside the contract: %v", c, s, err)
				}
				continue
			}
			lt, err := c.Lt(v, v)
			if err == nil && lt && !strings.Contains(s, "-") {
				t.Fatalf("%s: %q < itself", c, s)
			}
			_, _ = c.Le(v, v)
		}
	})
}
