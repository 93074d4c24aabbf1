package zfsroot

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
)

// IPS image configuration files, relative to the image root (a zone root).
const (
	ImageFilePkg5     = "var/pkg/pkg5.image"    // image format 4 (Solaris 11)
	ImageFileCfgCache = "var/pkg/cfg_cache"     // formats 2 and 3 (2009.06 – snv_151a)
	ImageFileDisabled = "var/pkg/disabled_auth" // disabled publishers, 2009–2010
	authorityPrefix   = "authority_"
)

// ErrNoImage means the directory holds no IPS image configuration.
var ErrNoImage = errors.New("no IPS image configuration (var/pkg/pkg5.image or var/pkg/cfg_cache)")

// Publisher is one [authority_<prefix>] section, as pkg would read it.
type Publisher struct {
	Name      string   `json:"name"`
	File      string   `json:"file"`
	Origins   []string `json:"origins"`
	Mirrors   []string `json:"mirrors"`
	Sticky    bool     `json:"sticky"`
	Disabled  bool     `json:"disabled"`
	Preferred bool     `json:"preferred"`
	Rank      int      `json:"search_order"` // 1-based position in publisher-search-order; 0: not listed
	Suspects  []string `json:"suspects"`

	section string // [authority_<x>]; pkg trusts the prefix key over x
}

// Image is a zone root's IPS configuration.
type Image struct {
	File        string // the file pkg reads: ImageFilePkg5 or ImageFileCfgCache
	Zone        string // variant.opensolaris.zone: "global", "nonglobal" or ""
	Preferred   string
	SearchOrder []string
	Publishers  []Publisher

	main     *iniFile
	disabled *iniFile // disabled_auth, only for cfg_cache images
}

