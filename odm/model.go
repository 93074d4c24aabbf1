package odm

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// CuDvDr resources (docs/odm.md, "Facts"). The major is in value1 for devno and
// in value2 for ddins; other resources (inst, …) are kept as they are.
const (
	ResDevno = "devno"
	ResDdins = "ddins"
)

// Highest base major: 0–10 are the ddins restbase restores (rootvg = 10).
const MaxBaseMajor = 10

// ErrNumber is wrapped when a major or minor is not strict decimal.
var ErrNumber = errors.New("not a strict decimal number")

// ParseNumber parses a major or minor as genmajor/genminor write it (%d):
// decimal digits, no sign, no leading zero, no spaces, at most 2^32-1.
// "010" (odmadd would read octal 8), "0x2b" and " 43" are rejected rather
// than guessed at.
func ParseNumber(s string) (int, error) {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, fmt.Errorf("%q: %w", s, ErrNumber)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q: %w", s, ErrNumber)
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, ErrNumber)
	}
	return int(n), nil
}

// Ddins is a major allocation: value1 (a driver or VG name) owns value2.
type Ddins struct {
	Owner string
	Major int
	Base  bool // value3 == ";": restored by restbase, bosboot depends on it
}

// Devno is a (major, minor) allocation for a device instance.
type Devno struct {
	Major  int
	Minor  int
	Device string
	Index  int // position of the object in Model.CuDvDr
}

// Device is what CuDv says about a device name.
type Device struct {
	Name   string
	Status int // 0 Defined, 1 Available, 2 Stopped; -1 when not a number
	PdDvLn string
}

// Available is CuDv status 1.
const Available = 1

// IsVG reports whether the CuDv object is a volume group.
func (d Device) IsVG() bool { return d.PdDvLn == "logical_volume/vgsubclass/vgtype" }

// Model is the CuDvDr (and, when given, CuDv and PdDv) content the analysis
// needs.
type Model struct {
	CuDvDr  []Stanza // every object, in dump order (what the .add files are made from)
	Ddins   []Ddins
	Devno   []Devno
	Devices map[string]Device // nil without a CuDv dump
	// Drivers are the PdDv DvDr values: the names configure methods pass
	// to genmajor, so a ddins owner among them is a driver, never a volume
	// group. Nil without a PdDv dump.
	Drivers map[string]bool
	File    string // the CuDvDr file, for messages
}

// HaveCuDv reports whether a CuDv dump was given.
func (m *Model) HaveCuDv() bool { return m.Devices != nil }

// HavePdDv reports whether a PdDv dump was given.
func (m *Model) HavePdDv() bool { return m.Drivers != nil }

// NewModel checks the CuDvDr objects (strict decimal majors and minors) and
// indexes them. cudv may be nil when no CuDv dump was given.
func NewModel(file string, cudvdr []Stanza, cudv []Stanza) (*Model, error) {
	m := &Model{File: file}
	for i := range cudvdr {
		s := &cudvdr[i]
		if s.Class != "CuDvDr" {
			continue
		}
		idx := len(m.CuDvDr)
		m.CuDvDr = append(m.CuDvDr, *s)
		res, _ := s.Get("resource")
		switch res {
		case ResDevno:
			major, err := number(file, s, "value1", "major")
			if err != nil {
				return nil, err
			}
			minor, err := number(file, s, "value2", "minor")
			if err != nil {
				return nil, err
			}
			dev, _ := s.Get("value3")
			m.Devno = append(m.Devno, Devno{Major: major, Minor: minor, Device: dev, Index: idx})
		case ResDdins:
			major, err := number(file, s, "value2", "major")
			if err != nil {
				return nil, err
			}
			owner, _ := s.Get("value1")
			v3, _ := s.Get("value3")
			m.Ddins = append(m.Ddins, Ddins{Owner: owner, Major: major, Base: v3 == ";"})
		}
	}
	if len(m.Ddins) == 0 {
		// A real CuDvDr always holds the base ddins objects (majors 0-10,
		// docs/odm.md, "Facts"); without any, every devno major would look like
		// a ghost.
		what := "no objects"
		if len(m.CuDvDr) > 0 {
			what = "no ddins object"
		}
		return nil, fmt.Errorf("%s: CuDvDr dump with %s: a real one always holds the base ddins objects (majors 0-10); give a complete `odmget CuDvDr`: %w", file, what, ErrSyntax)
	}
	if cudv != nil {
		m.Devices = map[string]Device{}
		for i := range cudv {
			s := &cudv[i]
			if s.Class != "CuDv" {
				continue
			}
			name, _ := s.Get("name")
			d := Device{Name: name, Status: -1}
			if v, ok := s.Get("status"); ok {
				if n, err := strconv.Atoi(v); err == nil {
					d.Status = n
				}
			}
			d.PdDvLn, _ = s.Get("PdDvLn")
			m.Devices[name] = d
		}
	}
	return m, nil
}

