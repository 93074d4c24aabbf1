package versionfile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// VersionClass is the version class an installer parses and compares
// inventory versions with. Each is a transcription of the Python code, with
// its quirks, because a quirk decides a verdict (docs/version.md):
//
//   - ClassThreeArcs: host-installer product.Version as in 5.0 and 5.5
//     (fc4eed16e14f, aad499a03110): exactly three dotted arcs, the last one
//     digits with an optional suffix, an optional "-build" of digits with a
//     suffix; the build never orders two versions, it only matches.
//   - ClassTwoOrThreeArcs: the same class in 5.6 (fb866c6, "handle version
//     strings with no release element"): two or three numeric arcs; the build
//     orders versions when both sides have one.
//   - ClassArcsBuild: a423d27 (2010-07, 5.6 FP1), moved to python-libs as
//     xcp.version (da1414b, used from host-installer 4554444, 2011-03): the
//     build is split off only when the last character is a letter; a purely
//     numeric build stays in the last arc as "0-70446", which compares
//     greater than 0.
//   - ClassBuildIgnored2017: python-libs 23c550a (CA-246490, 2017-03): the
//     build is split off the last arc and ignored; arcs compare by
//     subtraction, so a non-numeric arc makes the comparison raise.
//   - ClassBuildIgnored: python-libs a8c50c7 (CA-299167, 2018-10): the
//     build is split off at the first "-" before the arcs are split.
type VersionClass string

// Version classes, as named in the JSON contract.
const (
	ClassThreeArcs        VersionClass = "three-arcs"
	ClassTwoOrThreeArcs   VersionClass = "two-or-three-arcs"
	ClassArcsBuild        VersionClass = "arcs-numeric-build"
	ClassBuildIgnored2017 VersionClass = "build-ignored-2017"
	ClassBuildIgnored     VersionClass = "build-ignored"
)

// pyVersion is a parsed version of any class. Arcs are int or string.
type pyVersion struct {
	class VersionClass
	// product.Version (ClassThreeArcs, ClassTwoOrThreeArcs)
	major, minor, release int
	suffix                string
	build                 int // anyBuild when absent
	// xcp.version
	arcs     []any
	hasBuild bool
	xbuild   int // ClassArcsBuild's numeric build
}

// anyBuild is product.Version.ANY: a build that matches every build.
const anyBuild = -1

// errRaises marks a parse or comparison the installer's Python code
// raises on: the installation is then dropped, or the scan fails.
var errRaises = errors.New("the installer's code raises")

func raises(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errRaises, fmt.Sprintf(format, args...))
}

// pyInt is Python's int() of a str: surrounding whitespace and one sign
// allowed, then decimal digits.
func pyInt(s string) (int, error) {
	t := strings.TrimSpace(s)
	digits := strings.TrimPrefix(strings.TrimPrefix(t, "+"), "-")
	if len(t)-len(digits) > 1 || !isDigits(digits) || len(digits) > 18 {
		return 0, raises("int(%q): ValueError", s)
	}
	n, _ := strconv.Atoi(digits)
	if strings.HasPrefix(t, "-") {
		n = -n
	}
	return n, nil
}

func isDigits(s string) bool {
	return s != "" && strings.TrimLeft(s, "0123456789") == ""
}

// leadingDigits is re.match("([0-9]+)(.*)", s).
func leadingDigits(s string) (string, string, bool) {
	i := len(s) - len(strings.TrimLeft(s, "0123456789"))
	if i == 0 {
		return "", "", false
	}
	return s[:i], s[i:], true
}

// intify is xcp.version's: a string of digits becomes an int.
func intify(s string) any {
	if isDigits(s) && len(s) <= 18 {
		n, _ := strconv.Atoi(s)
		return n
	}
	return s
}

