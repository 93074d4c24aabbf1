package zfsroot

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/internal/lazyre"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
)

// IPS image configuration files, relative to the image root (a zone root).
const (
	ImageFilePkg5     = "var/pkg/pkg5.image"    // image format 4 (Solaris 11)
	ImageFileCfgCache = "var/pkg/cfg_cache"     // formats 2 and 3 (2009.06 – snv_151a)
	ImageFileDisabled = "var/pkg/disabled_auth" // disabled publishers, 2009–2010
	authorityPrefix   = "authority_"
)

// Era is which generation of pkg wrote, and so reads, the configuration;
// it is told from the file itself.
type Era string

const (
	// EraCfgCacheV2: cfg_cache without "[CONFIGURATION] version = 3",
	// written by pkg up to 2010-10 (OpenSolaris 2009.06 – snv_134) and
	// read here as snv_134 pkg reads it (OpenIndiana/pkg5 eced1e4a).
	EraCfgCacheV2 Era = "cfg_cache-v2"
	// EraCfgCacheV3: cfg_cache with "[CONFIGURATION] version = 3",
	// written by pkg from 2010-10 until pkg5.image (2010-11), read with
	// the version 3 definitions as Solaris 11 pkg reads it
	// (OpenIndiana/pkg5 9ecae477).
	EraCfgCacheV3 Era = "cfg_cache-v3"
	// EraPkg5Image: var/pkg/pkg5.image (Solaris 11 and later), read as
	// Solaris 11 pkg reads it (9ecae477, Python 2); what Python 3 pkg
	// (OpenIndiana/pkg5 d5146ea3) refuses is a problem too.
	EraPkg5Image Era = "pkg5.image"
)

// The pkg versions whose reading is reproduced, named in problems.
const (
	PkgSnv134  = "snv_134"   // OpenIndiana/pkg5 eced1e4a, Python 2 SafeConfigParser
	PkgSolaris = "solaris11" // OpenIndiana/pkg5 9ecae477, Python 2, config version 3
	PkgPython3 = "python3"   // OpenIndiana/pkg5 d5146ea3, Python 3 configparser (strict)
)

var (
	dialectSnv134         = pyDialect{}
	dialectSnv134Disabled = pyDialect{lower: true}
	dialectSolaris        = pyDialect{unicode: true}
	dialectPython3        = pyDialect{py3: true, unicode: true}
)

// DefaultReader is the pkg whose reading LoadImage reproduces: the
// Solaris 11 global zone's pkg, which is what acts on a zone image when
// it matters. `zoneadm attach -u` runs the global zone's /usr/bin/pkg on
// the zone root (OpenIndiana/pkg5 src/brand/attach: PKG=/usr/bin/pkg,
// PKG_IMAGE=$ZONEROOT), and that pkg reads even an OpenSolaris cfg_cache
// with the version 3 definitions (9ecae477 image.py __set_dirs: "Assume
// version 3 image"; config.FileConfig without a version takes the highest
// definition). The zone's own snv_134 pkg never runs on it again once
// the zone is moved.
const DefaultReader = PkgSolaris

// Readers lists the pkg readings LoadImageAs reproduces.
var Readers = []string{PkgSolaris, PkgSnv134, PkgPython3}

// ErrReader is returned for a reader that cannot read the file at all
// (snv_134 pkg and a version 3 configuration) or is not one of Readers.
var ErrReader = errors.New("this pkg does not read the configuration")

// ErrNoImage means the directory holds no IPS image configuration.
var ErrNoImage = errors.New("no IPS image configuration (var/pkg/pkg5.image or var/pkg/cfg_cache)")

// Problem is something in the configuration that makes pkg refuse the
// image (Image.Problems), or that pkg accepts but reads otherwise than a
// reader of the file would expect (Image.Notes).
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"` // 0: not one line
	Pkg     string `json:"pkg"`  // PkgSnv134, PkgSolaris or PkgPython3
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", p.File, p.Line, p.Message)
	}
	return p.File + ": " + p.Message
}

// Publisher is one publisher as pkg reads it.
type Publisher struct {
	Name       string   `json:"name"`
	File       string   `json:"file"`    // the file whose section pkg uses
	Section    string   `json:"section"` // authority_<x>; pkg names the publisher by its prefix key
	Line       int      `json:"line"`    // the section's header line
	Shadowed   []string `json:"shadowed"`
	Origins    []string `json:"origins"`
	Mirrors    []string `json:"mirrors"`
	Sticky     bool     `json:"sticky"`
	StickyNote string   `json:"sticky_note,omitempty"`
	Disabled   bool     `json:"disabled"`
	Preferred  bool     `json:"preferred"`
	Rank       int      `json:"search_order"` // 1-based position in the search order pkg uses
	Suspects   []string `json:"suspects"`

	copies []pubCopy // every section holding this publisher, the one pkg uses first
}

// pubCopy is one section that names the publisher, read on its own.
type pubCopy struct {
	file    *iniFile
	section string
	line    int
	sticky  bool
	valid   bool // sticky reads without a problem (a key pkg refuses is invalid)
}

// Image is a zone root's IPS configuration as one era's pkg reads it.
type Image struct {
	File        string // the file pkg reads: ImageFilePkg5 or ImageFileCfgCache
	Era         Era
	Zone        string // variant.opensolaris.zone: "global", "nonglobal" or ""
	Preferred   string
	SearchOrder []string
	Publishers  []Publisher
	Problems    []Problem // what makes this era's pkg refuse the image
	Notes       []Problem // what pkg accepts but reads in a way worth knowing
	// ReadAs is the pkg whose reading this is (PkgSolaris, PkgSnv134 or
	// PkgPython3); Era is the file's own.
	ReadAs string

	main     *iniFile
	disabled *iniFile // disabled_auth, when present
	// blocked are the problems no edit of a publisher can cure (a
	// [DEFAULT] section pkg refuses or that xsrescue cannot model):
	// edits are refused while there are any.
	blocked []Problem
}

// LoadImage reads the image configuration below an image root the way
// pkg's __set_dirs finds it: pkg5.image if it exists, else cfg_cache;
// disabled_auth next to either is merged (docs/zfs.md). It reads it as
// DefaultReader does.
func LoadImage(fsys fs.FS) (*Image, error) { return LoadImageAs(fsys, DefaultReader) }

