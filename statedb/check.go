package statedb

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Reason is one reason the target xapi would refuse or break on a
// database, or read values of it otherwise, aggregated over the rows it
// concerns.
type Reason struct {
	Code string `json:"code"`
	// Effect: EffectRefuses (xapi does not start, or fails on the rows)
	// or EffectChanges (xapi loads it, and reads the values otherwise).
	Effect  string `json:"effect"`
	Table   string `json:"table"`  // "" for the manifest
	Column  string `json:"column"` // "" for a whole table or the manifest
	Rows    int    `json:"rows"`   // rows concerned; 0 for the manifest and missing tables
	First   *Place `json:"first"`  // the first occurrence in the file
	Message string `json:"message"`
	Rule    Rule   `json:"rule"`
}

// Place locates a row: its byte offset (in the decompressed stream), its
// number in its table and its ref.
type Place struct {
	Offset int64  `json:"offset"`
	Row    int    `json:"row"`
	Ref    string `json:"ref"`
}

// CheckResult is what Check found.
type CheckResult struct {
	SchemaMajor int `json:"schema_major"`
	SchemaMinor int `json:"schema_minor"`
	// Loads is true when no reason of effect EffectRefuses was found (nor
	// left unlisted): the target xapi loads the database. ValuesChange
	// counts the values it then reads otherwise (reasons of effect
	// EffectChanges: whitespace its XML parser collapses, %. its decoder
	// leaves).
	Loads        bool     `json:"loads"`
	ValuesChange int      `json:"values_change"`
	Reasons      []Reason `json:"reasons"`
	// Unlisted counts reasons left out of Reasons (past MaxReasons),
	// UnlistedRefusing those of them of effect EffectRefuses.
	Unlisted         int      `json:"unlisted"`
	UnlistedRefusing int      `json:"unlisted_refusing"`
	Notes            []string `json:"notes"`
}

// Effects of a reason.
const (
	EffectRefuses = "refuses"
	EffectChanges = "changes"
)

// effectOf is a reason code's effect: values read otherwise, or a load
// that fails (or rows xapi fails on).
func effectOf(code string) string {
	switch code {
	case "stripped-value", "undecoded-space":
		return EffectChanges
	}
	return EffectRefuses
}

// Headline is the one-line result: "loads", "loads, but N values
// change" or "DOES NOT LOAD: N reasons".
func (r *CheckResult) Headline() string {
	if !r.Loads {
		n := r.UnlistedRefusing
		for _, rs := range r.Reasons {
			if rs.Effect == EffectRefuses {
				n++
			}
		}
		return fmt.Sprintf("DOES NOT LOAD: %d %s xapi would refuse or break on it", n, plural(n, "reason", "reasons"))
	}
	if r.ValuesChange > 0 {
		return fmt.Sprintf("loads, but %d %s (xapi reads %s otherwise)", r.ValuesChange, plural(r.ValuesChange, "value changes", "values change"), plural(r.ValuesChange, "it", "them"))
	}
	return "loads"
}

// Problems reports whether the target would not load the database, or
// would load it with values changed: what `statedb check` exits 4 for.
func (r *CheckResult) Problems() bool { return !r.Loads || r.ValuesChange > 0 }

// MaxReasons bounds the distinct reasons kept (a hostile file could make
// one per column name); the rest are counted in Unlisted.
const MaxReasons = 1000

// CheckOptions tune Check.
type CheckOptions struct {
	Reader Options
}

// Check reads a database and reports every reason the target xapi would
// refuse it or break on it: the era's parser rules, the manifest form, the
// schema rule, unknown and missing tables and columns, values the target
// reads differently, duplicate refs. It streams: memory is bounded by the
// number of tables, columns and reasons, and one 64-bit hash per row of the
// largest table (capped).
func Check(src io.Reader, t *TargetModel, o CheckOptions) (*CheckResult, error) {
	c := &checker{t: t, res: &CheckResult{Reasons: []Reason{}, Notes: []string{}}, idx: map[reasonKey]int{}, seed: maphash.MakeSeed(), dropped: map[string]*int{}, dups: map[string]int{}}
	ro := o.Reader
	ro.laxManifest = true
	r, err := NewReaderOptions(src, ro)
	if err != nil {
		if !c.undecodable(err) {
			return nil, err
		}
		c.finish()
		return c.res, nil
	}
	c.r = r
	c.manifest()
	if err := c.stream(); err != nil && !c.undecodable(err) {
		return nil, err
	}
	c.finish()
	return c.res, nil
}

