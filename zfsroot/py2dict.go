package zfsroot

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The iteration order of a CPython 2 dict, which decides which of two
// sections naming one publisher pkg keeps and where it appends
// publishers missing from publisher-search-order. CPython 2.6 and 2.7 hash
// a str (and an ASCII unicode) deterministically — hash randomisation
// (-R, PYTHONHASHSEED) is off unless asked for — so the order follows from
// the keys and the order of the operations. Modelled from CPython 2.7
// (identical in 2.6 for what is used here): Objects/stringobject.c
// string_hash and Objects/unicodeobject.c unicode_hash (the same function
// over code units), Objects/dictobject.c lookdict, insertdict,
// insertdict_clean, dictresize, PyDict_SetItem and PyDict_DelItem.

// py2Hash is string_hash for a build whose C long (and size_t) is bits
// wide (32 or 64); the result is the hash's bit pattern as size_t.
func py2Hash(s string, bits int) uint64 {
	if s == "" {
		return 0
	}
	mask := ^uint64(0)
	if bits == 32 {
		mask = 1<<32 - 1
	}
	x := uint64(s[0]) << 7
	for i := 0; i < len(s); i++ {
		x = (1000003*x ^ uint64(s[i])) & mask
	}
	x = (x ^ uint64(len(s))) & mask
	if x == mask { // -1 is the C API's error value: CPython returns -2
		x = mask - 1
	}
	return x
}

const (
	py2DictMinSize  = 8 // PyDict_MINSIZE
	py2PerturbShift = 5 // PERTURB_SHIFT
)

type py2SlotState uint8

const (
	slotEmpty py2SlotState = iota
	slotActive
	slotDummy // a deleted key: probing goes on past it
)

type py2Slot struct {
	key   string
	hash  uint64
	state py2SlotState
}

// py2Dict is a CPython 2 dict reduced to what decides its order: the
// table of slots, ma_fill (active + dummy) and ma_used (active).
type py2Dict struct {
	bits       int
	slots      []py2Slot
	fill, used int
}

func newPy2Dict(bits int) *py2Dict {
	return &py2Dict{bits: bits, slots: make([]py2Slot, py2DictMinSize)}
}

func (d *py2Dict) wordMask() uint64 {
	if d.bits == 32 {
		return 1<<32 - 1
	}
	return ^uint64(0)
}

// lookup is lookdict: the slot holding key, else the slot an insert takes
// (the first dummy met on the probe sequence, else the empty slot that
// ends it).
func (d *py2Dict) lookup(key string, hash uint64) int {
	mask := uint64(len(d.slots) - 1)
	wm := d.wordMask()
	i := hash & mask
	free := -1
	if s := d.slots[i]; s.state == slotEmpty || (s.state == slotActive && s.key == key) {
		return int(i)
	} else if s.state == slotDummy {
		free = int(i)
	}
	for perturb := hash; ; perturb >>= py2PerturbShift {
		i = (i<<2 + i + perturb + 1) & wm
		s := d.slots[i&mask]
		switch {
		case s.state == slotEmpty:
			if free >= 0 {
				return free
			}
			return int(i & mask)
		case s.state == slotActive && s.key == key:
			return int(i & mask)
		case s.state == slotDummy && free < 0:
			free = int(i & mask)
		}
	}
}

// set is PyDict_SetItem: insertdict, then a resize to four times the
// used count (twice above 50000) when a new key filled two thirds.
func (d *py2Dict) set(key string) {
	hash := py2Hash(key, d.bits)
	n := d.used
	i := d.lookup(key, hash)
	switch d.slots[i].state {
	case slotActive:
		return // the value is replaced in place
	case slotEmpty:
		d.fill++
	}
	d.slots[i] = py2Slot{key: key, hash: hash, state: slotActive}
	d.used++
	if !(d.used > n && d.fill*3 >= len(d.slots)*2) {
		return
	}
	factor := 4
	if d.used > 50000 {
		factor = 2
	}
	d.resize(factor * d.used)
}

// resize is dictresize: the smallest power of two above minused (at least
// 8), the active entries reinserted in the old table's slot order by
// insertdict_clean (dummies dropped).
func (d *py2Dict) resize(minused int) {
	size := py2DictMinSize
	for size <= minused {
		size <<= 1
	}
	old := d.slots
	d.slots = make([]py2Slot, size)
	d.fill, d.used = 0, 0
	mask := uint64(size - 1)
	wm := d.wordMask()
	for _, s := range old {
		if s.state != slotActive {
			continue
		}
		i := s.hash & mask
		for perturb := s.hash; d.slots[i&mask].state != slotEmpty; perturb >>= py2PerturbShift {
			i = (i<<2 + i + perturb + 1) & wm
		}
		d.slots[i&mask] = s
		d.fill++
		d.used++
	}
}

// del is PyDict_DelItem: the slot becomes a dummy; no resize.
func (d *py2Dict) del(key string) bool {
	i := d.lookup(key, py2Hash(key, d.bits))
	if d.slots[i].state != slotActive {
		return false
	}
	d.slots[i] = py2Slot{state: slotDummy}
	d.used--
	return true
}

// keys is the iteration order: the table's active slots in slot order.
func (d *py2Dict) keys() []string {
	var out []string
	for _, s := range d.slots {
		if s.state == slotActive {
			out = append(out, s.key)
		}
	}
	return out
}

