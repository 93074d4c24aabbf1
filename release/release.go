// Package release is the one table of XenServer releases in the code base:
// product version, platform version, xapi database schema and codename.
// Sources: xen-api's datamodel_common.ml schema constants, checked at the
// release tags (docs/statedb.md), and the installers' version values
// (docs/version.md); entries whose value has no public source carry
// Verified=false.
package release

import (
	"fmt"
	"strconv"
	"strings"
)

// SchemaMajor is the xapi database schema major version of every release.
const SchemaMajor = 5

// Release is one XenServer (or XCP-ng) release.
type Release struct {
	Name     string `json:"name"`     // "XenServer 5.5"
	Codename string `json:"codename"` // "george"
	Product  string `json:"product_version"`
	Platform string `json:"platform_version,omitempty"` // "" where unknown
	Build    string `json:"build_number,omitempty"`     // a real build number of that release, where known
	// Schema is the schema_minor_vsn its xapi writes, 0 when no source
	// gives it; Schemas lists every value shipped in that line (CUs and
	// hotfixes), Schema first.
	Schema   int   `json:"schema_minor"`
	Schemas  []int `json:"schema_minors,omitempty"`
	Verified bool  `json:"verified"` // false: a value in this entry has no public source
}

// The era flags below are statedb's rules (docs/statedb.md, with the xen-api
// commits) for the release's schema.

// SchemaKnown reports whether a source gives this release's schema.
func (r Release) SchemaKnown() bool { return r.Schema > 0 }

// OldManifest reports whether this release's xapi writes and requires the
// 12-pair manifest (XS 5.x up to 5.6 FP1, schema <= 61).
func (r Release) OldManifest() bool { return r.Schema <= 61 }

// CTimes reports whether rows carry __ctime/__mtime (schema 63 and later).
func (r Release) CTimes() bool { return r.Schema >= 63 }

// LegacySpaces reports whether this release's xapi predates CA-268761
// (xapi 1.57, schema 133): single spaces literal, double spaces as %_, no
// %. decoder. XS 7.2 (schema 120) is the last such release.
func (r Release) LegacySpaces() bool { return r.Schema < 133 }

// UnknownColumnFatal reports whether an unknown column in a row stops this
// xapi from starting (277c852834, trunk 82; 7.0 and later).
func (r Release) UnknownColumnFatal() bool { return r.Schema >= 82 }

var table = []Release{
	{Name: "XenServer 4.0", Codename: "rio", Product: "4.0.0", Schema: 19, Verified: true},
	{Name: "XenServer 4.1", Codename: "miami", Product: "4.1.0", Build: "7843p", Schema: 35, Verified: true},
	{Name: "XenServer 5.0", Codename: "orlando", Product: "5.0.0", Build: "10918p", Schema: 55, Verified: true},
	{Name: "XenServer 5.5", Codename: "george", Product: "5.5.0", Build: "15119p", Schema: 57, Verified: true},
	{Name: "XenServer 5.6", Codename: "midnight-ride", Product: "5.6.0", Build: "31188p", Schema: 60, Verified: true},
	{Name: "XenServer 5.6 FP1", Codename: "cowley", Product: "5.6.100", Schema: 61, Verified: false},
	// 5.6 SP2: xapi has no schema constant for it and "oxford" appears
	// nowhere in its repository; 62 existed only on the mainline (8129f3211c,
	// VM_appliance for 6.0). Most likely 61, but unknown: 0.
	{Name: "XenServer 5.6 SP2", Codename: "oxford", Product: "5.6.199", Verified: false},
	{Name: "XenServer 6.0", Codename: "boston", Product: "6.0.0", Platform: "1.0.99", Schema: 63, Verified: true},
	{Name: "XenServer 6.1", Codename: "tampa", Product: "6.1.0", Schema: 66, Verified: true},
	{Name: "XenServer 6.2", Codename: "clearwater", Product: "6.2.0", Build: "70446c", Schema: 67, Schemas: []int{67, 68, 69, 70, 71}, Verified: true},
	{Name: "XenServer 6.5", Codename: "creedence", Product: "6.5.0", Platform: "1.9.0", Build: "90233c", Schema: 72, Schemas: []int{72, 73, 74}, Verified: true},
	// 7.0 and 7.1 builds: xcp-ng/xcp-ng-tests tests/install/test.py
	// _test_firstboot expects lsb_release 7.0.0-125380c of an installed
	// 7.0; an XVA exported from 7.1.0 names build_number 137272c
	// (direktiv/vorteil e13e68b78af4 pkg/xva/xva.go ovaXMLTemplate).
	{Name: "XenServer 7.0", Codename: "dundee", Product: "7.0.0", Platform: "2.1.0", Build: "125380c", Schema: 93, Verified: true},
	{Name: "XenServer 7.1", Codename: "ely", Product: "7.1.0", Platform: "2.2.0", Build: "137272c", Schema: 108, Schemas: []int{108, 109}, Verified: false},
	{Name: "XenServer 7.2", Codename: "falcon", Product: "7.2.0", Platform: "2.3.0", Schema: 120, Verified: true},
	{Name: "XenServer 7.3", Codename: "inverness", Product: "7.3.0", Platform: "2.4.0", Schema: 133, Verified: true},
	{Name: "XenServer 7.4", Codename: "jura", Product: "7.4.0", Platform: "2.5.0", Schema: 134, Verified: true},
	{Name: "XenServer 7.5", Codename: "kolkata", Product: "7.5.0", Platform: "2.6.0", Build: "release/kolkata/master/29", Schema: 142, Verified: true},
	{Name: "XenServer 7.6", Codename: "lima", Product: "7.6.0", Platform: "2.7.0", Build: "release/lima/master/8", Schema: 203, Verified: true},
	{Name: "Citrix Hypervisor 8.0", Codename: "naples", Product: "8.0.0", Platform: "3.0.0", Build: "release/naples/master/45", Schema: 400, Verified: true},
	{Name: "Citrix Hypervisor 8.1", Codename: "quebec", Product: "8.1.0", Platform: "3.1.0", Build: "release/quebec/master/17", Schema: 504, Verified: true},
	{Name: "Citrix Hypervisor 8.2", Codename: "stockholm", Product: "8.2.0", Platform: "3.2.0", Schema: 601, Verified: true},
	{Name: "Citrix Hypervisor 8.2 CU1", Codename: "yangtze", Product: "8.2.1", Platform: "3.2.1", Build: "release/yangtze/master/58", Schema: 602, Schemas: []int{602, 603}, Verified: true},
	{Name: "XCP-ng 8.3", Codename: "xcp-ng-8.3", Product: "8.3.0", Platform: "3.4.0", Build: "8.3.0", Schema: 779, Schemas: []int{779, 785, 786, 789, 791, 792, 793}, Verified: true},
	{Name: "XenServer 8", Codename: "nile", Product: "8.4.0", Platform: "3.4.0", Schema: 775, Schemas: []int{775, 779, 785, 786, 789, 791, 793}, Verified: true},
}

