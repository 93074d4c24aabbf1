package statedb

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/xsrescue/xsrescue/internal/safego"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/release"
)

// Target describes the xapi a database is patched for.
type Target struct {
	// Schema is the exact schema_minor_vsn of the target xapi.
	Schema int
	// Like is the summary of a database written by the target xapi (the
	// fresh one it creates, or the older one from the backup partition); nil
	// when only the release table is known.
	Like *Summary
	// Host supplies the host-specific pairs of an old (12-key) manifest when
	// the source database does not have them: installation_uuid,
	// control_domain_uuid (from the inventory), pool_conf, pool_token.
	Host map[string]string
	// HostMissing says, for a host pair the root does not give, which file
	// lacks what (from HostKeys); nil when no root was read.
	HostMissing map[string]string
}

// PatchOptions are the user's choices.
type PatchOptions struct {
	// DropData allows dropping tables with rows and columns with values,
	// and writing values the target cannot represent the way it reads them.
	DropData bool
	// Generation is the file's .generation. A patch that rewrites the file
	// raises generation_count to it when it is higher: lowering it would
	// hand xapi's choice to a competitor with a generation in between.
	Generation int64
	// Reader bounds what is read (--max-size).
	Reader Options
}

// TableDrop is a table the target does not know.
type TableDrop struct {
	Table string `json:"table"`
	Rows  int    `json:"rows"`
}

// ColumnRef names one column; RowsWithData counts rows with a non-empty
// value (what dropping it loses).
type ColumnRef struct {
	Table        string `json:"table"`
	Column       string `json:"column"`
	RowsWithData int    `json:"rows_with_data"`
}

// ColumnFill is a column the target needs in rows that lack it, written
// with the datamodel's default.
type ColumnFill struct {
	Table   string `json:"table"`
	Column  string `json:"column"`
	Rows    int    `json:"rows"` // rows that lack it
	Default string `json:"default"`
}

// LossyValues counts the values of a column the target's parser cannot
// read back as they are (with --drop-data they are written the way it
// will read them).
type LossyValues struct {
	Table  string `json:"table"`
	Column string `json:"column"`
	Rows   int    `json:"rows"`
	Why    string `json:"why"`
}

// Patch is the planned rewrite of one database.
type Patch struct {
	FromSchema     int         `json:"from_schema"`
	ToSchema       int         `json:"to_schema"`
	ToReleases     []string    `json:"to_releases"`
	ManifestBefore Manifest    `json:"-"`
	ManifestAfter  Manifest    `json:"-"`
	OldManifest    bool        `json:"old_manifest"`
	DropTables     []TableDrop `json:"drop_tables"`
	DropColumns    []ColumnRef `json:"drop_columns"`
	AddTables      []string    `json:"add_tables"`
	// Missing are columns the target has and some rows lack, which the
	// target fills itself (5.6 and later, with a datamodel default).
	Missing []ColumnRef `json:"missing_columns"`
	// Fill are columns the patch writes into rows that lack them: an xapi
	// up to 5.5 fills no default when the schema is its own.
	Fill []ColumnFill `json:"fill_columns"`
	// Lossy are values the target cannot represent (accepted with
	// --drop-data, refused otherwise).
	Lossy []LossyValues `json:"lossy_values"`
	// Suspected lists tables whose columns neither the reference nor the
	// history show: they are kept as they are.
	Suspected  []ColumnRef `json:"suspected"`
	DropCTimes bool        `json:"drop_ctimes"`
	Reencode   bool        `json:"reencode_spaces"` // %. protection -> legacy literal spaces / %_
	Generation int64       `json:"generation"`
	Notes      []string    `json:"notes"`
	// Model is the target the plan was made for; its check runs on the
	// output (CheckOutput).
	Model *TargetModel `json:"-"`

	dropTable   map[string]bool
	dropColumns map[string]map[string]bool
	fill        map[string][]Attr // encoded defaults per table
	srcLegacy   bool              // the source's xapi reads without %.
	dstLegacy   bool
	acceptLossy bool
	reader      Options
}

