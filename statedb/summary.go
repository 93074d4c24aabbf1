package statedb

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"io"
	"sort"
)

// TableInfo is what Scan learns about one table.
type TableInfo struct {
	Name    string
	Rows    int
	Columns []string // sorted; without the row attributes ref, __ctime, __mtime
	CTimes  bool     // rows carry __ctime/__mtime
	// WithData counts, per column, the rows whose value is not an empty
	// default ("", "()", OpaqueRef:NULL, false, 0, 0., the epoch): what
	// dropping the column would lose.
	WithData map[string]int
	// Has counts, per column, the rows that have it (a row without a column
	// the target needs is filled, or refused).
	Has map[string]int
	// Lossy counts, per column, the rows whose value an xapi of XS 7.2 or
	// older cannot read back (LegacyLossy; only for databases written with
	// the %. protection).
	Lossy map[string]int
	// DuplicateRefs are refs that more than one row of the table carries
	// (once per repeating row): xapi keys rows by ref, so it keeps only one
	// of them. Refs are compared by a 64-bit hash to keep memory small: two
	// different refs colliding among a few million rows has a probability
	// around 1e-7, and would be listed here as a false duplicate.
	DuplicateRefs []string
	Duplicates    int // rows repeating an earlier row's ref (DuplicateRefs holds the first 100)
}

// HasColumn reports whether any row has column c.
func (t *TableInfo) HasColumn(c string) bool {
	i := sort.SearchStrings(t.Columns, c)
	return i < len(t.Columns) && t.Columns[i] == c
}

// Summary describes a whole database: manifest, tables and columns.
type Summary struct {
	Manifest    Manifest
	Compressed  bool
	Bytes       int64 // size of the XML (decompressed)
	SchemaMajor int
	SchemaMinor int
	Generation  int64
	Tables      []TableInfo // in file order
	// SpaceEncoding is "modern" when values use %. for spaces (xapi >= 1.57),
	// "legacy" when they hold literal spaces, "" when no value has a space.
	SpaceEncoding string
	// Problems are what xapi's own reader would refuse or misread although
	// this package accepts it (Reader.Problems), for `statedb show`.
	Problems []string `json:"problems"`
	// QuirkChars counts characters XML forbids that xapi's parser lets
	// through right after a raw CR LF (Reader.QuirkChars): statedb patch
	// refuses to rewrite such a file.
	QuirkChars int
	// RefsNotChecked lists tables with more rows than duplicate refs are
	// looked for in (MaxRefHashes).
	RefsNotChecked []string
}

// Table finds a table by name.
func (s *Summary) Table(name string) *TableInfo {
	for i := range s.Tables {
		if s.Tables[i].Name == name {
			return &s.Tables[i]
		}
	}
	return nil
}

// isRowAttr reports the attributes that are not columns.
func isRowAttr(name []byte) bool {
	switch string(name) {
	case "ref", "__ctime", "__mtime":
		return true
	}
	return false
}

// isEmptyValue: the empty values xapi's gen_empty_db_val writes for each
// type (string, set/map, ref, bool, int, float, datetime). A column holding
// only these loses nothing when dropped.
func isEmptyValue(raw []byte) bool {
	switch string(raw) {
	case "", "()", "OpaqueRef:NULL", "false", "0", "0.", "19700101T00:00:00Z":
		return true
	}
	return false
}

// hasProtectedSpace reports a %. that Unprotect decodes as a space: not
// the one in %%. (a percent, then a dot).
func hasProtectedSpace(v []byte) bool {
	for {
		i := bytes.IndexByte(v, '%')
		if i < 0 || i+1 == len(v) {
			return false
		}
		if v[i+1] == '.' {
			return true
		}
		v = v[i+2:]
	}
}

// layout caches the attribute names of the previous row and their counters:
// rows of a table almost always have the same attributes in the same order,
// so a row costs a few byte comparisons instead of a map lookup per column.
type layout struct {
	names    [][]byte
	counters []*colCount // nil for ref, __ctime, __mtime
}

type colCount struct{ has, data, lossy int }

func (l *layout) matches(attrs []Attr) bool {
	if len(attrs) != len(l.names) {
		return false
	}
	for i, a := range attrs {
		if !bytes.Equal(a.Name, l.names[i]) {
			return false
		}
	}
	return true
}

func (l *layout) rebuild(attrs []Attr, counts map[string]*colCount, total *int) error {
	l.names, l.counters = l.names[:0], l.counters[:0]
	for _, a := range attrs {
		l.names = append(l.names, bytes.Clone(a.Name))
		var p *colCount
		if !isRowAttr(a.Name) {
			if p = counts[string(a.Name)]; p == nil {
				if len(counts) >= MaxColumns {
					return fmt.Errorf("more than %d columns in one table: not a xapi database", MaxColumns)
				}
				if *total >= MaxColumnsTotal {
					return fmt.Errorf("more than %d columns in all: not a xapi database", MaxColumnsTotal)
				}
				p = new(colCount)
				counts[string(a.Name)] = p
				*total++
			}
		}
		l.counters = append(l.counters, p)
	}
	return nil
}

// MaxColumns bounds the distinct columns of one table (xapi's largest has
// about 150), MaxColumnsTotal those of all tables (xapi has about 1000):
// each costs memory.
const (
	MaxColumns      = 10000
	MaxColumnsTotal = 100000
)

// Scan reads a whole database and summarises it. Memory is proportional to
// the number of distinct tables and columns plus 8 bytes of hash per row of
// the largest table (to find duplicate refs, up to MaxRefHashes rows), not
// to the file size.
func Scan(src io.Reader) (*Summary, error) { return ScanOptions(src, Options{}) }