func number(file string, s *Stanza, desc, what string) (int, error) {
	f := s.field(desc)
	if f == nil {
		return 0, &xerr.SyntaxError{File: file, Line: s.Line, Msg: fmt.Sprintf("CuDvDr object has no %s (the %s)", desc, what), Err: ErrSyntax}
	}
	n, err := ParseNumber(f.Value)
	if err != nil {
		return 0, &xerr.SyntaxError{File: file, Line: f.Line, Msg: fmt.Sprintf("%s %s: %v", desc, what, err), Err: ErrSyntax}
	}
	return n, nil
}

// Dumps is a directory of odmget dumps.
type Dumps struct {
	// Classes holds the objects the analysis needs (CuDvDr, CuDv); the
	// other classes are only checked and counted, so a dump of millions of
	// CuAt objects streams through in constant memory.
	Classes map[string][]Stanza
	// Drivers are the DvDr values of the PdDv dump (nil without one); the
	// rest of PdDv is checked and dropped.
	Drivers map[string]bool
	Objects map[string]int    // class -> objects read
	Files   map[string]string // class -> file read
}

// DumpClasses are the classes read from an --odm directory; CuDvDr is
// required, the others are optional.
var DumpClasses = []string{"CuDvDr", "CuDv", "CuAt", "CuDep", "PdDv"}

// keptClasses are held in memory for the analysis.
var keptClasses = map[string]bool{"CuDvDr": true, "CuDv": true}

// LoadDumps reads the dump of each class from fsys, named X, X.odmget or
// X.add; dir names fsys in messages. Two candidates for one class are
// ambiguous and refused as invalid input rather than picked from.
func LoadDumps(fsys fs.FS, dir string) (*Dumps, error) {
	d := &Dumps{Classes: map[string][]Stanza{}, Objects: map[string]int{}, Files: map[string]string{}}
	for _, class := range DumpClasses {
		var found []string
		for _, name := range []string{class, class + ".odmget", class + ".add"} {
			st, err := fs.Stat(fsys, name)
			switch {
			case err == nil && st.Mode().IsRegular():
				found = append(found, name)
			case err == nil:
				// A FIFO would hang the read, a directory is not a dump:
				// never taken for an absent dump (acceptance round 13).
				return nil, xerr.Invalidf("%s is a %s, not a file", filepath.Join(dir, name), infile.TypeName(st.Mode()))
			case !errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
			}
		}
		switch len(found) {
		case 0:
			if class == "CuDvDr" {
				return nil, fmt.Errorf("%s: no CuDvDr dump (looked for CuDvDr, CuDvDr.odmget, CuDvDr.add): %w", dir, fs.ErrNotExist)
			}
			continue
		case 1:
		default:
			// Neither file is malformed: which one is meant is unknown.
			return nil, xerr.Invalidf("%s: ambiguous: both %s and %s hold %s; keep one of them", dir, found[0], found[1], class)
		}
		f, err := fsys.Open(found[0])
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, found[0])
		var use func(*Stanza)
		switch {
		case keptClasses[class]:
			d.Classes[class] = []Stanza{}
			use = func(s *Stanza) { d.Classes[class] = append(d.Classes[class], *s) }
		case class == "PdDv":
			d.Drivers = map[string]bool{}
			use = func(s *Stanza) {
				if v, _ := s.Get("DvDr"); v != "" {
					d.Drivers[v] = true
				}
			}
		}
		n, other, err := readClass(f, file, class, use)
		f.Close()
		if err != nil {
			return nil, err
		}
		if n == 0 && other.n > 0 {
			// Objects, but none of the class its name says: a dump saved
			// under the wrong name, not an empty one.
			return nil, xerr.Invalidf("%s: no %s objects: its %d objects are of class %s (saved under the wrong name?)", file, class, other.n, other.class)
		}
		d.Objects[class] = n
		d.Files[class] = file
	}
	return d, nil
}

// otherClasses counts a dump's stanzas of other classes than its name's,
// and names the first.
type otherClasses struct {
	n     int
	class string
}

// readClass counts the stanzas of class (a dump may hold others too) and
// hands each to use; with use nil the values are checked but not kept.
func readClass(r io.Reader, file, class string, use func(*Stanza)) (int, otherClasses, error) {
	rd := NewReader(r, file)
	var other otherClasses
	for n := 0; ; {
		var c string
		var s *Stanza
		var err error
		if use != nil {
			if s, err = rd.Next(); err == nil {
				c = s.Class
			}
		} else {
			c, err = rd.Skip()
		}
		switch {
		case err == io.EOF:
			return n, other, nil
		case err != nil:
			return 0, other, err
		case c != class:
			if other.n == 0 {
				other.class = c
			}
			other.n++
		default:
			if use != nil {
				use(s)
			}
			n++
		}
	}
}

// Model builds the analysis model from the loaded dumps.
func (d *Dumps) Model() (*Model, error) {
	cudv, ok := d.Classes["CuDv"]
	if !ok {
		cudv = nil
	}
	m, err := NewModel(d.Files["CuDvDr"], d.Classes["CuDvDr"], cudv)
	if err != nil {
		return nil, err
	}
	m.Drivers = d.Drivers
	return m, nil
}