// Empty reports whether the database already is as requested.
func (p *Patch) Empty() bool {
	return p.FromSchema == p.ToSchema && len(p.DropTables)+len(p.DropColumns)+len(p.AddTables)+len(p.Fill)+len(p.Lossy) == 0 &&
		!p.DropCTimes && !p.Reencode && manifestEqual(p.ManifestBefore, p.ManifestAfter)
}

func manifestEqual(a, b Manifest) bool {
	if len(a.Pairs) != len(b.Pairs) {
		return false
	}
	for i := range a.Pairs {
		if a.Pairs[i] != b.Pairs[i] {
			return false
		}
	}
	return true
}

// Losses describes what the patch would drop that holds data.
func (p *Patch) Losses() []string {
	var out []string
	for _, t := range p.DropTables {
		if t.Rows > 0 {
			out = append(out, fmt.Sprintf("table %s (%s)", t.Table, Rows(t.Rows)))
		}
	}
	for _, c := range p.DropColumns {
		if c.RowsWithData > 0 {
			out = append(out, fmt.Sprintf("column %s.%s (%s with a value)", c.Table, c.Column, Rows(c.RowsWithData)))
		}
	}
	for _, l := range p.Lossy {
		out = append(out, fmt.Sprintf("values of %s.%s in %s (%s)", l.Table, l.Column, Rows(l.Rows), l.Why))
	}
	return out
}

// PlanPatch works out how to rewrite src for t. It refuses (xerr.Refused) to
// raise the schema (xapi upgrades older databases itself), to drop data or
// write values the target reads differently unless o.DropData, and to
// leave rows without a column the target needs and has no default for.
func PlanPatch(src *Summary, t Target, o PatchOptions) (*Patch, error) {
	tm, err := NewTarget(t.Schema, t.Like)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	t.Schema = tm.Schema
	p := &Patch{
		FromSchema:     src.SchemaMinor,
		ToSchema:       t.Schema,
		ToReleases:     tm.Releases,
		ManifestBefore: src.Manifest,
		Generation:     src.Generation,
		DropTables:     []TableDrop{},
		DropColumns:    []ColumnRef{},
		AddTables:      []string{},
		Missing:        []ColumnRef{},
		Fill:           []ColumnFill{},
		Lossy:          []LossyValues{},
		Suspected:      []ColumnRef{},
		Notes:          []string{},
		Model:          tm,
		dropTable:      map[string]bool{},
		dropColumns:    map[string]map[string]bool{},
		fill:           map[string][]Attr{},
		srcLegacy:      src.SchemaMinor < modernSpacesFrom,
		dstLegacy:      tm.LegacySpaces(),
		acceptLossy:    o.DropData,
		reader:         o.Reader,
	}
	if p.ToReleases == nil {
		p.ToReleases = []string{}
	}
	if src.SchemaMajor != release.SchemaMajor {
		return nil, xerr.Refusedf("schema major %d: only %d is known", src.SchemaMajor, release.SchemaMajor)
	}
	if src.QuirkChars > 0 {
		return nil, xerr.Refusedf("%d %s XML 1.0 forbids right after a raw CR LF: xapi loads the file only because its parser reads the character after CR LF unchecked, and a patched file would not load; fix those values by hand first (statedb show names the first offset)", src.QuirkChars, plural(src.QuirkChars, "character", "characters"))
	}
	if t.Schema > src.SchemaMinor {
		return nil, xerr.Refusedf("target schema 5.%d is newer than the database's 5.%d: the newer xapi upgrades the database itself; patching only goes down", t.Schema, src.SchemaMinor)
	}
	if len(p.ToReleases) == 0 && t.Like == nil {
		p.Notes = append(p.Notes, fmt.Sprintf("no release in the release table writes schema 5.%d", t.Schema))
	}
	if t.Like == nil && tm.Datamodel != nil && !tm.Datamodel.Exact() {
		p.Notes = append(p.Notes, fmt.Sprintf("the datamodel history has no sample at 5.%d: its tables and columns are taken as those of 5.%d (%s)", t.Schema, tm.Datamodel.Sample.Schema, tm.Datamodel.Sample.How))
	}
	var needs []string
	p.planTables(src, tm, &needs)
	p.DropCTimes = t.Schema < ctimesFrom && hasCTimes(src)
	p.Reencode = p.dstLegacy && !p.srcLegacy
	if p.Reencode {
		p.planLossy(src)
	}
	if err := p.planManifest(src, t); err != nil {
		return nil, err
	}
	if o.Generation > p.Generation && !p.Empty() {
		p.Generation = o.Generation
		for i := range p.ManifestAfter.Pairs {
			if p.ManifestAfter.Pairs[i].Key == KeyGeneration {
				p.ManifestAfter.Pairs[i].Value = strconv.FormatInt(p.Generation, 10)
			}
		}
		p.Notes = append(p.Notes, fmt.Sprintf("generation_count raised from %d to %d, the file's .generation, so that xapi's choice of file stays as it was", src.Generation, p.Generation))
	}
	if len(needs) > 0 {
		return p, xerr.Refusedf("rows lack %s, which %s needs and has no default for: nothing can be filled in (give --like a database of the target with rows in those tables, or fix the rows by hand)", strings.Join(needs, ", "), tm.Describe())
	}
	if lost := p.Losses(); len(lost) > 0 && !o.DropData {
		return p, xerr.Refusedf("the target xapi does not know or cannot read back %s; dropping them loses data (re-run with --drop-data to accept)", strings.Join(lost, ", "))
	}
	return p, nil
}