// ScanOptions is Scan with reader options.
func ScanOptions(src io.Reader, o Options) (*Summary, error) {
	r, err := NewReaderOptions(src, o)
	if err != nil {
		return nil, err
	}
	s := &Summary{Manifest: r.Manifest(), Compressed: r.Compressed()}
	s.SchemaMajor, s.SchemaMinor, _ = s.Manifest.Schema()
	s.Generation, _ = s.Manifest.Generation()
	s.Problems = append([]string{}, r.Problems()...)
	// Values written with the %. protection can hold leading and trailing
	// spaces that an older xapi cannot read back (LegacyLossy).
	srcModern := s.SchemaMinor >= modernSpacesFrom
	var (
		cur     *TableInfo
		counts  map[string]*colCount
		lay     layout
		refs    map[uint64]struct{}
		seed    = maphash.MakeSeed()
		modern  bool
		legacy  bool
		dec     []byte
		unp     []byte
		refsCap bool
		total   int // distinct columns of all tables
	)
	seen := map[string]bool{}
	for {
		ev, err := r.Next()
		if err == io.EOF {
			if n, at := r.QuirkChars(); n > 0 {
				s.QuirkChars = n
				s.Problems = append(s.Problems, fmt.Sprintf("%d %s XML 1.0 forbids right after a raw CR LF (the first at offset %d): xapi's parser lets %s through (xmlm nextc reads the character after CR LF without its is_char test), but a rewritten value would not load; statedb patch refuses until they are fixed by hand",
					n, plural(n, "character", "characters"), at, plural(n, "it", "them")))
			}
			break
		}
		if err != nil {
			return nil, err
		}
		switch ev.Kind {
		case TableStart:
			if seen[ev.Table] {
				return nil, &SyntaxError{Offset: r.Offset(), Compressed: s.Compressed, Table: ev.Table, Msg: "table appears twice"}
			}
			if len(seen) >= MaxTables {
				return nil, &SyntaxError{Offset: r.Offset(), Compressed: s.Compressed, Table: ev.Table, Msg: fmt.Sprintf("more than %d tables: not a xapi database", MaxTables)}
			}
			seen[ev.Table] = true
			s.Tables = append(s.Tables, TableInfo{Name: ev.Table})
			cur = &s.Tables[len(s.Tables)-1]
			counts = map[string]*colCount{}
			lay = layout{}
			refs, refsCap = map[uint64]struct{}{}, false
		case RowRead:
			cur.Rows++
			ref := ev.Row.Ref()
			if !refsCap {
				h := maphash.Bytes(seed, ref)
				if _, dup := refs[h]; dup {
					cur.Duplicates++
					if len(cur.DuplicateRefs) < maxDuplicateList {
						cur.DuplicateRefs = append(cur.DuplicateRefs, string(ref))
					}
				} else if len(refs) >= MaxRefHashes {
					refs, refsCap = nil, true
					s.RefsNotChecked = append(s.RefsNotChecked, cur.Name)
				} else {
					refs[h] = struct{}{}
				}
			}
			attrs := ev.Row.Attrs
			if !lay.matches(attrs) {
				if err := lay.rebuild(attrs, counts, &total); err != nil {
					return nil, &SyntaxError{Offset: ev.Row.Offset, Compressed: s.Compressed, Table: cur.Name, Row: ev.Row.N, Ref: string(ref), Msg: err.Error()}
				}
			}
			for i, a := range attrs {
				p := lay.counters[i]
				if p == nil {
					if a.Name[0] == '_' && isRowAttr(a.Name) {
						cur.CTimes = true
					}
					continue
				}
				p.has++
				if isEmptyValue(a.Raw) {
					continue
				}
				p.data++
				v := a.Raw
				if a.ent {
					// &#37;. is %. and &#32; a space once the XML layer
					// is decoded; the scanner has validated the value.
					dec, _ = appendUnescapeXML(dec[:0], v)
					v = dec
				}
				if srcModern && len(v) > 1 && (v[0] == '%' || isXMLSpace(v[0]) || v[len(v)-2] == '%' || isXMLSpace(v[len(v)-1])) && bytes.IndexByte(v, '%') >= 0 {
					w := v
					if xmlmAlters(w) {
						w = []byte(XMLMRead(string(w)))
					}
					unp = appendUnprotect(unp[:0], w)
					if LegacyLossy(string(unp)) {
						p.lossy++
					}
				}
				if modern && legacy {
					continue
				}
				if !modern && hasProtectedSpace(v) {
					modern = true
				}
				if !legacy && bytes.IndexByte(v, ' ') >= 0 {
					legacy = true
				}
			}
		case TableEnd:
			cur.WithData = make(map[string]int, len(counts))
			cur.Has = make(map[string]int, len(counts))
			for c, n := range counts {
				cur.Columns = append(cur.Columns, c)
				cur.WithData[c] = n.data
				cur.Has[c] = n.has
				if n.lossy > 0 {
					if cur.Lossy == nil {
						cur.Lossy = map[string]int{}
					}
					cur.Lossy[c] = n.lossy
				}
			}
			sort.Strings(cur.Columns)
			refs = nil
		}
	}
	s.Bytes = r.Offset()
	switch {
	case modern && legacy:
		s.SpaceEncoding = "mixed"
	case modern:
		s.SpaceEncoding = "modern"
	case legacy:
		s.SpaceEncoding = "legacy"
	}
	return s, nil
}

// maxDuplicateList bounds the duplicate refs kept by name (all are counted).
const maxDuplicateList = 100