// Parse reads s ("5.5.0-15119p") as the class's from_string does.
func (c VersionClass) Parse(s string) (*pyVersion, error) {
	switch c {
	case ClassThreeArcs, ClassTwoOrThreeArcs:
		return parseProduct(c, s)
	case ClassArcsBuild:
		v := &pyVersion{class: c}
		for _, a := range strings.Split(s, ".") {
			v.arcs = append(v.arcs, intify(a))
		}
		last, ok := v.arcs[len(v.arcs)-1].(string)
		if ok && strings.Contains(last, "-") && isAlpha(last[len(last)-1]) {
			i := strings.LastIndex(last, "-")
			el, bs := last[:i], last[i+1:]
			v.arcs[len(v.arcs)-1] = intify(el)
			if !isDigits(bs) {
				bs = bs[:len(bs)-1]
			}
			n, err := pyInt(bs)
			if err != nil {
				return nil, err
			}
			v.hasBuild, v.xbuild = true, n
		}
		return v, nil
	case ClassBuildIgnored2017:
		v := &pyVersion{class: c}
		for _, a := range strings.Split(s, ".") {
			v.arcs = append(v.arcs, intify(a))
		}
		if last, ok := v.arcs[len(v.arcs)-1].(string); ok && strings.Contains(last, "-") {
			el, _, _ := strings.Cut(last, "-")
			v.arcs[len(v.arcs)-1] = intify(el)
			v.hasBuild = true
		}
		return v, nil
	case ClassBuildIgnored:
		v := &pyVersion{class: c}
		ver, _, hasBuild := strings.Cut(s, "-")
		v.hasBuild = hasBuild
		for _, a := range strings.Split(ver, ".") {
			v.arcs = append(v.arcs, intify(a))
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown version class %q", c)
}

func isAlpha(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

func parseProduct(c VersionClass, s string) (*pyVersion, error) {
	v := &pyVersion{class: c, build: anyBuild}
	vs, bs, hasBuild := strings.Cut(s, "-")
	if strings.Contains(bs, "-") {
		return nil, raises("%q has more than one '-': ValueError", s)
	}
	el := strings.Split(vs, ".")
	var rel string
	switch {
	case len(el) == 3:
		rel = el[2]
	case len(el) == 2 && c == ClassTwoOrThreeArcs:
		rel = "0"
	default:
		want := "exactly three"
		if c == ClassTwoOrThreeArcs {
			want = "two or three"
		}
		return nil, raises("%q has %d dotted arcs, the class needs %s: ValueError", vs, len(el), want)
	}
	var err error
	if v.major, err = pyInt(el[0]); err != nil {
		return nil, err
	}
	if v.minor, err = pyInt(el[1]); err != nil {
		return nil, err
	}
	if c == ClassThreeArcs {
		if v.release, v.suffix, err = matchDigits("release arc", rel); err != nil {
			return nil, err
		}
	} else if v.release, err = pyInt(rel); err != nil {
		return nil, err
	}
	if hasBuild {
		if bs == "" {
			return nil, raises("empty build after '-': UnboundLocalError")
		}
		if v.build, _, err = matchDigits("build", bs); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// matchDigits is int(re.match("([0-9]+)(.*)", s).group(1)) and group(2):
// no match raises AttributeError.
func matchDigits(what, s string) (int, string, error) {
	d, rest, ok := leadingDigits(s)
	switch {
	case !ok:
		return 0, "", raises("%s %q does not start with a digit: AttributeError", what, s)
	case len(d) > 18:
		return 0, "", raises("%s %q too long", what, s)
	}
	n, _ := strconv.Atoi(d)
	return n, rest, nil
}

// cmpResult is a comparison's outcome: negative, zero, positive, or
// Python 2's None (from xcp.version.arc_cmp falling off its end), which
// orders below every number.
type cmpResult struct {
	n    int
	none bool
}

func (r cmpResult) le() bool { return r.none || r.n <= 0 }
func (r cmpResult) lt() bool { return r.none || r.n < 0 }

// Le is a <= b as the class's __le__ computes it; Lt is a < b.
func (c VersionClass) Le(a, b *pyVersion) (bool, error) {
	if c == ClassThreeArcs || c == ClassTwoOrThreeArcs {
		return productLt(a, b) || productEq(a, b), nil
	}
	r, err := xcpCmp(a, b)
	return r.le(), err
}

// Lt is a < b.
func (c VersionClass) Lt(a, b *pyVersion) (bool, error) {
	if c == ClassThreeArcs || c == ClassTwoOrThreeArcs {
		return productLt(a, b), nil
	}
	r, err := xcpCmp(a, b)
	return r.lt(), err
}

// cmpNumber is product.Version.cmp_version_number: ANY matches all.
func cmpNumber(a, b int) int {
	switch {
	case a == anyBuild || b == anyBuild:
		return 0
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpSuffix is product.Version.cmp_suffix, with its quirk: two different
// non-empty suffixes give Python's s1 < s2, i.e. 1 or 0, never -1.
func cmpSuffix(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	case a < b:
		return 1
	}
	return 0
}

func productLt(a, b *pyVersion) bool {
	if a.major != b.major {
		return a.major < b.major
	}
	if a.minor != b.minor {
		return a.minor < b.minor
	}
	if a.release != b.release {
		return a.release < b.release
	}
	if a.class == ClassThreeArcs {
		return cmpSuffix(a.suffix, b.suffix) == -1
	}
	return cmpNumber(a.build, b.build) == -1
}

func productEq(a, b *pyVersion) bool {
	eq := a.major == b.major && a.minor == b.minor && a.release == b.release && cmpNumber(a.build, b.build) == 0
	if a.class == ClassThreeArcs {
		return eq && a.suffix == b.suffix
	}
	return eq
}

// maxArcDepth bounds arc_cmp's recursion: Python gives up with "maximum
// recursion depth exceeded" where an int meets a string without '-'.
const maxArcDepth = 50

// xcpCmp is ver_build_cmp (ClassArcsBuild) or ver_cmp (later classes).
func xcpCmp(a, b *pyVersion) (cmpResult, error) {
	l, r := append([]any(nil), a.arcs...), append([]any(nil), b.arcs...)
	if a.class == ClassArcsBuild && b.hasBuild {
		lb := -1
		if a.hasBuild {
			lb = a.xbuild
		}
		l, r = append(l, lb), append(r, b.xbuild)
	}
	return verCmp(a.class, l, r, 0)
}

func verCmp(c VersionClass, l, r []any, depth int) (cmpResult, error) {
	for i := 0; i < len(l) && i < len(r); i++ {
		res, err := arcCmp(c, l[i], r[i], depth)
		if err != nil {
			return cmpResult{}, err
		}
		if res.none || res.n != 0 {
			return res, nil
		}
	}
	return cmpResult{n: len(l) - len(r)}, nil
}

func arcCmp(c VersionClass, l, r any, depth int) (cmpResult, error) {
	li, lInt := l.(int)
	ri, rInt := r.(int)
	if c != ClassArcsBuild {
		if !lInt || !rInt {
			return cmpResult{}, raises("arc %v compared with %v by subtraction: TypeError", quoteArc(l), quoteArc(r))
		}
		return cmpResult{n: sign(li - ri)}, nil
	}
	if depth > maxArcDepth {
		return cmpResult{}, raises("arc %v compared with %v: RuntimeError, maximum recursion depth exceeded", quoteArc(l), quoteArc(r))
	}
	ls, _ := l.(string)
	rs, _ := r.(string)
	switch {
	case lInt && rInt:
		return cmpResult{n: sign(li - ri)}, nil
	case !lInt && strings.Contains(ls, "-"):
		switch {
		case !rInt && strings.Contains(rs, "-"):
			return verCmp(c, subArcs(ls), subArcs(rs), depth+1)
		case rInt:
			return verCmp(c, subArcs(ls), []any{ri}, depth+1)
		}
		return cmpResult{none: true}, nil
	case lInt:
		return verCmp(c, []any{li}, subArcs(rs), depth+1)
	}
	return cmpResult{}, raises("arc %v compared with %v: RuntimeError, invalid arc types", quoteArc(l), quoteArc(r))
}

func subArcs(s string) []any {
	var out []any
	for _, p := range strings.Split(s, "-") {
		out = append(out, intify(p))
	}
	return out
}

func quoteArc(a any) string {
	if s, ok := a.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(a)
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// String shows a parsed version the way this package explains it.
func (v *pyVersion) String() string {
	switch v.class {
	case ClassThreeArcs, ClassTwoOrThreeArcs:
		s := fmt.Sprintf("%d.%d.%d%s", v.major, v.minor, v.release, v.suffix)
		if v.build != anyBuild {
			s += fmt.Sprintf(" build %d", v.build)
		}
		return s
	}
	parts := make([]string, len(v.arcs))
	for i, a := range v.arcs {
		if s, ok := a.(string); ok {
			parts[i] = strconv.Quote(s)
		} else {
			parts[i] = fmt.Sprint(a)
		}
	}
	s := "[" + strings.Join(parts, ", ") + "]"
	if v.class == ClassArcsBuild && v.hasBuild {
		s += fmt.Sprintf(" build %d", v.xbuild)
	}
	return s
}