func hasCTimes(s *Summary) bool {
	for _, t := range s.Tables {
		if t.CTimes {
			return true
		}
	}
	return false
}

// planTables drops the tables and columns the target does not know, adds
// the tables it needs, and fills or lists the columns rows lack.
func (p *Patch) planTables(src *Summary, tm *TargetModel, needs *[]string) {
	for _, ts := range src.Tables {
		if !tm.TableKnown(ts.Name) {
			p.DropTables = append(p.DropTables, TableDrop{ts.Name, ts.Rows})
			p.dropTable[ts.Name] = true
			continue
		}
		cols := tm.Columns(ts.Name)
		if cols.Names == nil {
			if ts.Rows > 0 {
				p.Suspected = append(p.Suspected, ColumnRef{Table: ts.Name, RowsWithData: ts.Rows})
			}
			continue
		}
		for _, c := range ts.Columns {
			if cols.Names[c] {
				continue
			}
			p.DropColumns = append(p.DropColumns, ColumnRef{ts.Name, c, ts.WithData[c]})
			if p.dropColumns[ts.Name] == nil {
				p.dropColumns[ts.Name] = map[string]bool{}
			}
			p.dropColumns[ts.Name][c] = true
		}
		if ts.Rows == 0 {
			continue
		}
		names := make([]string, 0, len(cols.Names))
		for c := range cols.Names {
			names = append(names, c)
		}
		sort.Strings(names)
		for _, c := range names {
			lack := ts.Rows - ts.Has[c]
			if lack <= 0 {
				continue
			}
			def, hasDef := tm.Default(ts.Name, c)
			switch {
			case !tm.NeedsColumn(ts.Name, c) && tm.CreatesTables():
				p.Missing = append(p.Missing, ColumnRef{Table: ts.Name, Column: c})
			case !tm.NeedsColumn(ts.Name, c):
				// up to 5.5 a non-persistent field is reset at start
			case hasDef:
				p.Fill = append(p.Fill, ColumnFill{ts.Name, c, lack, def})
				p.fill[ts.Name] = append(p.fill[ts.Name], Attr{Name: []byte(c), Raw: EncodeValue(def, tm.LegacySpaces())})
			default:
				*needs = append(*needs, fmt.Sprintf("%s.%s (%s)", ts.Name, c, Rows(lack)))
			}
		}
	}
	if tm.Like != nil {
		for _, tl := range tm.Like.Tables {
			if src.Table(tl.Name) == nil {
				p.AddTables = append(p.AddTables, tl.Name)
			}
		}
	} else if !tm.CreatesTables() {
		// up to 5.5 every datamodel table must be there; later ones are
		// created at start
		for _, name := range tm.Tables() {
			if src.Table(name) == nil {
				p.AddTables = append(p.AddTables, name)
			}
		}
	}
	sort.Strings(p.AddTables)
	if len(p.Missing) > 0 {
		p.Notes = append(p.Notes, "missing columns are filled with their datamodel default by the target xapi at start (generic_database_upgrade)")
	}
	if len(p.Fill) > 0 {
		p.Notes = append(p.Notes, "filled columns: an xapi up to 5.5 fills no default when the schema is its own, and fails reading a field a row lacks; the patch writes the datamodel default")
	}
	if len(p.Suspected) > 0 {
		p.Notes = append(p.Notes, "suspected: tables whose columns neither the reference (no rows) nor the datamodel history show; their columns are kept as they are")
	}
}