// All returns every known release, oldest first.
func All() []Release { return append([]Release(nil), table...) }

// Lookup finds a release by product version ("5.5", "5.5.0", "8.2.1") or by
// codename ("george").
func Lookup(v string) (Release, bool) {
	v = strings.TrimSpace(v)
	for _, r := range table {
		if strings.EqualFold(r.Codename, v) {
			return r, true
		}
	}
	want, err := ParseVersion(v)
	if err != nil {
		return Release{}, false
	}
	for _, r := range table {
		if Same(mustParse(r.Product), want) {
			return r, true
		}
	}
	return Release{}, false
}

// ForPlatform finds the release with the given platform version.
func ForPlatform(v string) (Release, bool) {
	want, err := ParseVersion(v)
	if err != nil {
		return Release{}, false
	}
	for _, r := range table {
		if r.Platform != "" && Same(mustParse(r.Platform), want) {
			return r, true
		}
	}
	return Release{}, false
}

// ForSchema lists the releases whose xapi writes schema 5.minor.
func ForSchema(minor int) []Release {
	var out []Release
	if minor <= 0 {
		return nil
	}
	for _, r := range table {
		if r.Schema == minor {
			out = append(out, r)
			continue
		}
		for _, s := range r.Schemas {
			if s == minor {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// Version is a dotted numeric version such as 5.5.0.
type Version []int

// ParseVersion parses a dotted numeric version; a build suffix after "-" is
// not allowed here (see SplitBuild).
func ParseVersion(s string) (Version, error) {
	if s == "" {
		return nil, fmt.Errorf("empty version")
	}
	parts := strings.Split(s, ".")
	v := make(Version, len(parts))
	for i, p := range parts {
		if p == "" || len(p) > 9 || strings.TrimLeft(p, "0123456789") != "" {
			return nil, fmt.Errorf("version %q: %q is not a number", s, p)
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("version %q: %w", s, err)
		}
		v[i] = n
	}
	return v, nil
}

func mustParse(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err) // only used on the constant table, checked by TestTableParses
	}
	return v
}

// SplitBuild splits "5.5.0-15119p" into "5.5.0" and "15119p".
func SplitBuild(s string) (version, build string) {
	version, build, _ = strings.Cut(s, "-")
	return version, build
}

// Compare compares like the installer's xcp.version: arcs as integers, and
// when one is a prefix of the other the longer one is greater.
func Compare(a, b Version) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// Same reports whether a and b name the same release, ignoring trailing
// zero arcs ("5.5" and "5.5.0").
func Same(a, b Version) bool { return Compare(trimZeros(a), trimZeros(b)) == 0 }

func trimZeros(v Version) Version {
	for len(v) > 1 && v[len(v)-1] == 0 {
		v = v[:len(v)-1]
	}
	return v
}

func (v Version) String() string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}