// undecodable records a fault of xmlm's character decoding as the reason
// the database does not load: xmlm stops there, so does the check.
func (c *checker) undecodable(err error) bool {
	var se *SyntaxError
	if !errors.As(err, &se) || !se.Chars {
		return false
	}
	c.stopped = se
	where := &Place{Offset: se.Offset, Ref: se.Ref, Row: se.Row}
	c.add("undecodable", se.Table, se.Attr, where)
	c.note("xmlm stops at the first character it cannot decode: nothing after offset %d was checked", se.Offset)
	return true
}

type reasonKey struct{ code, table, column string }

type checker struct {
	t    *TargetModel
	r    *Reader
	res  *CheckResult
	idx  map[reasonKey]int
	seed maphash.Seed
	dups map[string]int // rows repeating a ref, per table
	seen map[string]bool
	tc   *checkTable
	dec  []byte
	dec2 []byte
	// techPreview: unknown columns are dropped at load, not refused
	techPreview bool
	// stopped: xmlm cannot decode the file there; nothing after it counts
	stopped *SyntaxError
	dropped map[string]*int
}

type checkTable struct {
	name    string
	known   bool
	cols    TableColumns
	rows    int
	first   *Place
	lay     checkLayout
	refs    map[uint64]struct{}
	refsCap bool
}

type attrKind uint8

const (
	kRef attrKind = iota
	kCTime
	kKnown
	kUnknown
)

// checkLayout caches what the checker needs to know about a row's
// attributes; rows of a table almost always have the same ones.
type checkLayout struct {
	names    [][]byte
	kinds    []attrKind
	setMap   []byte // per attribute: 's' set, 'm' map, 0 other
	missing  []string
	refFirst bool
	// reasons already made for every row of this layout (unknown and
	// missing columns, ref not first), by index in the result: a row of
	// the layout only counts, without looking the reason up again
	unknownIdx []int // per attribute, -1: not (yet) a reason
	missingIdx []int // per missing column
	refIdx     int
	// per attribute, the count of an unknown column the target keeps or
	// drops without failing (nil: not one, or past MaxReasons)
	dropped []*int
}

func (l *checkLayout) matches(attrs []Attr) bool {
	if len(attrs) != len(l.names) || l.names == nil {
		return false
	}
	for i, a := range attrs {
		if !bytes.Equal(a.Name, l.names[i]) {
			return false
		}
	}
	return true
}

// add counts one more occurrence of a reason (a row, with where) and
// returns its index in the result, -1 when it is not listed.
func (c *checker) add(code, table, column string, where *Place) int {
	k := reasonKey{code, table, column}
	if i, ok := c.idx[k]; ok {
		if where != nil {
			c.res.Reasons[i].Rows++
		}
		return i
	}
	if len(c.idx) >= MaxReasons {
		c.res.Unlisted++
		if effectOf(code) == EffectRefuses {
			c.res.UnlistedRefusing++
		}
		return -1
	}
	rule, _ := ruleFor(code, c.t.Schema)
	rs := Reason{Code: code, Effect: effectOf(code), Table: table, Column: column, Rule: rule}
	if where != nil {
		p := *where
		rs.First, rs.Rows = &p, 1
	}
	c.idx[k] = len(c.res.Reasons)
	c.res.Reasons = append(c.res.Reasons, rs)
	return len(c.res.Reasons) - 1
}