// planLossy lists the values an xapi of XS 7.2 or older reads back
// differently: a leading single space, an odd run of trailing ones.
func (p *Patch) planLossy(src *Summary) {
	for _, ts := range src.Tables {
		if p.dropTable[ts.Name] {
			continue
		}
		for _, c := range sortedKeys(ts.Lossy) {
			if p.dropColumns[ts.Name][c] {
				continue
			}
			p.Lossy = append(p.Lossy, LossyValues{ts.Name, c, ts.Lossy[c], "a leading or trailing space the target's XML parser strips"})
		}
	}
	if len(p.Lossy) > 0 && p.acceptLossy {
		p.Notes = append(p.Notes, "lossy values are written the way the target reads them (without the space it would strip)")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Host keys of the old manifest: they identify the host, not the release.
var hostKeys = []string{"installation_uuid", "control_domain_uuid", "pool_conf", "pool_token"}

func (p *Patch) planManifest(src *Summary, t Target) error {
	oldForm := t.Schema <= 61
	if t.Like != nil {
		oldForm = t.Like.Manifest.OldForm()
	}
	p.OldManifest = oldForm
	gen := strconv.FormatInt(src.Generation, 10)
	if !oldForm {
		p.ManifestAfter = Manifest{Pairs: []Pair{
			{KeySchemaMajor, strconv.Itoa(release.SchemaMajor)},
			{KeySchemaMinor, strconv.Itoa(t.Schema)},
			{KeyGeneration, gen},
		}}
		return nil
	}
	var rel release.Release
	if rs := release.ForSchema(t.Schema); len(rs) > 0 {
		rel = rs[0]
	}
	var guessed []string
	value := func(k string) (string, error) {
		switch k {
		case KeySchemaMajor:
			return strconv.Itoa(release.SchemaMajor), nil
		case KeySchemaMinor:
			return strconv.Itoa(t.Schema), nil
		case KeyGeneration:
			return gen, nil
		}
		isHost := false
		for _, h := range hostKeys {
			isHost = isHost || h == k
		}
		if isHost {
			if v, ok := src.Manifest.Get(k); ok {
				return v, nil
			}
			if v, ok := t.Host[k]; ok && v != "" {
				return v, nil
			}
		}
		if t.Like != nil {
			if v, ok := t.Like.Manifest.Get(k); ok {
				return v, nil
			}
		}
		switch {
		case isHost && t.HostMissing[k] != "":
			return "", xerr.Invalidf("cannot build the 12-pair manifest the target needs: %s is not in the database, and %s (or give --like a database of this host that has it)", k, t.HostMissing[k])
		case isHost:
			return "", xerr.Invalidf("cannot build the 12-pair manifest the target needs: %s is not in the database or the reference (give --root or --disk so that etc/xensource-inventory, pool.conf and ptoken are read, or --like)", k)
		case k == "product_version" && rel.Product != "":
			return rel.Product, nil
		case k == "product_brand":
			return "XenServer", nil
		case k == "build_number" && rel.Build != "":
			return rel.Build, nil
		case k == "build_number":
			guessed = append(guessed, k)
			return "0", nil
		}
		guessed = append(guessed, k)
		return "1", nil
	}
	for _, k := range OldManifestKeys {
		v, err := value(k)
		if err != nil {
			return err
		}
		p.ManifestAfter.Pairs = append(p.ManifestAfter.Pairs, Pair{k, v})
	}
	if len(guessed) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("manifest %s: no source for the exact value, written as a placeholder (the old reader only needs the key to exist); --like gives the real one", strings.Join(guessed, ", ")))
	}
	return nil
}

