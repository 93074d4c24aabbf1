package zfsroot

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestPy2HashAndDictOrder compares the model with values CPython 2.7.18
// (64-bit, hash randomisation off) printed: hash() of 317 strings and the
// keys() order of 250 dicts after random inserts and deletes that cross
// two resizes (testdata/py2dict/README.md says how they were made).
func TestPy2HashAndDictOrder(t *testing.T) {
	b, err := os.ReadFile("testdata/py2dict/cpython27-amd64.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Hashes [][2]string
		Dicts  []struct{ Ops, Order []string }
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Hashes) < 300 || len(ref.Dicts) < 250 {
		t.Fatalf("reference too small: %d hashes, %d dicts", len(ref.Hashes), len(ref.Dicts))
	}
	for _, h := range ref.Hashes {
		want, err := strconv.ParseUint(h[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := py2Hash(h[0], 64); got != want {
			t.Errorf("hash(%q) = %d, CPython %d", h[0], got, want)
		}
		// A 32-bit build computes the same recurrence modulo 2^32.
		if got := py2Hash(h[0], 32); got != want&(1<<32-1) && want&(1<<32-1) != 1<<32-1 {
			t.Errorf("32-bit hash(%q) = %d, want %d", h[0], got, want&(1<<32-1))
		}
	}
	resized := 0
	for n, c := range ref.Dicts {
		d := newPy2Dict(64)
		for _, op := range c.Ops {
			if strings.HasPrefix(op, "-") {
				if !d.del(op[1:]) {
					t.Fatalf("dict %d: del %q: not found", n, op[1:])
				}
				continue
			}
			d.set(op[1:])
		}
		if len(d.slots) > 32 {
			resized++
		}
		if got := d.keys(); !slices.Equal(got, c.Order) && !(len(got) == 0 && len(c.Order) == 0) {
			t.Errorf("dict %d (%d ops): order\n%q\nCPython\n%q", n, len(c.Ops), got, c.Order)
		}
	}
	if resized == 0 {
		t.Error("no reference dict grew past 32 slots")
	}
}

// TestPy2HashPublished: values published for CPython 2 builds: hash("a")
// is 12416037344 on 64-bit builds and -468864544 on 32-bit ones, and the
// empty string hashes to 0 on both.
func TestPy2HashPublished(t *testing.T) {
	if got := py2Hash("a", 64); got != 12416037344 {
		t.Errorf("64-bit hash(\"a\") = %d", got)
	}
	if got := int32(py2Hash("a", 32)); got != -468864544 {
		t.Errorf("32-bit hash(\"a\") = %d", got)
	}
	if py2Hash("", 32) != 0 || py2Hash("", 64) != 0 {
		t.Error("hash(\"\") != 0")
	}
}