// count adds one row to the reason at *idx, making it (with where) the
// first time.
func (c *checker) count(idx *int, code, table, column string, where func() *Place) {
	if *idx >= 0 {
		c.res.Reasons[*idx].Rows++
		return
	}
	*idx = c.add(code, table, column, where())
}

func (c *checker) note(format string, a ...any) {
	c.res.Notes = append(c.res.Notes, fmt.Sprintf(format, a...))
}

func (c *checker) manifest() {
	m := c.r.Manifest()
	var serr error
	c.res.SchemaMajor, c.res.SchemaMinor, serr = m.Schema()
	for _, k := range c.r.ValueFirstPairs() {
		c.add("pair-order", "", k, nil)
	}
	t := c.t
	if t.OldManifest() {
		for _, k := range m.MissingOldKeys() {
			c.add("manifest-missing-key", "", k, nil)
		}
		for _, k := range []string{"xapi_major_vsn", "xapi_minor_vsn"} {
			if v, ok := m.Get(k); ok && !ocamlInt(XMLMRead(v), 63) {
				c.add("manifest-bad-number", "", k, nil)
			}
		}
	}
	// every xapi reads these three (a reader of ours in lax mode lets
	// through what xapi itself fails on)
	for _, k := range NewManifestKeys {
		bits := 63
		if k == KeyGeneration {
			bits = 64
		}
		if _, err := m.number(k, bits); errors.Is(err, ErrXapiRefuses) {
			if _, ok := m.Get(k); ok {
				c.add("manifest-bad-number", "", k, nil)
			} else {
				c.add("manifest-missing-key", "", k, nil)
			}
		}
	}
	if serr != nil {
		c.res.SchemaMajor, c.res.SchemaMinor = 0, 0
		c.note("the manifest gives no schema xapi reads, so the schema rules were not checked")
	}
	db := c.res.SchemaMinor
	switch {
	case serr != nil:
	case t.StrictSchema() && (c.res.SchemaMajor != 5 || !t.acceptsSchema(db)):
		c.add("schema-mismatch", "", "", nil)
	case t.StrictSchema() && db != t.Schema:
		c.note("schema 5.%d is the previous release's: the target upgrades it at start (fills defaults, renames the file to .prev_version.*, writes a new one and restarts; db_upgrade.ml upgrade_from_last_release, f77e728883)", db)
	case db > t.Schema:
		c.note("schema 5.%d is newer than the target's 5.%d: xapi logs \"downgrade is unsupported\" and carries on without the upgrade rules in between (db_upgrade.ml maybe_upgrade, 6dc5cdd6d4); a pool restore or a slave needs the exact schema", db, t.Schema)
	case db < t.Schema:
		c.note("schema 5.%d is older than the target's 5.%d: the target runs its upgrade rules at start", db, t.Schema)
	}
	c.techPreview = t.Schema >= techPreviewDropFrom && techPreviewSchemas[db]
	if t.Datamodel != nil && !t.Datamodel.Exact() && t.Like == nil {
		c.note("the datamodel history has no sample at 5.%d: tables and columns are those of 5.%d (%s)", t.Schema, t.Datamodel.Sample.Schema, t.Datamodel.Sample.How)
	}
}

func (c *checker) stream() error {
	c.seen = map[string]bool{}
	for {
		ev, err := c.r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch ev.Kind {
		case TableStart:
			if c.seen[ev.Table] {
				return &SyntaxError{Offset: c.r.Offset(), Compressed: c.r.Compressed(), Table: ev.Table, Msg: "table appears twice"}
			}
			if len(c.seen) >= MaxTables {
				return &SyntaxError{Offset: c.r.Offset(), Compressed: c.r.Compressed(), Table: ev.Table, Msg: fmt.Sprintf("more than %d tables: not a xapi database", MaxTables)}
			}
			c.seen[ev.Table] = true
			c.tc = &checkTable{name: ev.Table, known: c.t.TableKnown(ev.Table), refs: map[uint64]struct{}{}}
			if c.tc.known {
				c.tc.cols = c.t.Columns(ev.Table)
				if c.tc.cols.Names == nil {
					c.note("table %s: the reference has no rows in it and the history does not list its columns: they were not checked", ev.Table)
				}
			}
		case RowRead:
			c.row(&ev.Row)
		case TableEnd:
			tc := c.tc
			if !tc.known {
				c.add("unknown-table", tc.name, "", nil)
				c.res.Reasons[c.idx[reasonKey{"unknown-table", tc.name, ""}]].Rows = tc.rows
				if tc.first != nil {
					c.res.Reasons[c.idx[reasonKey{"unknown-table", tc.name, ""}]].First = tc.first
				}
			}
			if tc.refsCap {
				c.note("table %s has more than %d rows: duplicate refs were looked for in the first %d only", tc.name, MaxRefHashes, MaxRefHashes)
			}
			c.tc = nil
		}
	}
}