// Apply streams src (which must be the database the plan was made from)
// through the patch to dst, uncompressed.
func (p *Patch) Apply(dst io.Writer, src io.Reader) error {
	r, err := NewReaderOptions(src, p.reader)
	if err != nil {
		return err
	}
	if !manifestEqual(r.Manifest(), p.ManifestBefore) {
		return fmt.Errorf("the database changed since the patch was planned (manifest differs)")
	}
	w := NewWriter(dst)
	if err := w.Begin(p.ManifestAfter); err != nil {
		return err
	}
	add := p.AddTables
	flushAdds := func(before string) {
		for len(add) > 0 && (before == "" || add[0] < before) {
			w.StartTable(add[0])
			w.EndTable()
			add = add[1:]
		}
	}
	var (
		skipTable bool
		drop      map[string]bool
		fill      []Attr
		attrs     []Attr
		arena     []byte
		tmp       []byte
	)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch ev.Kind {
		case TableStart:
			skipTable = p.dropTable[ev.Table]
			if skipTable {
				continue
			}
			flushAdds(ev.Table)
			drop, fill = p.dropColumns[ev.Table], p.fill[ev.Table]
			w.StartTable(ev.Table)
		case RowRead:
			if skipTable {
				continue
			}
			attrs, arena = attrs[:0], arena[:0]
			for _, a := range ev.Row.Attrs {
				if drop[string(a.Name)] || p.DropCTimes && (string(a.Name) == "__ctime" || string(a.Name) == "__mtime") {
					continue
				}
				if !isRowAttr(a.Name) && len(a.Raw) > 0 {
					start := len(arena)
					var changed bool
					if arena, changed, err = p.value(arena, a, &tmp); err != nil {
						return &SyntaxError{Offset: ev.Row.Offset, Table: ev.Table, Row: ev.Row.N, Ref: string(ev.Row.Ref()), Msg: string(a.Name) + ": " + err.Error()}
					}
					if changed {
						a.Raw = arena[start:len(arena):len(arena)]
					}
				}
				attrs = append(attrs, a)
			}
			for _, f := range fill {
				if !hasAttr(attrs, f.Name) {
					attrs = append(attrs, f)
				}
			}
			if err := w.WriteRow(attrs); err != nil {
				return err
			}
		case TableEnd:
			if !skipTable {
				w.EndTable()
			}
			skipTable = false
		}
	}
	flushAdds("")
	return w.Close()
}

func hasAttr(attrs []Attr, name []byte) bool {
	for _, a := range attrs {
		if bytes.Equal(a.Name, name) {
			return true
		}
	}
	return false
}

// value appends a column value as the target must get it and reports
// whether it differs from the raw one. Values with the %. protection are
// re-encoded for a legacy target (one pass); a value the target's XML
// parser would strip (raw leading, trailing or repeated whitespace, TAB,
// LF, CR) is re-encoded as what the source's xapi reads. A value the
// legacy target cannot represent (a leading or trailing literal space) is
// written the way it will read it when the loss was accepted.
func (p *Patch) value(dst []byte, a Attr, tmp *[]byte) ([]byte, bool, error) {
	v := a.Raw
	if a.ent {
		var err error
		if *tmp, err = appendUnescapeXML((*tmp)[:0], v); err != nil {
			return dst, false, err
		}
		v = *tmp
	}
	alters := xmlmAlters(v)
	pct := bytes.IndexByte(v, '%') >= 0
	start := len(dst)
	switch {
	case p.Reencode && !alters && (a.ent || pct):
		dst = appendLegacy(dst, v)
	case alters || (p.Reencode && a.ent):
		s := XMLMRead(string(v))
		s = string(appendUnprotectFor(nil, s, p.srcLegacy))
		dst = append(dst, EncodeValue(s, p.dstLegacy)...)
	default:
		return dst, false, nil
	}
	out := dst[start:]
	if p.dstLegacy && len(out) > 0 && (out[0] == ' ' || out[len(out)-1] == ' ') {
		if !p.acceptLossy {
			return dst, false, fmt.Errorf("a leading or trailing space the target cannot represent (not in the plan: the database changed?)")
		}
		trimmed := bytes.Trim(out, " ")
		n := copy(out, trimmed)
		dst = dst[:start+n]
	}
	return dst, true, nil
}

