package versionfile

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// TestCheckRefusesLostKey: a result without a key the installer needs is
// refused with exit 3, whatever produced it.
func TestCheckRefusesLostKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/roundtrip/xs65-practicalxenserver.inventory")
	if err != nil {
		t.Fatal(err)
	}
	before, err := ParseInventory(bytes.NewReader(data), "inv")
	if err != nil {
		t.Fatal(err)
	}
	after := before.Clone()
	if err := after.Set("PRIMARY_DISK", ""); err != nil {
		t.Fatal(err)
	}
	sp := &SetPlan{Before: before, After: after}
	if err := sp.check(); xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "PRIMARY_DISK") {
		t.Fatalf("check: %v", err)
	}
}

func TestReleaseLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, ver, build, out string
	}{
		{"XenServer release 5.5.0-15119p (xenenterprise)\n", "5.0.0", "10918p", "XenServer release 5.0.0-10918p (xenenterprise)\n"},
		{"XCP-ng release 8.3.0 (xenenterprise)\n", "8.2.1", "x", "XCP-ng release 8.2.1 (xenenterprise)\n"},
		{"XCP release 1.6.10-61809c", "1.6.0", "", "XCP release 1.6.0 (xenenterprise)"},
		{"Citrix Hypervisor release 8.2.1 (xenenterprise)\nsecond line\n", "8.2.0", "", "Citrix Hypervisor release 8.2.0 (xenenterprise)\nsecond line\n"},
	}
	for _, c := range cases {
		got, err := SetReleaseVersion([]byte(c.in), c.ver, c.build)
		if c.out == "XCP release 1.6.0 (xenenterprise)" {
			if err == nil {
				t.Errorf("%q has no (name): want an error, got %q", c.in, got)
			}
			continue
		}
		if err != nil || string(got) != c.out {
			t.Errorf("SetReleaseVersion(%q) = %q, %v; want %q", c.in, got, err, c.out)
		}
	}
	rl, ok := ParseReleaseLine([]byte("XenServer release 5.6.0-31188p (xenenterprise)\n"))
	if !ok || rl != (ReleaseLine{Brand: "XenServer", Version: "5.6.0", Build: "31188p", Name: "xenenterprise"}) {
		t.Fatalf("ParseReleaseLine: %+v %v", rl, ok)
	}
}

func TestSubstituteVersions(t *testing.T) {
	t.Parallel()
	repl := map[string]string{"5.5.0-15119p": "5.0.0-10918p", "5.5.0": "5.0.0", "5.5": "5.0", "15119p": "10918p"}
	cases := []struct{ in, out string }{
		{"Citrix XenServer Host 5.5.0-15119p\n", "Citrix XenServer Host 5.0.0-10918p\n"},
		{"XenServer 5.5\n", "XenServer 5.0\n"},
		{"kernel 2.6.18-128.1.6.el5.xs5.5.0.496.1012xen\n", "kernel 2.6.18-128.1.6.el5.xs5.5.0.496.1012xen\n"},
		{"15.5.0 and 5.5.01\n", "15.5.0 and 5.5.01\n"},
		{"VERSION=\"5.5.0\"\n", "VERSION=\"5.0.0\"\n"},
		{"5.5.0-99999z\n", "5.0.0-99999z\n"},
	}
	for _, c := range cases {
		if got, _ := substituteVersions(c.in, repl); got != c.out {
			t.Errorf("substituteVersions(%q) = %q, want %q", c.in, got, c.out)
		}
	}
}

// FuzzReleaseLine: parsing and rewriting a *-release file never panics;
// a rewrite parses back with the new version and keeps the other lines.
func FuzzReleaseLine(f *testing.F) {
	for _, s := range []string{
		"XenServer release 5.5.0-15119p (xenenterprise)\n", "XCP-ng release 8.3.0 (xenenterprise)\n",
		"release 1 ()", " release 1.2.3- (x)", "a release 1.2.3-b-c (d)\nrest\n", "release", "\n", "x release 1..2 (y)",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := Marker{Path: "etc/redhat-release"}
		describeMarker(&m, data)
		out, err := SetReleaseVersion(data, "5.0.0", "10918p")
		if err != nil {
			return
		}
		rl, ok := ParseReleaseLine(out)
		if !ok || rl.Version != "5.0.0" {
			t.Fatalf("rewrite of %q gave %q (%+v)", data, out, rl)
		}
		_, restIn, _ := bytes.Cut(data, []byte("\n"))
		_, restOut, _ := bytes.Cut(out, []byte("\n"))
		if !bytes.Equal(restIn, restOut) {
			t.Fatalf("rewrite changed later lines: %q -> %q", data, out)
		}
	})
}