// py2Env is one interpreter Solaris 11 pkg may have run on: its pkg was
// Python 2.6 at 11/11 and 2.7 later, a 32- or 64-bit build. They differ
// in ConfigParser's section dict (2.6: a dict; 2.7: an OrderedDict, file
// order) and in size_t, which the probing of a dict shifts.
type py2Env struct {
	py27 bool
	bits int
}

var py2Envs = []py2Env{{false, 32}, {false, 64}, {true, 32}, {true, 64}}

func (e py2Env) String() string {
	v := "2.6"
	if e.py27 {
		v = "2.7"
	}
	return fmt.Sprintf("Python %s %d-bit", v, e.bits)
}

// imageConfigSections are the PropertySections of 9ecae477
// ImageConfig.__defs, per configuration version, in list order:
// Config.__reset adds them to a new dict first.
var imageConfigSections = map[int][]string{
	2: {"filter", "image", "property", "variant"},
	3: {"image", "property", "facet", "mediators", "variant"},
}

// cpSections is ConfigParser.sections() of f: the keys of _sections, to
// which _read adds each new section header (DEFAULT apart).
func cpSections(f *iniFile, e py2Env) []string {
	if e.py27 {
		return f.order
	}
	d := newPy2Dict(e.bits)
	for _, s := range f.order {
		d.set(s)
	}
	return d.keys()
}

// fileVersion is FileConfig.__read's cp.getint("CONFIGURATION",
// "version"), else the version it was given.
func fileVersion(f *iniFile, given int) int {
	if f.sections["CONFIGURATION"] == nil {
		return given
	}
	if v, ok := f.get("CONFIGURATION", "version"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v.value)); err == nil {
			return n
		}
	}
	return given
}

// configSections is Config.__sections after FileConfig.__read: a new
// dict given the definitions' sections, then each section of the file
// (CONFIGURATION apart) that has an item — _get_matching_property adds a
// section at its first property.
func configSections(f *iniFile, version int, e py2Env) *py2Dict {
	d := newPy2Dict(e.bits)
	for _, s := range imageConfigSections[version] {
		d.set(s)
	}
	for _, s := range cpSections(f, e) {
		if s != "CONFIGURATION" && len(f.items(s)) > 0 {
			d.set(s)
		}
	}
	return d
}

// py2AuthorityOrder is the order in which 9ecae477 ImageConfig.reset
// reads the [authority_*] sections under e: FileConfig builds
// Config.__sections from main (as image.py's load_config asks, version
// 3 unless the file names one); the disabled_auth FileConfig's
// [authority_*] sections are added to it in its own __sections order
// (add_section); get_index() copies __sections into a new dict, whose
// order `for s, v in idx.iteritems()` follows. Each publisher read is
// appended to publisher-search-order if missing (__set_publisher) and
// replaces one of the same prefix read before.
func py2AuthorityOrder(main, disabled *iniFile, e py2Env) []string {
	version := fileVersion(main, 3)
	secs := configSections(main, version, e)
	if disabled != nil {
		for _, s := range configSections(disabled, fileVersion(disabled, version), e).keys() {
			if strings.HasPrefix(s, authorityPrefix) {
				secs.set(s)
			}
		}
	}
	idx := newPy2Dict(e.bits)
	for _, s := range secs.keys() {
		idx.set(s)
	}
	var out []string
	for _, s := range idx.keys() {
		if strings.HasPrefix(s, authorityPrefix) {
			out = append(out, s)
		}
	}
	return out
}

// solarisSectionOrder is py2AuthorityOrder where every interpreter of
// py2Envs gives the same; otherwise why says how they differ. Section
// names that are not ASCII (pkg refuses them) are hashed by code unit in
// CPython, not by UTF-8 byte: unknown.
func solarisSectionOrder(main, disabled *iniFile) (order []string, why string) {
	for _, f := range []*iniFile{main, disabled} {
		if f == nil {
			continue
		}
		for _, s := range f.order {
			for i := 0; i < len(s); i++ {
				if s[i] >= 0x80 {
					return nil, fmt.Sprintf("section [%s] is not ASCII", s)
				}
			}
		}
	}
	var diff []string
	for i, e := range py2Envs {
		o := py2AuthorityOrder(main, disabled, e)
		if i == 0 {
			order = o
		} else if !slices.Equal(o, order) {
			why = "it differs between interpreters"
		}
		diff = append(diff, fmt.Sprintf("%s: %s", e, strings.Join(o, ", ")))
	}
	if why != "" {
		return nil, why + " (" + strings.Join(diff, "; ") + ")"
	}
	return order, ""
}

// snv134SectionOrder is ConfigParser.sections() of f as snv_134 pkg
// (eced1e4a, #!/usr/bin/python2.6) reads it: the keys of a Python 2.6
// dict of the section names (byte strings: the file is read with open()).
// why says how a 32- and a 64-bit build differ, when they do.
func snv134SectionOrder(f *iniFile) (order []string, why string) {
	o32 := cpSections(f, py2Env{bits: 32})
	o64 := cpSections(f, py2Env{bits: 64})
	if !slices.Equal(o32, o64) {
		return nil, fmt.Sprintf("it differs between 32- and 64-bit Python 2.6 (%s; %s)", strings.Join(o32, ", "), strings.Join(o64, ", "))
	}
	return o64, ""
}