// CheckFailedError is a patched database that the check finds the target
// would refuse or break on: nothing is committed.
type CheckFailedError struct {
	Target string
	Result *CheckResult
}

func (e *CheckFailedError) Error() string {
	var rs []string
	for _, r := range e.Result.Reasons {
		rs = append(rs, r.Code+": "+r.Message)
	}
	if e.Result.Unlisted > 0 {
		rs = append(rs, fmt.Sprintf("and %d more", e.Result.Unlisted))
	}
	return fmt.Sprintf("the patched database would not load in xapi of %s: %s", e.Target, strings.Join(rs, "; "))
}

// Is makes a failed check a refusal (exit 3).
func (e *CheckFailedError) Is(target error) bool { return target == xerr.ErrRefused }

// checkedWriter feeds what is written to Check in a goroutine.
type checkedWriter struct {
	pw   *io.PipeWriter
	done chan error
}

func (p *Patch) startCheck() *checkedWriter {
	pr, pw := io.Pipe()
	cw := &checkedWriter{pw: pw, done: make(chan error, 1)}
	go func() {
		err := func() (err error) {
			defer safego.Recover(&err)
			res, err := Check(pr, p.Model, CheckOptions{})
			if err != nil {
				return fmt.Errorf("checking the patched database: %w", err)
			}
			io.Copy(io.Discard, pr)
			if res.Problems() {
				return &CheckFailedError{Target: p.Model.Describe(), Result: res}
			}
			return nil
		}()
		if err != nil {
			pr.CloseWithError(err) // the writer is not left blocked
		}
		cw.done <- err
	}()
	return cw
}

// finish ends the check's input (with err, if the rewrite failed) and
// returns the rewrite's error, else the check's.
func (cw *checkedWriter) finish(err error) error {
	cw.pw.CloseWithError(err)
	cerr := <-cw.done
	if err != nil {
		return err
	}
	return cerr
}

// CheckOutput runs the patch on src into the check of the target, writing
// nothing: what --dry-run reports, and what the real run would refuse.
func (p *Patch) CheckOutput(src io.Reader) error {
	cw := p.startCheck()
	return cw.finish(p.Apply(cw.pw, src))
}

// Stream returns a function giving the patched database as a stream, for
// journal.Change.Stream: open re-opens the source, and the output is
// gzip-compressed when compress is set (db.conf compress:true). The rewrite
// runs in a goroutine, its output checked for the target in another as it
// goes (Check): the stream ends with a CheckFailedError instead of EOF when
// the target would not load it, so that nothing is committed. Memory stays
// at a few buffers whatever the size.
func (p *Patch) Stream(open Opener, compress bool) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		src, err := open()
		if err != nil {
			return nil, err
		}
		pr, pw := io.Pipe()
		go func() {
			defer src.Close()
			var w io.Writer = pw
			var zw *gzip.Writer
			if compress {
				zw = gzip.NewWriter(pw)
				w = zw
			}
			cw := p.startCheck()
			err := func() (err error) {
				defer safego.Recover(&err)
				if err = p.Apply(io.MultiWriter(w, cw.pw), src); zw != nil && err == nil {
					err = zw.Close()
				}
				return err
			}()
			pw.CloseWithError(cw.finish(err))
		}()
		return pr, nil
	}
}