// LoadImageAs is LoadImage as the given pkg reads the configuration
// (one of Readers; "" is DefaultReader): what it then shows and edits is
// that pkg's reading. snv_134 pkg reads only a cfg_cache written before
// 2010-10 (ErrReader otherwise).
func LoadImageAs(fsys fs.FS, reader string) (*Image, error) {
	if reader == "" {
		reader = DefaultReader
	}
	if !slices.Contains(Readers, reader) {
		return nil, xerr.Invalidf("pkg %q: %w (known: %s)", reader, ErrReader, strings.Join(Readers, ", "))
	}
	file := ImageFilePkg5
	data, err := fs.ReadFile(fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		file = ImageFileCfgCache
		data, err = fs.ReadFile(fsys, file)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoImage
	}
	if err != nil {
		return nil, err
	}
	da, err := fs.ReadFile(fsys, ImageFileDisabled)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		da = nil
	case err != nil:
		return nil, err
	default:
		if da == nil {
			da = []byte{}
		}
	}
	return readImage(file, data, da, reader)
}

// readImage reads main (and disabled_auth when da is not nil) as reader.
func readImage(file string, data, da []byte, reader string) (*Image, error) {
	img := &Image{File: file, Era: EraPkg5Image, ReadAs: reader}
	if file == ImageFileCfgCache {
		img.Era = EraCfgCacheV2
		probe, err := parseINI(data, file, dialectSnv134)
		if err != nil && reader != PkgSnv134 {
			probe, err = parseINI(data, file, dialectSolaris)
		}
		if err != nil && !isUnreadable(err) {
			return nil, err
		}
		// A file no dialect reads has no version to go by: it is the
		// reader's problem below, read as the oldest era.
		if v, ok := probeVersion(probe); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v.value)); err == nil && n == 3 {
				img.Era = EraCfgCacheV3
			} else {
				img.note(file, v.line, PkgSolaris, fmt.Sprintf("[CONFIGURATION] version = %s: not 3; read as a cfg_cache written before 2010-10 (how later pkg reads it is unknown)", v.value))
			}
		}
	}
	if reader == PkgSnv134 && img.Era != EraCfgCacheV2 {
		return nil, xerr.Invalidf("%s (%s): snv_134 pkg: %w: it reads only a cfg_cache without [CONFIGURATION] version = 3", file, img.Era, ErrReader)
	}
	mainDialect, daDialect := dialectSnv134, dialectSnv134Disabled
	if reader != PkgSnv134 {
		// Solaris 11 and Python 3 pkg read every cfg_cache (one written
		// before 2010-10 too) with the version 3 definitions.
		mainDialect = dialectSolaris
		if reader == PkgPython3 {
			mainDialect = dialectPython3
		}
		daDialect = mainDialect
	}
	var err error
	if img.main, err = parseINI(data, file, mainDialect); err != nil {
		return img.unreadable(err, reader, file, data)
	}
	if da != nil {
		if img.disabled, err = parseINI(da, ImageFileDisabled, daDialect); err != nil {
			return img.unreadable(err, reader, file, data)
		}
	}
	if reader == PkgSnv134 {
		img.readV2()
	} else {
		img.readV3(reader)
		if reader == PkgSolaris {
			img.checkPython3(data, da)
		} else {
			img.python3Repeats(img.main, img.disabled)
		}
	}
	if v, ok := img.main.get("variant", "variant.opensolaris.zone"); ok && img.main.sections["variant"] != nil {
		img.Zone = v.value
	}
	return img, nil
}

func probeVersion(f *iniFile) (*pyValue, bool) {
	if f == nil {
		return nil, false
	}
	return f.get("CONFIGURATION", "version")
}

func isUnreadable(err error) bool {
	var u *unreadable
	return errors.As(err, &u)
}

// unreadable records a file the reader's ConfigParser cannot read as what
// it is to pkg: the image refused (config.py FileConfig.__read turns
// ParsingError and MissingSectionHeaderError into InvalidConfigFile; a
// UnicodeDecodeError is a traceback). It is a problem no publisher edit
// cures, so the image is left without publishers and edits refuse. Other
// errors are returned as they are.
func (img *Image) unreadable(err error, reader, file string, data []byte) (*Image, error) {
	var u *unreadable
	if !errors.As(err, &u) {
		return nil, err
	}
	p := Problem{File: u.file, Line: u.line, Pkg: reader, Message: u.msg + ": pkg refuses the image"}
	img.Problems = append(img.Problems, p)
	img.blocked = append(img.blocked, p)
	// Nothing of either file is read: no publishers, no zone variant.
	img.main, img.disabled = &iniFile{name: file, orig: data, sections: map[string]*pySection{}}, nil
	return img, nil
}

// checkDefault is what a [DEFAULT] section does to pkg. Python's
// ConfigParser (2.6, 2.7 and 3) adds DEFAULT's keys to every section
// that items(), options() and get() read. pkg puts each key of [facet]
// into its Facets, whose __setitem__ raises KeyError for a key that does
// not start with "facet." (eced1e4a ImageConfig.read, 9ecae477 and
// d5146ea3 ImageConfig.reset; facet.py): with a [facet] section (pkg
// writes one in every image) and such a key, pkg refuses the image.
// Otherwise snv_134 pkg reads publishers with get(), which the model
// does (DEFAULT included); how the later pkgs, which turn every key of
// every section into a typed property, read it is unknown. disabled_auth
// is read by a parser of its own that pkg takes only [authority_*]
// sections from, so its DEFAULT counts as keys of those sections. A
// DEFAULT without a key changes nothing.
func (img *Image) checkDefault(f *iniFile, pkg string) {
	if f == nil || f.defaults == nil {
		return
	}
	d := f.defaults
	if len(d.order) == 0 {
		// Only the header (and comments): ConfigParser's defaults stay
		// empty, sections() never lists DEFAULT, and items()/get() add
		// nothing — every reader (eced1e4a get(), 9ecae477 and d5146ea3
		// config.py FileConfig __read_config: cp.sections(), cp.items())
		// reads the image as without it.
		img.note(f.name, d.line, pkg, "[DEFAULT] holds no key: ConfigParser adds nothing to any section; read as pkg reads it, as if it were not there")
		return
	}
	block := func(msg string) {
		p := Problem{File: f.name, Line: d.line, Pkg: pkg, Message: msg}
		img.Problems = append(img.Problems, p)
		img.blocked = append(img.blocked, p)
	}
	if f == img.disabled {
		for _, s := range f.order {
			if !strings.HasPrefix(s, authorityPrefix) && pkg != PkgSnv134 {
				block(fmt.Sprintf("[DEFAULT] adds its keys to [%s] too (line %d), which pkg reads as typed properties before it drops the section: whether it accepts them is unknown", s, f.sections[s].line))
				return
			}
		}
		img.note(f.name, d.line, pkg, "[DEFAULT]: ConfigParser adds its keys to every [authority_*] section that lacks them; read so")
		return
	}
	if facet := f.sections["facet"]; facet != nil {
		for _, k := range d.order {
			if !strings.HasPrefix(k, "facet.") {
				block(fmt.Sprintf("[DEFAULT] key %q: ConfigParser adds it to every section, [facet] (line %d) too, and pkg stops: KeyError 'key must start with \"facet\".' — pkg refuses the image (remove the [DEFAULT] section by hand)", k, facet.line))
				return
			}
		}
	}
	if pkg == PkgSnv134 {
		img.note(f.name, d.line, pkg, "[DEFAULT]: ConfigParser adds its keys to every section that lacks them; read so")
		return
	}
	block("[DEFAULT]: ConfigParser adds its keys to every section, and this pkg reads each as a typed property: how it then reads the image is unknown (remove the [DEFAULT] section by hand)")
}