func (c *checker) row(row *Row) {
	tc := c.tc
	tc.rows++
	var where *Place
	place := func() *Place {
		if where == nil {
			where = &Place{Offset: row.Offset, Row: row.N, Ref: string(row.Ref())}
		}
		return where
	}
	if !tc.known {
		if tc.first == nil {
			tc.first = place()
		}
		return
	}
	ref := row.Ref()
	if !tc.refsCap {
		h := maphash.Bytes(c.seed, ref)
		if _, dup := tc.refs[h]; dup {
			c.dups[tc.name]++
		} else if len(tc.refs) >= MaxRefHashes {
			tc.refsCap, tc.refs = true, nil
		} else {
			tc.refs[h] = struct{}{}
		}
	}
	attrs := row.Attrs
	if !tc.lay.matches(attrs) {
		c.rebuild(attrs)
	}
	lay := &tc.lay
	if !lay.refFirst && c.t.RefFirst() {
		c.count(&lay.refIdx, "ref-not-first", tc.name, "", place)
	}
	for i, m := range lay.missing {
		c.count(&lay.missingIdx[i], "missing-column", tc.name, m, place)
	}
	legacy := c.t.LegacySpaces()
	for i, a := range attrs {
		switch lay.kinds[i] {
		case kRef:
			continue
		case kCTime:
			if c.t.ParsesCTimes() && !ocamlInt(string(a.Raw), 64) && !ctimeReads(a.Raw) {
				c.add("bad-ctime", tc.name, string(a.Name), place())
			}
			continue
		case kUnknown:
			if p := lay.dropped[i]; p != nil {
				*p++
			} else if c.t.UnknownColumnFatal() && !c.techPreview {
				c.count(&lay.unknownIdx[i], "unknown-column", tc.name, string(a.Name), place)
			}
			continue
		}
		raw := a.Raw
		if len(raw) == 0 {
			continue
		}
		v := raw
		if a.ent {
			c.dec, _ = appendUnescapeXML(c.dec[:0], raw)
			v = c.dec
		}
		changed := false
		if xmlmAlters(v) {
			c.add("stripped-value", tc.name, string(a.Name), place())
			changed = true
		}
		pct := bytes.IndexByte(v, '%') >= 0
		if legacy && pct && hasProtectedSpace(v) {
			c.add("undecoded-space", tc.name, string(a.Name), place())
			changed = true
		}
		if changed {
			c.res.ValuesChange++
		}
		if k := lay.setMap[i]; k != 0 && !(len(v) == 2 && v[0] == '(' && v[1] == ')') {
			sv := v
			if pct {
				c.dec2 = appendUnprotectFor(c.dec2[:0], v, legacy)
				sv = c.dec2
			}
			if !validSetMap(sv, k == 'm') {
				c.add("bad-set-map", tc.name, string(a.Name), place())
			}
		}
	}
}