// LoadImage reads the image configuration below an image root, the way
// pkg's __set_dirs does: pkg5.image if it exists, else cfg_cache plus
// disabled_auth.
func LoadImage(fsys fs.FS) (*Image, error) {
	img := &Image{File: ImageFilePkg5}
	data, err := fs.ReadFile(fsys, ImageFilePkg5)
	if errors.Is(err, fs.ErrNotExist) {
		img.File = ImageFileCfgCache
		data, err = fs.ReadFile(fsys, ImageFileCfgCache)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoImage
	}
	if err != nil {
		return nil, err
	}
	if img.main, err = parseINI(data, img.File); err != nil {
		return nil, err
	}
	if img.File == ImageFileCfgCache {
		data, err := fs.ReadFile(fsys, ImageFileDisabled)
		switch {
		case err == nil:
			if img.disabled, err = parseINI(data, ImageFileDisabled); err != nil {
				return nil, err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	return img, img.load()
}

// Old reports a pre-2011 image (cfg_cache), whose pkg breaks without a
// publisher and reads values with % interpolation.
func (img *Image) Old() bool { return img.File == ImageFileCfgCache }

func (img *Image) load() error {
	img.Zone, _ = img.main.get("variant", "variant.opensolaris.zone")
	img.Publishers = nil
	for _, f := range []*iniFile{img.main, img.disabled} {
		if f == nil {
			continue
		}
		for _, s := range f.sections() {
			name, ok := strings.CutPrefix(s, authorityPrefix)
			if !ok {
				continue
			}
			p, err := readPublisher(f, s, name)
			if err != nil {
				return err
			}
			if _, dup := img.Publisher(p.Name); dup {
				continue // ConfigParser merges a repeated section; its first keys win here
			}
			if f == img.disabled {
				p.Disabled = true
			}
			img.Publishers = append(img.Publishers, p)
		}
	}
	so, _ := img.main.get("property", "publisher-search-order")
	order, err := pyList(so)
	if err != nil {
		return xerr.Invalidf("%s [property] publisher-search-order: %w", img.File, err)
	}
	img.SearchOrder = order
	pref, ok := img.main.get("property", "preferred-authority")
	if !ok {
		pref, _ = img.main.get("property", "preferred-publisher")
	}
	img.Preferred = pref
	for i := range img.Publishers {
		p := &img.Publishers[i]
		p.Rank = slices.Index(order, p.Name) + 1
		p.Preferred = p.Name == pref
	}
	sort.SliceStable(img.Publishers, func(i, j int) bool { return rank(img.Publishers[i]) < rank(img.Publishers[j]) })
	return nil
}

// rank sorts listed publishers by search order, then unlisted ones
// alphabetically, as pkg does on read.
func rank(p Publisher) string {
	if p.Rank > 0 {
		return fmt.Sprintf("0%06d", p.Rank)
	}
	return "1" + p.Name
}

func readPublisher(f *iniFile, section, name string) (Publisher, error) {
	p := Publisher{Name: name, File: f.name, Sticky: true, Origins: []string{}, Mirrors: []string{}, section: section}
	if v, ok := f.get(section, "prefix"); ok && v != "" {
		p.Name = v
	}
	if v, ok := f.get(section, "sticky"); ok {
		p.Sticky = pyBool(v)
	}
	if v, ok := f.get(section, "disabled"); ok {
		p.Disabled = pyBool(v)
	}
	if v, ok := f.get(section, "origin"); ok && v != "None" && v != "" {
		p.Origins = append(p.Origins, v)
	}
	for _, key := range []string{"origins", "mirrors"} {
		v, _ := f.get(section, key)
		list, err := pyList(v)
		if err != nil {
			return p, xerr.Invalidf("%s [%s] %s: %w", f.name, section, key, err)
		}
		for _, u := range list {
			if key == "mirrors" {
				p.Mirrors = append(p.Mirrors, u)
			} else if !slices.Contains(p.Origins, u) {
				p.Origins = append(p.Origins, u)
			}
		}
	}
	return p, nil
}

// pyBool reads a ConfigParser boolean the way pkg's getboolean does.
func pyBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "yes", "true", "on":
		return true
	}
	return false
}

var tempPublisher = regexp.MustCompile(`^za[0-9]+$`)

// deadHosts no longer serve IPS repositories: pkg.opensolaris.org was shut
// down after Oracle renamed the publisher (design/solaris-zfs.md §3.5), and
// localhost:10000 is the attach script's temporary depot.
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
		if tempPublisher.MatchString(p.Name) {
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
	if img.Zone != "nonglobal" {
		return xerr.Refused(fmt.Errorf("%s: [variant] variant.opensolaris.zone is %q: %w (use --force to edit anyway)", img.File, img.Zone, ErrNotZoneImage))
	}
	return nil
}

// fileOf is the parsed file and section that hold a publisher.
func (img *Image) fileOf(name string) (*iniFile, string) {
	p, ok := img.Publisher(name)
	if !ok {
		return nil, ""
	}
	for _, f := range []*iniFile{img.main, img.disabled} {
		if f != nil && f.name == p.File {
			return f, p.section
		}
	}
	return nil, ""
}

// ErrNoPublisher means the image has no such publisher.
var ErrNoPublisher = errors.New("no such publisher")

// UnsetPublisherPlan removes a publisher the way `pkg unset-publisher`
// changes the configuration: its whole section, its entry in
// publisher-search-order, and preferred-authority moved to the first
// remaining enabled publisher. It refuses to leave an image without an
// enabled publisher. An already absent publisher gives an empty plan.
func (img *Image) UnsetPublisherPlan(name string) (*journal.Plan, error) {
	plan := &journal.Plan{Command: "zone unset-publisher"}
	f, section := img.fileOf(name)
	if f == nil {
		return plan, nil
	}
	var left []Publisher
	for _, p := range img.Publishers {
		if p.Name != name && !p.Disabled {
			left = append(left, p)
		}
	}
	if len(left) == 0 {
		why := "what preferred-authority should then name is not documented for this format"
		if img.Old() {
			why = "2009/2010 pkg breaks on an image without one"
		}
		return nil, xerr.Refusedf("%s: removing %s would leave no enabled publisher (%s): set another publisher first", img.File, name, why)
	}
	f.removeSection(section)
	if so, ok := img.main.get("property", "publisher-search-order"); ok {
		order := slices.DeleteFunc(slices.Clone(img.SearchOrder), func(s string) bool { return s == name })
		img.main.set("property", "publisher-search-order", formatPyList(order, so))
	}
	if img.Preferred == name {
		next := left[0].Name
		for _, s := range img.SearchOrder {
			if s != name && slices.ContainsFunc(left, func(p Publisher) bool { return p.Name == s }) {
				next = s
				break
			}
		}
		key := "preferred-authority"
		if _, ok := img.main.get("property", key); !ok {
			key = "preferred-publisher"
		}
		img.main.set("property", key, next)
	}
	img.addWrites(plan, "remove publisher "+name)
	return plan, img.load()
}

// SetStickyPlan sets sticky in the publisher's section (adding the key,
// whose absence means True). Setting the value it already has gives an
// empty plan.
func (img *Image) SetStickyPlan(name string, sticky bool) (*journal.Plan, error) {
	plan := &journal.Plan{Command: "zone set-sticky"}
	f, section := img.fileOf(name)
	if f == nil {
		return nil, xerr.Invalidf("%s: publisher %q: %w", img.File, name, ErrNoPublisher)
	}
	p, _ := img.Publisher(name)
	if p.Sticky == sticky {
		return plan, nil
	}
	v := "False"
	if sticky {
		v = "True"
	}
	f.set(section, "sticky", v)
	img.addWrites(plan, fmt.Sprintf("set publisher %s sticky = %s", name, v))
	return plan, img.load()
}

// addWrites adds a Write for each configuration file whose bytes changed.
func (img *Image) addWrites(plan *journal.Plan, why string) {
	for _, f := range []*iniFile{img.main, img.disabled} {
		if f == nil {
			continue
		}
		if b := f.bytes(); !bytes.Equal(b, f.orig) {
			plan.Changes = append(plan.Changes, journal.Change{Kind: journal.Write, Path: f.name, Content: b, Why: why})
		}
	}
}