// checkEditable refuses (exit 3) an edit of an image whose reading no
// publisher edit can make right.
func (img *Image) checkEditable() error {
	if len(img.blocked) == 0 {
		return nil
	}
	return xerr.Refusedf("%s: %s; nothing changed", img.File, img.blocked[0])
}

func (img *Image) problem(file string, line int, pkg, msg string) {
	img.Problems = append(img.Problems, Problem{File: file, Line: line, Pkg: pkg, Message: msg})
}

func (img *Image) note(file string, line int, pkg, msg string) {
	img.Notes = append(img.Notes, Problem{File: file, Line: line, Pkg: pkg, Message: msg})
}

// Old reports a cfg_cache image, whose 2009/2010 pkg breaks without a
// publisher.
func (img *Image) Old() bool { return img.File == ImageFileCfgCache }

// Reader names the pkg whose reading Image reproduces.
func (img *Image) Reader() string { return readerName(img.ReadAs) }

func readerName(pkg string) string {
	switch pkg {
	case PkgSnv134:
		return "snv_134 pkg (OpenIndiana/pkg5 eced1e4a)"
	case PkgPython3:
		return "Python 3 pkg (OpenIndiana/pkg5 d5146ea3)"
	}
	return "Solaris 11 pkg (OpenIndiana/pkg5 9ecae477; Python 3 pkg d5146ea3 checked too)"
}

// interp is SafeConfigParser's %-interpolation of a value read with
// get(): "%%" is "%", "%(name)s" another key of the section (or
// DEFAULT); anything else after "%" fails.
func interp(f *iniFile, section, value string, depth int) (string, error) {
	if depth > 10 {
		return "", fmt.Errorf("interpolation deeper than 10 levels (InterpolationDepthError)")
	}
	var b strings.Builder
	for rest := value; rest != ""; {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			end := strings.Index(rest, ")s")
			close := strings.IndexByte(rest, ')')
			if end < 0 || close != end || end == 2 {
				return "", fmt.Errorf("bad interpolation variable reference %q (InterpolationSyntaxError)", rest)
			}
			name := rest[2:end]
			rest = rest[end+2:]
			v, ok := f.get(section, name)
			if !ok {
				return "", fmt.Errorf("%%(%s)s names no key of [%s] (InterpolationMissingOptionError)", name, section)
			}
			if strings.Contains(v.value, "%") {
				s, err := interp(f, section, v.value, depth+1)
				if err != nil {
					return "", err
				}
				b.WriteString(s)
			} else {
				b.WriteString(v.value)
			}
		default:
			return "", fmt.Errorf("'%%' must be followed by '%%' or '(' (InterpolationSyntaxError)")
		}
	}
	return b.String(), nil
}

// --- snv_134 pkg (eced1e4a ImageConfig.read / read_publisher) ---

// v2Keys are the keys snv_134's read_publisher reads with get(), which
// interpolates them.
var v2Keys = []string{"alias", "prefix", "sticky", "disabled", "origin", "origins", "mirrors", "ssl_key", "ssl_cert", "uuid",
	"repo.collection_type", "repo.description", "repo.legal_uris", "repo.name", "repo.refresh_seconds", "repo.registered",
	"repo.registration_uri", "repo.related_uris", "repo.sort_policy"}