// rebuild works out the layout of a row whose attributes differ from the
// previous row's.
func (c *checker) rebuild(attrs []Attr) {
	tc := c.tc
	l := &tc.lay
	l.names, l.kinds, l.setMap, l.missing = l.names[:0], l.kinds[:0], l.setMap[:0], l.missing[:0]
	l.unknownIdx, l.missingIdx, l.refIdx, l.dropped = l.unknownIdx[:0], l.missingIdx[:0], -1, l.dropped[:0]
	l.refFirst = len(attrs) > 0 && string(attrs[0].Name) == "ref"
	has := map[string]bool{}
	for _, a := range attrs {
		l.names = append(l.names, bytes.Clone(a.Name))
		name := string(a.Name)
		k, sm := kKnown, byte(0)
		switch {
		case name == "ref":
			k = kRef
		case name == "__ctime" || name == "__mtime":
			k = kCTime
		case tc.cols.Names == nil:
			// columns unknown to us: not judged
		case !tc.cols.Names[name]:
			k = kUnknown
		default:
			has[name] = true
			if tc.cols.History != nil {
				if col := tc.cols.History.Column(name); col != nil {
					switch col.Type {
					case "set", "setref":
						sm = 's'
					case "map":
						sm = 'm'
					}
				}
			}
		}
		var dropped *int
		if k == kUnknown && (!c.t.UnknownColumnFatal() || c.techPreview) {
			key := tc.name + "." + name
			if dropped = c.dropped[key]; dropped == nil && len(c.dropped) < MaxReasons {
				dropped = new(int)
				c.dropped[key] = dropped
			}
		}
		l.kinds = append(l.kinds, k)
		l.setMap = append(l.setMap, sm)
		l.unknownIdx = append(l.unknownIdx, -1)
		l.dropped = append(l.dropped, dropped)
	}
	if tc.cols.Names != nil {
		for name := range tc.cols.Names {
			if !has[name] && c.t.NeedsColumn(tc.name, name) {
				l.missing = append(l.missing, name)
			}
		}
		sort.Strings(l.missing)
		for range l.missing {
			l.missingIdx = append(l.missingIdx, -1)
		}
	}
}

func (c *checker) finish() {
	t := c.t
	var created []string
	for _, name := range t.Tables() {
		if c.seen[name] || c.stopped != nil {
			continue
		}
		if t.CreatesTables() {
			created = append(created, name)
		} else {
			c.add("missing-table", name, "", nil)
		}
	}
	if len(created) > 0 {
		c.note("tables the target creates empty at start (generic_database_upgrade): %s", strings.Join(created, ", "))
	}
	if len(c.dropped) > 0 {
		keys := make([]string, 0, len(c.dropped))
		for k := range c.dropped {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		switch {
		case c.techPreview:
			c.note("columns the target does not know are dropped at load because the manifest schema 5.%d is a tech preview (db_xml.ml From.database, 037e7b1917): %s", c.res.SchemaMinor, limitList(keys, 12))
		default:
			c.note("columns the target does not know are kept and written back by xapi of this era (harmless; statedb patch drops them): %s", limitList(keys, 12))
		}
	}
	for _, name := range sortedKeys(c.dups) {
		c.note("table %s: %s %s an earlier row's ref: xapi keeps one row per ref, the other is lost at its next write (as in the xapi that wrote the file)", name, Rows(c.dups[name]), plural(c.dups[name], "repeats", "repeat"))
	}
	for i := range c.res.Reasons {
		c.res.Reasons[i].Message = c.message(&c.res.Reasons[i])
	}
	sort.SliceStable(c.res.Reasons, func(i, j int) bool {
		a, b := c.res.Reasons[i], c.res.Reasons[j]
		if a.Code != b.Code {
			return codeOrder[a.Code] < codeOrder[b.Code]
		}
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Table == "" {
			return false // manifest keys in the file's or xapi's order
		}
		return a.Column < b.Column
	})
	c.res.Loads = c.res.UnlistedRefusing == 0 && !slices.ContainsFunc(c.res.Reasons, func(r Reason) bool { return r.Effect == EffectRefuses })
}

// codeOrder sorts reasons as a reader meets them: file form first.
var codeOrder = map[string]int{
	"undecodable": 0, "schema-mismatch": 1, "manifest-missing-key": 2, "manifest-bad-number": 3, "pair-order": 4,
	"ref-not-first": 5, "bad-ctime": 6, "unknown-table": 7, "missing-table": 8, "unknown-column": 9,
	"missing-column": 10, "bad-set-map": 11, "stripped-value": 12, "undecoded-space": 13,
}

// Rows is "1 row" or "N rows".
func Rows(n int) string { return fmt.Sprintf("%d %s", n, plural(n, "row", "rows")) }

// plural is one for n == 1, else many (a noun, or a verb agreeing with
// n rows).
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func limitList(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(s[:n], ", "), len(s)-n)
}

func (c *checker) message(r *Reason) string {
	t := c.t
	col := r.Table + "." + r.Column
	rows := Rows(r.Rows)
	known := "per the datamodel history at 5." + strconv.Itoa(t.Schema)
	if cs := t.Columns(r.Table); cs.Source == FromReference {
		known = "per the reference database"
	} else if t.Like != nil && r.Code == "unknown-table" {
		known = "per the reference database"
	}
	switch r.Code {
	case "undecodable":
		if r.Column != "" {
			return col + ": " + c.stopped.Msg
		}
		return c.stopped.Msg
	case "schema-mismatch":
		return fmt.Sprintf("schema %d.%d: the target accepts only 5.%d (its own) or 5.%d (the previous release's)", c.res.SchemaMajor, c.res.SchemaMinor, t.Schema, lastRelease[t.Schema])
	case "manifest-missing-key":
		if !slices.Contains(NewManifestKeys, r.Column) {
			return fmt.Sprintf("manifest key %s is missing: the target needs all 12 pairs of the old manifest", r.Column)
		}
		return fmt.Sprintf("manifest key %s is missing: every xapi looks it up (List.assoc raises Not_found)", r.Column)
	case "manifest-bad-number":
		v, _ := c.r.Manifest().Get(r.Column)
		conv := "int_of_string"
		if r.Column == KeyGeneration {
			conv = "Int64.of_string"
		}
		return fmt.Sprintf("manifest %s %q is not a number for OCaml's %s (after xmlm strips its blanks)", r.Column, v, conv)
	case "pair-order":
		return fmt.Sprintf("manifest pair %s has value before key", r.Column)
	case "ref-not-first":
		return fmt.Sprintf("table %s: %s %s ref as their first attribute", r.Table, rows, plural(r.Rows, "does not have", "do not have"))
	case "bad-ctime":
		return fmt.Sprintf("%s: %s %s a value that is not a 64-bit integer", col, rows, plural(r.Rows, "has", "have"))
	case "unknown-table":
		return fmt.Sprintf("table %s (%s) is unknown to the target (%s)", r.Table, Rows(r.Rows), known)
	case "missing-table":
		return fmt.Sprintf("table %s of the target is missing", r.Table)
	case "unknown-column":
		return fmt.Sprintf("column %s (in %s) is unknown to the target (%s)", col, rows, known)
	case "missing-column":
		if d, ok := t.Default(r.Table, r.Column); ok {
			return fmt.Sprintf("column %s is missing from %s; the target xapi does not fill its default %q", col, rows, d)
		}
		return fmt.Sprintf("column %s is missing from %s and has no default the target xapi would fill", col, rows)
	case "bad-set-map":
		return fmt.Sprintf("%s: %s %s a value that is not a well-formed set or map", col, rows, plural(r.Rows, "holds", "hold"))
	case "stripped-value":
		return fmt.Sprintf("%s: %s %s leading, trailing, repeated or TAB/LF/CR whitespace that the target's XML parser strips or collapses: xapi loads the database, with the value changed", col, rows, plural(r.Rows, "holds", "hold"))
	case "undecoded-space":
		return fmt.Sprintf("%s: %s %s %%. (a space), which the target's decoder leaves as %%.: xapi loads the database, with the value changed", col, rows, plural(r.Rows, "holds", "hold"))
	}
	return r.Code
}