var (
	prefixSnv134    = lazyre.New(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9]+\.?)*$`)
	badPrefixSnv134 = lazyre.New(`^.*[^a-zA-Z0-9\-\.]+`)
	prefixSolaris   = lazyre.New(`^[a-zA-Z0-9\[](?:[a-zA-Z0-9\-:]*[a-zA-Z0-9:\]]+\.?)*$`)
	badPrefixHost   = lazyre.New(`^.*[^a-zA-Z0-9\-\.:\[\]]+`)
	prefixPython3   = lazyre.New(`^(?:[a-zA-Z0-9\-]+[a-zA-Z0-9\-\.]*|(?:\d{1,3}\.){3}\d{3}|\[([a-fA-F0-9\.]*:){0,7}[a-fA-F0-9\.]+\])$`)
)

// validPrefix is misc.valid_pub_prefix of each pkg, which Publisher's
// prefix setter applies (BadPublisherPrefix).
func validPrefix(pkg, p string) bool {
	if p == "" {
		return false
	}
	switch pkg {
	case PkgSnv134:
		return !badPrefixSnv134().MatchString(p) && prefixSnv134().MatchString(p)
	case PkgSolaris:
		return !badPrefixHost().MatchString(p) && prefixSolaris().MatchString(p)
	}
	return !badPrefixHost().MatchString(p) && prefixPython3().MatchString(p)
}

// pyBoolStates is ConfigParser.getboolean's table.
var pyBoolStates = map[string]bool{"1": true, "yes": true, "true": true, "on": true, "0": false, "no": false, "false": false, "off": false}

func (img *Image) readV2() {
	img.checkDefault(img.main, PkgSnv134)
	img.checkDefault(img.disabled, PkgSnv134)
	// filter, variant and facet values are read with get(), which
	// interpolates them.
	for _, s := range []string{"filter", "variant", "facet"} {
		if img.main.sections[s] == nil {
			continue
		}
		for _, k := range img.main.items(s) {
			v, _ := img.main.get(s, k)
			if _, err := interp(img.main, s, v.value, 1); err != nil {
				img.problem(img.main.name, v.line, PkgSnv134, fmt.Sprintf("[%s] %s: %v: pkg fails", s, k, err))
			}
		}
	}
	pubs := map[string]*Publisher{}
	var firstPrefix string
	unknown := "" // how the main file's section order is unknown
	for _, f := range []*iniFile{img.main, img.disabled} {
		if f == nil {
			continue
		}
		order, why := snv134SectionOrder(f)
		if why != "" {
			order = f.order
			if f == img.main {
				unknown = why
			}
		}
		for _, s := range order {
			if !strings.HasPrefix(s, authorityPrefix) {
				continue
			}
			p, ok := img.readPublisherV2(f, s)
			if !ok {
				continue
			}
			if firstPrefix == "" && f == img.main {
				firstPrefix = p.Name
			}
			if old, dup := pubs[p.Name]; dup {
				// disabled_auth is read after cfg_cache, and a later
				// section replaces an earlier one of the same prefix.
				p.copies = append(p.copies, old.copies...)
				switch {
				case old.File != f.name:
				case why == "":
					img.note(f.name, p.Line, PkgSnv134, fmt.Sprintf("[%s] and [%s] (line %d) both name publisher %s: pkg uses [%s], the later in ConfigParser's section order (a Python 2.6 dict's, computed)", p.Section, old.Section, old.Line, p.Name, p.Section))
				default:
					img.note(f.name, p.Line, PkgSnv134, fmt.Sprintf("[%s] and [%s] (line %d) both name publisher %s: pkg uses the later in ConfigParser's section order, which is unknown: %s; shown: the later in the file", p.Section, old.Section, old.Line, p.Name, why))
				}
			}
			pubs[p.Name] = p
		}
	}
	props := map[string]*pyValue{}
	for _, s := range []string{"policy", "property"} {
		if img.main.sections[s] == nil {
			continue // has_section: no DEFAULT keys without the section
		}
		for _, k := range img.main.items(s) {
			v, _ := img.main.get(s, k)
			props[k] = v
		}
	}
	preferred := firstPrefix
	if v, ok := props["preferred-publisher"]; ok {
		preferred = v.value
	} else if v, ok := props["preferred-authority"]; ok {
		preferred = v.value
	} else if countSections(img.main) > 1 && unknown == "" {
		img.note(img.main.name, 0, PkgSnv134, fmt.Sprintf("no preferred-authority: pkg takes the publisher of the first [authority_*] section in ConfigParser's section order (a Python 2.6 dict's, computed): %s", firstPrefix))
	} else if countSections(img.main) > 1 {
		img.note(img.main.name, 0, PkgSnv134, fmt.Sprintf("no preferred-authority: pkg takes the publisher of the first [authority_*] section in ConfigParser's section order, which is unknown: %s; shown: the first in the file", unknown))
	}
	var order []string
	if v, ok := props["publisher-search-order"]; ok {
		order = readList(v.value)
		for _, name := range dedupe(order) {
			if _, known := pubs[name]; !known {
				i := slices.Index(order, name)
				order = slices.Delete(order, i, i+1)
			}
		}
		var add []string
		for name := range pubs {
			if !slices.Contains(order, name) {
				add = append(add, name)
			}
		}
		sort.Strings(add)
		order = append(order, add...)
	} else {
		order = []string{preferred}
		var rest []string
		for name := range pubs {
			if name != preferred {
				rest = append(rest, name)
			}
		}
		sort.Strings(rest)
		order = append(order, rest...)
		if preferred != "" {
			if _, known := pubs[preferred]; !known {
				line := 0
				if v, ok := props["preferred-authority"]; ok {
					line = v.line
				}
				img.problem(img.main.name, line, PkgSnv134, fmt.Sprintf("no publisher-search-order, and the preferred publisher %q has no section: pkg fails looking it up (KeyError)", preferred))
			}
		}
	}
	img.SearchOrder = slices.DeleteFunc(order, func(s string) bool { return s == "" })
	for _, name := range order {
		if p, ok := pubs[name]; ok && !p.Disabled {
			img.Preferred = name
			break
		}
	}
	if img.Preferred == "" && len(pubs) > 0 {
		img.problem(img.main.name, 0, PkgSnv134, "no enabled publisher: pkg has no preferred publisher (KeyError \"No preferred publisher\")")
	}
	if len(pubs) == 0 {
		img.problem(img.main.name, 0, PkgSnv134, "no [authority_*] section: pkg needs at least one publisher")
	}
	img.finish(pubs)
}

func countSections(f *iniFile) int {
	n := 0
	for _, s := range f.order {
		if strings.HasPrefix(s, authorityPrefix) {
			n++
		}
	}
	return n
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// readPublisherV2 is eced1e4a read_publisher for one section; ok is
// false when pkg fails on it (the problem is recorded).
func (img *Image) readPublisherV2(f *iniFile, s string) (*Publisher, bool) {
	sec := f.sections[s]
	vals := map[string]string{}
	lines := map[string]int{}
	ok := true
	for _, k := range v2Keys {
		v, has := f.get(s, k)
		if !has {
			continue
		}
		val, err := interp(f, s, v.value, 1)
		if err != nil {
			img.problem(f.name, v.line, PkgSnv134, fmt.Sprintf("[%s] %s: %v: pkg fails", s, k, err))
			ok = false
			continue
		}
		vals[k], lines[k] = val, v.line
	}
	p := &Publisher{File: f.name, Section: s, Line: sec.line, Origins: []string{}, Mirrors: []string{}, Shadowed: []string{}}
	if _, has := f.get(s, "prefix"); !has {
		img.problem(f.name, sec.line, PkgSnv134, fmt.Sprintf("[%s] has no prefix key: pkg fails (NoOptionError)", s))
		return nil, false
	}
	prefix, has := vals["prefix"]
	switch {
	case !has:
		return nil, false // its interpolation failed, reported above
	case strings.HasPrefix(prefix, "_PRE"):
		img.problem(f.name, lines["prefix"], PkgSnv134, fmt.Sprintf("[%s] prefix %q: pkg refuses it (\"Invalid Publisher name\")", s, prefix))
		return nil, false
	case !validPrefix(PkgSnv134, prefix):
		img.problem(f.name, lines["prefix"], PkgSnv134, fmt.Sprintf("[%s] prefix %q is not a valid publisher name: pkg fails (BadPublisherPrefix)", s, prefix))
		return nil, false
	}
	p.Name = prefix
	img.caseNotes(f, s, PkgSnv134)
	p.Sticky = true
	if v, has := vals["sticky"]; has {
		if b, known := pyBoolStates[pyLower(v, false)]; known {
			p.Sticky = b
		} else {
			p.StickyNote = fmt.Sprintf("sticky = %s is not a boolean: snv_134 pkg reads True", v)
		}
	} else if _, has := f.get(s, "sticky"); !has {
		p.StickyNote = "no sticky key: True for snv_134 pkg"
	}
	if v, has := vals["disabled"]; has {
		p.Disabled = pyLower(v, false) == "true" || pyLower(v, false) == "yes"
	}
	for _, k := range []string{"origin", "mirrors"} {
		if _, has := f.get(s, k); !has {
			img.problem(f.name, sec.line, PkgSnv134, fmt.Sprintf("[%s] has no %s key: pkg fails (NoOptionError)", s, k))
			ok = false
		}
	}
	if v, has := vals["origins"]; has && v != "None" {
		p.Origins = appendNew(p.Origins, readList(v)...)
	}
	if v, has := vals["origin"]; has && v != "None" {
		p.Origins = appendNew(p.Origins, v)
	}
	if v, has := vals["mirrors"]; has && v != "None" {
		p.Mirrors = appendNew(p.Mirrors, readList(v)...)
	}
	p.copies = []pubCopy{{file: f, section: s, line: sec.line, sticky: p.Sticky, valid: true}}
	return p, ok
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

// --- Solaris 11 and Python 3 pkg (config version 3) ---

// readV3 reads img.main and img.disabled with the version 3 definitions
// (9ecae477 / d5146ea3 ImageConfig.reset and read_publisher) as pkg.
func (img *Image) readV3(pkg string) {
	img.checkDefault(img.main, pkg)
	img.checkDefault(img.disabled, pkg)
	files := []*iniFile{img.main}
	if img.disabled != nil {
		files = append(files, img.disabled)
	}
	get := func(f *iniFile, s, k string) (string, int, bool) {
		v, ok := f.get(s, k)
		if !ok {
			return "", 0, false
		}
		if pkg != PkgSolaris {
			return v.value, v.line, true
		}
		val, err := interp(f, s, v.value, 1)
		if err != nil {
			return "", v.line, false
		}
		return val, v.line, true
	}
	if pkg == PkgSolaris {
		// SafeConfigParser.items() interpolates every value of every
		// section but [CONFIGURATION]; one failure is a traceback.
		for _, f := range files {
			for _, s := range f.order {
				if s == "CONFIGURATION" {
					continue
				}
				for _, k := range f.items(s) {
					v, _ := f.get(s, k)
					if _, err := interp(f, s, v.value, 1); err != nil {
						img.problem(f.name, v.line, pkg, fmt.Sprintf("[%s] %s: %v: pkg fails", s, k, err))
					}
				}
			}
		}
	}
	// disabled_auth's [authority_*] sections replace the main file's
	// sections of the same name (Config.add_section).
	type sect struct {
		f    *iniFile
		name string
	}
	var sections []sect
	byName := map[string]int{}
	for _, f := range files {
		for _, s := range f.order {
			if !strings.HasPrefix(s, authorityPrefix) {
				continue
			}
			if len(f.items(s)) == 0 {
				// FileConfig.__read adds a section at its first
				// item (cp.items(), DEFAULT's included): one
				// without keys does not exist for pkg.
				img.note(f.name, f.sections[s].line, pkg, fmt.Sprintf("[%s] has no keys: pkg never adds the section and ignores it", s))
				continue
			}
			if _, ok := byName[s]; ok {
				// Config.add_section asserts the section is new:
				// pkg stops with an AssertionError.
				img.problem(f.name, f.sections[s].line, pkg, fmt.Sprintf("[%s] is in %s too (line %d): pkg fails merging disabled_auth (AssertionError in Config.add_section)", s, img.main.name, img.main.sections[s].line))
				sections[byName[s]] = sect{f, s}
				continue
			}
			byName[s] = len(sections)
			sections = append(sections, sect{f, s})
		}
	}
	// Python 3 pkg reads sections in sorted order; Solaris 11 pkg in the
	// order of Python 2 dicts, computed (py2AuthorityOrder) where every
	// Python 2 interpreter it may run on gives the same — else unknown,
	// and shown as Python 3 pkg's.
	sort.SliceStable(sections, func(i, j int) bool { return sections[i].name < sections[j].name })
	py2Order, py2Unknown := []string(nil), ""
	if pkg == PkgSolaris {
		py2Order, py2Unknown = solarisSectionOrder(img.main, img.disabled)
	}
	if py2Order != nil {
		rank := map[string]int{}
		for i, s := range py2Order {
			rank[s] = i
		}
		// Sections missing from the computed order (none should be:
		// it holds every section pkg adds) last.
		sort.SliceStable(sections, func(i, j int) bool {
			ri, iok := rank[sections[i].name]
			rj, jok := rank[sections[j].name]
			if iok != jok {
				return iok
			}
			return iok && ri < rj
		})
	}
	for i, sc := range sections {
		byName[sc.name] = i
	}
	pubs := map[string]*Publisher{}
	var inOrder []string // prefixes in the order the sections were read
	for _, sc := range sections {
		f, s := sc.f, sc.name
		sec := f.sections[s]
		p := &Publisher{File: f.name, Section: s, Line: sec.line, Origins: []string{}, Mirrors: []string{}, Shadowed: []string{}}
		stickyOK := true
		prefix, pl, has := get(f, s, "prefix")
		if has && prefix == "None" {
			prefix = ""
		}
		if prefix == "" || !validPrefix(pkg, prefix) {
			line := pl
			if line == 0 {
				line = sec.line
			}
			what := "no prefix key"
			if has && prefix != "" {
				what = fmt.Sprintf("prefix %q is not a valid publisher name", prefix)
			}
			img.problem(f.name, line, pkg, fmt.Sprintf("[%s]: %s: pkg refuses the image (InvalidPropertyValueError / BadPublisherPrefix)", s, what))
			continue
		}
		p.Name = prefix
		img.caseNotes(f, s, pkg)
		for _, k := range []string{"sticky", "disabled"} {
			v, line, has := get(f, s, k)
			b := false
			if has {
				switch strings.ToLower(v) {
				case "true":
					b = true
				case "false", "":
				default:
					if k == "sticky" {
						stickyOK = false
						p.StickyNote = fmt.Sprintf("sticky = %s is not True or False: pkg refuses the image", v)
					}
					img.problem(f.name, line, pkg, fmt.Sprintf("[%s] %s = %s: not True or False: pkg refuses the image (InvalidPropertyValueError)", s, k, v))
				}
			} else if k == "sticky" {
				p.StickyNote = "no sticky key: False in a version 3 configuration"
				if img.Era == EraCfgCacheV2 {
					p.StickyNote = "no sticky key: False for this pkg, which reads the file with the version 3 definitions (snv_134 pkg, which wrote it, read True)"
				}
			}
			if k == "sticky" {
				p.Sticky = b
			} else {
				p.Disabled = b
			}
		}
		for _, k := range []string{"origins", "mirrors"} {
			v, line, has := get(f, s, k)
			if !has || v == "None" || v == "" {
				continue
			}
			list, err := pyList(v)
			if err != nil {
				img.problem(f.name, line, pkg, fmt.Sprintf("[%s] %s: %v: pkg refuses the image (InvalidPropertyValueError)", s, k, err))
				continue
			}
			if k == "origins" {
				p.Origins = appendNew(p.Origins, list...)
			} else {
				p.Mirrors = appendNew(p.Mirrors, list...)
			}
		}
		if v, _, has := get(f, s, "origin"); has && v != "None" && v != "" {
			p.Origins = appendNew(p.Origins, v)
		}
		p.copies = []pubCopy{{file: f, section: s, line: sec.line, sticky: p.Sticky, valid: stickyOK}}
		if old, dup := pubs[prefix]; dup {
			switch {
			case pkg == PkgPython3:
				img.note(f.name, p.Line, pkg, fmt.Sprintf("[%s] and [%s] both name publisher %s: Python 3 pkg uses the later in sorted order, [%s]", s, old.Section, prefix, s))
			case py2Order != nil:
				img.note(f.name, p.Line, pkg, fmt.Sprintf("[%s] and [%s] both name publisher %s: Solaris 11 pkg uses [%s], the later in the order it reads sections (Python 2 dicts' order, computed)", s, old.Section, prefix, s))
			default:
				img.note(f.name, p.Line, pkg, fmt.Sprintf("[%s] and [%s] both name publisher %s: Solaris 11 pkg uses the later in the order it reads sections, which is unknown: %s; shown: [%s], Python 3 pkg's choice", s, old.Section, prefix, py2Unknown, s))
			}
			p.copies = append(p.copies, old.copies...)
		} else {
			inOrder = append(inOrder, prefix)
		}
		pubs[prefix] = p
	}
	// The main file's copies of sections that disabled_auth replaced:
	// pkg ignores them, an edit keeps them in step.
	if img.disabled != nil {
		for _, s := range img.main.order {
			i, ok := byName[s]
			if !ok || sections[i].f != img.disabled {
				continue
			}
			v, _, has := get(img.main, s, "prefix")
			if p := pubs[v]; has && p != nil {
				sv, _, _ := get(img.main, s, "sticky")
				p.copies = append(p.copies, pubCopy{file: img.main, section: s, line: img.main.sections[s].line,
					sticky: strings.EqualFold(sv, "true"), valid: strings.EqualFold(sv, "true") || strings.EqualFold(sv, "false")})
			}
		}
	}
	var order []string
	if v, line, has := get(img.main, "property", "publisher-search-order"); has && v != "" {
		list, err := pyList(v)
		if err != nil {
			img.problem(img.main.name, line, pkg, fmt.Sprintf("[property] publisher-search-order: %v: pkg refuses the image (InvalidPropertyValueError)", err))
		}
		order = list
	}
	var unlisted []string
	for _, name := range inOrder {
		if !slices.Contains(order, name) {
			order = append(order, name)
			unlisted = append(unlisted, name)
		}
	}
	for _, name := range dedupe(order) {
		if _, known := pubs[name]; !known {
			i := slices.Index(order, name)
			order = slices.Delete(order, i, i+1)
		}
	}
	if len(unlisted) > 1 && pkg == PkgSolaris {
		if py2Order != nil {
			img.note(img.main.name, 0, pkg, fmt.Sprintf("publishers %s are not in publisher-search-order: Solaris 11 pkg appends them in the order it reads their sections (Python 2 dicts' order, computed; shown)", strings.Join(unlisted, ", ")))
		} else {
			img.note(img.main.name, 0, pkg, fmt.Sprintf("publishers %s are not in publisher-search-order: Solaris 11 pkg appends them in the order it reads their sections, which is unknown: %s; shown: Python 3 pkg's order (sorted by section)", strings.Join(unlisted, ", "), py2Unknown))
		}
	}
	img.SearchOrder = order
	if len(order) > 0 {
		img.Preferred = order[0]
	}
	img.finish(pubs)
}

// checkPython3 reads the files again as Python 3 pkg does and lists what
// it refuses (a repeated section or key: DuplicateSectionError,
// DuplicateOptionError) or reads otherwise.
func (img *Image) checkPython3(data, da []byte) {
	main, err := parseINI(data, img.File, dialectPython3)
	var disabled *iniFile
	if err == nil && da != nil {
		disabled, err = parseINI(da, ImageFileDisabled, dialectPython3)
	}
	if err != nil {
		var u *unreadable
		if errors.As(err, &u) {
			img.problem(u.file, u.line, PkgPython3, "Python 3 pkg cannot read the file: "+u.msg)
		}
		return
	}
	img.python3Repeats(main, disabled)
	py3 := &Image{File: img.File, Era: img.Era, main: main, disabled: disabled}
	py3.readV3(PkgPython3)
	img.blocked = append(img.blocked, py3.blocked...)
	for _, p := range py3.Problems {
		if !slices.ContainsFunc(img.Problems, func(q Problem) bool { return q.File == p.File && q.Line == p.Line }) {
			img.Problems = append(img.Problems, p)
		}
	}
	if len(py3.Problems) > 0 {
		return
	}
	for _, p := range img.Publishers {
		q, ok := py3.Publisher(p.Name)
		if ok && (q.Sticky != p.Sticky || q.Disabled != p.Disabled) {
			img.note(q.File, q.Line, PkgPython3, fmt.Sprintf("Python 3 pkg reads publisher %s as sticky=%v disabled=%v", p.Name, q.Sticky, q.Disabled))
		}
	}
}

// python3Repeats lists what Python 3 pkg refuses in files read with its
// dialect: a repeated section or key.
func (img *Image) python3Repeats(main, disabled *iniFile) {
	for _, f := range []*iniFile{main, disabled} {
		if f == nil {
			continue
		}
		for _, r := range f.repeats {
			what := "DuplicateOptionError"
			if r.key == "" {
				what = "DuplicateSectionError"
			}
			msg := fmt.Sprintf("%s: Python 3 pkg refuses the file (%s); Solaris 11 pkg merges it, the last value winning", strings.TrimPrefix(r.String(), fmt.Sprintf("line %d: ", r.line)), what)
			img.problem(f.name, r.line, PkgPython3, msg)
		}
	}
}

// finish orders the publishers by the search order and marks ranks.
func (img *Image) finish(pubs map[string]*Publisher) {
	img.Publishers = nil
	for _, p := range pubs {
		p.Rank = slices.Index(img.SearchOrder, p.Name) + 1
		p.Preferred = p.Name == img.Preferred
		for _, c := range p.copies[1:] {
			p.Shadowed = append(p.Shadowed, fmt.Sprintf("%s [%s] line %d", c.file.name, c.section, c.line))
		}
		img.Publishers = append(img.Publishers, *p)
	}
	sort.Slice(img.Publishers, func(i, j int) bool {
		a, b := img.Publishers[i], img.Publishers[j]
		if (a.Rank == 0) != (b.Rank == 0) {
			return b.Rank == 0
		}
		if a.Rank != b.Rank {
			return a.Rank < b.Rank
		}
		return a.Name < b.Name
	})
	for _, f := range []*iniFile{img.main, img.disabled} {
		if f == nil || img.ReadAs != PkgSnv134 {
			continue
		}
		for _, r := range f.repeats {
			img.note(f.name, r.line, PkgSnv134, r.String()[len(fmt.Sprintf("line %d: ", r.line)):]+": pkg merges it, the last value winning")
		}
	}
}

var tempPublisher = lazyre.New(`^za[0-9]+$`)

// deadHosts no longer serve IPS repositories: pkg.opensolaris.org was shut
// down after Oracle renamed the publisher, and localhost:10000 is the
// attach script's temporary depot.
var deadHosts = map[string]string{
	"pkg.opensolaris.org": "pkg.opensolaris.org no longer serves packages",
	"localhost":           "the temporary depot of a zone attach, gone once attach ends",
	"127.0.0.1":           "the temporary depot of a zone attach, gone once attach ends",
}

// FlagSuspects marks publishers that commonly make `zoneadm attach -u`
// fail. global is the global zone's image (nil when unknown).
func (img *Image) FlagSuspects(global *Image) {
	for i := range img.Publishers {
		p := &img.Publishers[i]
		p.Suspects = []string{}
		if global != nil && !slices.ContainsFunc(global.Publishers, func(g Publisher) bool { return g.Name == p.Name }) {
			p.Suspects = append(p.Suspects, "zone-only: the global zone has no publisher "+p.Name+", so attach leaves it as is")
		}
		if tempPublisher().MatchString(p.Name) {
			p.Suspects = append(p.Suspects, "leftover temporary publisher of an interrupted zone attach")
		}
		if p.Name == "opensolaris.org" && p.Sticky {
			p.Suspects = append(p.Suspects, "sticky opensolaris.org: installed packages cannot move to the solaris publisher")
		}
		for _, o := range p.Origins {
			if u, err := url.Parse(o); err == nil {
				if why, dead := deadHosts[u.Hostname()]; dead {
					p.Suspects = append(p.Suspects, "dead origin "+o+": "+why)
				}
			}
		}
	}
}

// Publisher returns the named publisher.
func (img *Image) Publisher(name string) (Publisher, bool) {
	i := slices.IndexFunc(img.Publishers, func(p Publisher) bool { return p.Name == name })
	if i < 0 {
		return Publisher{}, false
	}
	return img.Publishers[i], true
}

// ErrNotZoneImage refuses edits of an image that is not a non-global zone.
var ErrNotZoneImage = errors.New("not a non-global zone image")

// CheckZone refuses (exit 3) an image whose variant.opensolaris.zone is not
// "nonglobal": editing a global zone's publishers offline is not what the
// zone remedies are for.
func (img *Image) CheckZone() error {
	if err := img.checkEditable(); err != nil {
		// Whatever the zone variant, no edit is possible, and an
		// unreadable file has no variant to tell.
		return err
	}
	if img.Zone != "nonglobal" {
		return xerr.Refused(fmt.Errorf("%s: [variant] variant.opensolaris.zone is %q: %w (use --force to edit anyway)", img.File, img.Zone, ErrNotZoneImage))
	}
	return nil
}

// ErrNoPublisher means the image has no such publisher.
var ErrNoPublisher = errors.New("no such publisher")

// UnsetPublisherPlan removes a publisher the way `pkg unset-publisher`
// changes the configuration: every section that holds it (in
// disabled_auth too), its entry in publisher-search-order, and, for a
// cfg_cache written before 2010-10, a preferred-authority that named it
// moved to the new first publisher (snv_134 pkg's write() does that;
// later pkg leaves preferred-authority alone and nothing reads it). It
// refuses to leave an image without an enabled publisher. An absent
// publisher gives an empty plan.
func (img *Image) UnsetPublisherPlan(name string) (*plan.Plan, error) {
	pl := &plan.Plan{Command: "zone unset-publisher"}
	if err := img.checkEditable(); err != nil {
		return nil, err
	}
	p, ok := img.Publisher(name)
	if !ok {
		return pl, nil
	}
	var left []string
	for _, o := range img.SearchOrder {
		if q, _ := img.Publisher(o); o != name && !q.Disabled {
			left = append(left, o)
		}
	}
	if len(left) == 0 {
		why := "what preferred-authority should then name is not documented for this format"
		if img.Old() {
			why = "2009/2010 pkg breaks on an image without one"
		}
		return nil, xerr.Refusedf("%s: removing %s would leave no enabled publisher (%s): set another publisher first", img.File, name, why)
	}
	for _, c := range p.copies {
		c.file.removeSection(c.section)
	}
	if v, ok := img.main.get("property", "publisher-search-order"); ok && img.main.sections["property"] != nil && img.main.sections["property"].keys["publisher-search-order"] != nil {
		var order []string
		if img.ReadAs == PkgSnv134 {
			order = readList(v.value)
		} else if order, _ = pyList(v.value); order == nil {
			order = img.SearchOrder
		}
		order = slices.DeleteFunc(order, func(s string) bool { return s == name })
		img.main.set("property", "publisher-search-order", formatPyList(order, v.value))
	}
	if img.Era == EraCfgCacheV2 {
		for _, key := range []string{"preferred-publisher", "preferred-authority"} {
			if v, ok := img.main.get("property", key); ok && v.value == name && img.main.sections["property"] != nil {
				next := slices.DeleteFunc(slices.Clone(img.SearchOrder), func(s string) bool { return s == name })
				img.main.set("property", key, next[0])
			}
		}
	}
	why := "remove publisher " + name
	return img.finishEdit(pl, why, func(after *Image) error {
		if _, still := after.Publisher(name); still {
			return fmt.Errorf("publisher %s would still be read", name)
		}
		return nil
	})
}

// SetStickyPlan sets sticky in every section that holds the publisher
// (the one pkg uses and any copy it ignores, so that no pkg reads
// otherwise), adding the key where it is missing — whose meaning differs
// by era: True for snv_134 pkg, False in a version 3 configuration — and
// removing repeats of it. Every copy already reading as asked gives an
// empty plan.
func (img *Image) SetStickyPlan(name string, sticky bool) (*plan.Plan, error) {
	pl := &plan.Plan{Command: "zone set-sticky"}
	if err := img.checkEditable(); err != nil {
		return nil, err
	}
	p, ok := img.Publisher(name)
	if !ok {
		return nil, xerr.Invalidf("%s: publisher %q: %w", img.File, name, ErrNoPublisher)
	}
	v := "False"
	if sticky {
		v = "True"
	}
	var removed []string
	for _, c := range p.copies {
		// A missing key reads True for snv_134 pkg and False for the
		// later ones: written explicitly, every pkg reads the same.
		n := len(c.file.keyLines(c.section, "sticky"))
		if c.sticky == sticky && c.valid && n == 1 {
			continue
		}
		for _, n := range c.file.set(c.section, "sticky", v) {
			removed = append(removed, fmt.Sprintf("%s line %d", c.file.name, n))
		}
	}
	why := fmt.Sprintf("set publisher %s sticky = %s", name, v)
	if len(removed) > 0 {
		why += " (removed the repeated sticky at " + strings.Join(removed, ", ") + ", which pkg would otherwise read)"
	}
	return img.finishEdit(pl, why, func(after *Image) error {
		q, ok := after.Publisher(name)
		if !ok || q.Sticky != sticky {
			return fmt.Errorf("pkg would read sticky = %v", q.Sticky)
		}
		return nil
	})
}

// finishEdit adds a Write for each changed file, reads the result again as
// the era's pkg would and refuses (exit 3, nothing written) a result that
// does not read as intended or that pkg would refuse where it did not
// before.
func (img *Image) finishEdit(pl *plan.Plan, why string, check func(*Image) error) (*plan.Plan, error) {
	var da []byte
	if img.disabled != nil {
		da = img.disabled.bytes()
	}
	changed := false
	for _, f := range []*iniFile{img.main, img.disabled} {
		if f == nil {
			continue
		}
		if b := f.bytes(); !bytes.Equal(b, f.orig) {
			pl.Changes = append(pl.Changes, plan.Change{Kind: plan.Write, Path: f.name, Content: b, Why: why})
			changed = true
		}
	}
	if !changed {
		return pl, nil
	}
	after, err := readImage(img.File, img.main.bytes(), da, img.ReadAs)
	if err == nil {
		err = check(after)
	}
	if err == nil {
		if others := img.otherReadings(img.main.bytes(), da, check); others != "" {
			for i := range pl.Changes {
				pl.Changes[i].Why += "; " + others
			}
		}
	}
	if err == nil {
		for _, q := range after.Problems {
			if !slices.ContainsFunc(img.Problems, func(p Problem) bool { return sameProblem(p, q) }) {
				err = fmt.Errorf("pkg would refuse the result: %s", q)
				break
			}
		}
	}
	if err != nil {
		return nil, xerr.Refusedf("%s: %s: the edited configuration would not read as intended (%v); nothing changed", img.File, why, err)
	}
	return pl, nil
}

// otherReadings says how the pkgs other than img.ReadAs that read this
// file read the edited one, when not as intended ("" when all do).
func (img *Image) otherReadings(data, da []byte, check func(*Image) error) string {
	var out []string
	for _, r := range Readers {
		if r == img.ReadAs || (r == PkgSnv134 && img.Era != EraCfgCacheV2) || (r == PkgPython3 && img.ReadAs == PkgSolaris) {
			continue // Python 3's refusals are part of the Solaris 11 reading
		}
		other, err := readImage(img.File, data, da, r)
		if err == nil {
			err = check(other)
		}
		if err == nil && len(other.Problems) > 0 {
			err = fmt.Errorf("it refuses the image: %s", other.Problems[0])
		}
		if err != nil {
			out = append(out, fmt.Sprintf("WARNING: %s does not read the result as intended (%v)", readerName(r), err))
		}
	}
	return strings.Join(out, "; ")
}

var digits = lazyre.New(`[0-9]+`)

// sameProblem compares problems across an edit, which moves lines.
func sameProblem(p, q Problem) bool {
	return p.File == q.File && p.Pkg == q.Pkg && digits().ReplaceAllString(p.Message, "#") == digits().ReplaceAllString(q.Message, "#")
}

// caseNotes notes keys of a publisher section that differ from a key pkg
// reads only in case: pkg's keys are case-sensitive (optionxform is str
// or the identity), so "Sticky" is ignored.
func (img *Image) caseNotes(f *iniFile, section, pkg string) {
	if f.dialect.lower || f.dialect.py3 {
		return
	}
	for _, k := range f.sections[section].order {
		for _, known := range []string{"prefix", "sticky", "disabled", "origin", "origins", "mirrors"} {
			if k != known && strings.EqualFold(k, known) {
				v := f.sections[section].keys[k]
				img.note(f.name, v.line, pkg, fmt.Sprintf("[%s] key %q is not %q: pkg ignores it (keys are case-sensitive)", section, k, known))
			}
		}
	}
}