// MaxTables bounds the tables of a database: xapi has fewer than 100, a
// file with more is not one (and each costs memory).
const MaxTables = 10000

// MaxRefHashes bounds the ref hashes kept per table to find duplicate refs
// (8 bytes each plus the map's overhead: about 30 MB at most). A real table
// has at most a few hundred thousand rows.
const MaxRefHashes = 1 << 20

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// xmlmAlters reports whether xmlm's whitespace stripping changes a decoded
// attribute value: leading or trailing whitespace, a run of two, or TAB,
// LF or CR (read as a space).
func xmlmAlters(v []byte) bool {
	n := len(v)
	if n == 0 {
		return false
	}
	if isXMLSpace(v[0]) || isXMLSpace(v[n-1]) {
		return true
	}
	if hasControl(v) && bytes.ContainsAny(v, "\t\n\r") {
		return true
	}
	i := bytes.IndexByte(v, ' ')
	return i >= 0 && bytes.Contains(v[i:], []byte("  "))
}

// XMLMRead is the value xmlm hands to xapi for a decoded attribute value:
// whitespace runs collapsed to one space, leading and trailing ones dropped.
func XMLMRead(v string) string {
	var b strings.Builder
	white := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if isXMLSpace(c) {
			white = true
			continue
		}
		if white && b.Len() > 0 {
			b.WriteByte(' ')
		}
		white = false
		b.WriteByte(c)
	}
	return b.String()
}

// ctimeReads reports whether xapi reads a __ctime/__mtime value (XML
// decoded, blanks stripped by xmlm) as an Int64.
func ctimeReads(raw []byte) bool {
	v, err := UnescapeXML(raw)
	return err == nil && ocamlInt(XMLMRead(v), 64)
}

// ocamlInt reports whether s is accepted by int_of_string (bits 63) or
// Int64.of_string (bits 64).
func ocamlInt(s string, bits int) bool {
	_, err := ParseOCamlInt(s, bits)
	return err == nil
}

// validSetMap checks a set (a list of strings) or a map (a list of pairs
// of strings) the way xapi's String_unmarshall_helper parses it with
// sExprLexer.mll: quoted strings (' or ", backslash escapes), bare symbols
// (which a set or map may not contain), ';' comments, whitespace.
func validSetMap(v []byte, isMap bool) bool {
	p := setMapParser{v: v}
	if !p.open() {
		return false
	}
	for {
		p.space()
		if p.i >= len(p.v) {
			return false
		}
		if p.v[p.i] == ')' {
			p.i++
			p.space()
			return p.i == len(p.v)
		}
		if isMap {
			if !p.open() || !p.str() || !p.str() || !p.close() {
				return false
			}
		} else if !p.str() {
			return false
		}
	}
}

type setMapParser struct {
	v []byte
	i int
}

func (p *setMapParser) space() {
	for p.i < len(p.v) {
		switch c := p.v[p.i]; {
		case isXMLSpace(c):
			p.i++
		case c == ';':
			j := bytes.IndexByte(p.v[p.i:], '\n')
			if j < 0 {
				// the lexer's comment needs its newline: ';' without one
				// is a symbol
				return
			}
			p.i += j + 1
		default:
			return
		}
	}
}

func (p *setMapParser) open() bool {
	p.space()
	if p.i < len(p.v) && p.v[p.i] == '(' {
		p.i++
		return true
	}
	return false
}

func (p *setMapParser) close() bool {
	p.space()
	if p.i < len(p.v) && p.v[p.i] == ')' {
		p.i++
		return true
	}
	return false
}

// str reads one quoted string.
func (p *setMapParser) str() bool {
	p.space()
	if p.i >= len(p.v) {
		return false
	}
	q := p.v[p.i]
	if q != '\'' && q != '"' {
		return false
	}
	for j := p.i + 1; j < len(p.v); j++ {
		switch p.v[j] {
		case '\\':
			j++
		case q:
			p.i = j + 1
			return true
		}
	}
	return false
}
