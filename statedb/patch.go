package statedb

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"

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
	// DropData allows dropping tables with rows and columns with values.
	DropData bool
	// Generation is the file's .generation. A patch that rewrites the file
	// raises generation_count to it when it is higher: lowering it would
	// hand xapi's choice to a competitor with a generation in between.
	Generation int64
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
	Missing        []ColumnRef `json:"missing_columns"`
	// Suspected lists tables and columns that the datamodel history suggests
	// the target lacks; they are only reported (no --like to confirm).
	Suspected   []ColumnRef `json:"suspected"`
	DropCTimes  bool        `json:"drop_ctimes"`
	Reencode    bool        `json:"reencode_spaces"` // %. protection -> legacy literal spaces / %_
	Generation  int64       `json:"generation"`
	Notes       []string    `json:"notes"`
	dropTable   map[string]bool
	dropColumns map[string]map[string]bool
}

// Empty reports whether the database already is as requested.
func (p *Patch) Empty() bool {
	return p.FromSchema == p.ToSchema && len(p.DropTables)+len(p.DropColumns)+len(p.AddTables) == 0 &&
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
			out = append(out, fmt.Sprintf("table %s (%d rows)", t.Table, t.Rows))
		}
	}
	for _, c := range p.DropColumns {
		if c.RowsWithData > 0 {
			out = append(out, fmt.Sprintf("column %s.%s (%d rows with a value)", c.Table, c.Column, c.RowsWithData))
		}
	}
	return out
}

// ctimesFrom is the first schema whose rows carry __ctime/__mtime (CA-44742).
const ctimesFrom = 63

// PlanPatch works out how to rewrite src for t. It refuses (xerr.Refused) to
// raise the schema (xapi upgrades older databases itself) and to drop data
// unless o.DropData.
func PlanPatch(src *Summary, t Target, o PatchOptions) (*Patch, error) {
	if t.Like != nil {
		t.Schema = t.Like.SchemaMinor
	}
	p := &Patch{
		FromSchema:     src.SchemaMinor,
		ToSchema:       t.Schema,
		ManifestBefore: src.Manifest,
		Generation:     src.Generation,
		DropTables:     []TableDrop{},
		DropColumns:    []ColumnRef{},
		AddTables:      []string{},
		Missing:        []ColumnRef{},
		Suspected:      []ColumnRef{},
		Notes:          []string{},
		dropTable:      map[string]bool{},
		dropColumns:    map[string]map[string]bool{},
	}
	for _, r := range release.ForSchema(t.Schema) {
		p.ToReleases = append(p.ToReleases, r.Name)
	}
	if src.SchemaMajor != release.SchemaMajor {
		return nil, xerr.Refusedf("schema major %d: only %d is known", src.SchemaMajor, release.SchemaMajor)
	}
	if t.Schema > src.SchemaMinor {
		return nil, xerr.Refusedf("target schema 5.%d is newer than the database's 5.%d: the newer xapi upgrades the database itself; patching only goes down", t.Schema, src.SchemaMinor)
	}
	if len(p.ToReleases) == 0 && t.Like == nil {
		p.Notes = append(p.Notes, fmt.Sprintf("no release in the release table writes schema 5.%d", t.Schema))
	}

	if t.Like != nil {
		p.planLike(src, t.Like)
	} else {
		p.planSuspects(src, t.Schema)
	}
	p.DropCTimes = t.Schema < ctimesFrom && hasCTimes(src)
	p.Reencode = t.Schema <= legacySpacesUpTo && src.SchemaMinor > legacySpacesUpTo
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
	if lost := p.Losses(); len(lost) > 0 && !o.DropData {
		return p, xerr.Refusedf("the target xapi does not know %s; dropping them loses data (re-run with --drop-data to accept)", strings.Join(lost, ", "))
	}
	return p, nil
}

// legacySpacesUpTo is the last schema whose xapi predates CA-268761 (XS 7.2).
const legacySpacesUpTo = 120

func hasCTimes(s *Summary) bool {
	for _, t := range s.Tables {
		if t.CTimes {
			return true
		}
	}
	return false
}

func (p *Patch) planLike(src, like *Summary) {
	for _, ts := range src.Tables {
		tl := like.Table(ts.Name)
		if tl == nil {
			p.DropTables = append(p.DropTables, TableDrop{ts.Name, ts.Rows})
			p.dropTable[ts.Name] = true
			continue
		}
		if tl.Rows == 0 {
			// an empty table in the reference says nothing about its columns
			for _, c := range suspectColumns(ts, like.SchemaMinor) {
				p.Suspected = append(p.Suspected, ColumnRef{ts.Name, c, ts.WithData[c]})
			}
			continue
		}
		for _, c := range minus(ts.Columns, tl.Columns) {
			p.DropColumns = append(p.DropColumns, ColumnRef{ts.Name, c, ts.WithData[c]})
			if p.dropColumns[ts.Name] == nil {
				p.dropColumns[ts.Name] = map[string]bool{}
			}
			p.dropColumns[ts.Name][c] = true
		}
		if ts.Rows > 0 {
			for _, c := range minus(tl.Columns, ts.Columns) {
				p.Missing = append(p.Missing, ColumnRef{Table: ts.Name, Column: c})
			}
		}
	}
	for _, tl := range like.Tables {
		if src.Table(tl.Name) == nil {
			p.AddTables = append(p.AddTables, tl.Name)
		}
	}
	sort.Strings(p.AddTables)
	if len(p.Missing) > 0 {
		p.Notes = append(p.Notes, "columns the target has and the database lacks: xapi fills them with the schema default; a field without a default stops it (DBCache_NotFound \"missing default value in datamodel for new field\")")
	}
	if len(p.Suspected) > 0 {
		p.Notes = append(p.Notes, "suspected columns are in tables that are empty in the reference database, which therefore cannot confirm them; they are kept")
	}
}

// planSuspects reports, without dropping, what the datamodel history says
// the target schema lacks.
func (p *Patch) planSuspects(src *Summary, schema int) {
	model := ModelAt(schema)
	for _, ts := range src.Tables {
		if _, ok := model[ts.Name]; !ok && known(ts.Name) {
			p.Suspected = append(p.Suspected, ColumnRef{Table: ts.Name, RowsWithData: ts.Rows})
			continue
		}
		for _, c := range suspectColumns(ts, schema) {
			p.Suspected = append(p.Suspected, ColumnRef{ts.Name, c, ts.WithData[c]})
		}
	}
	p.Notes = append(p.Notes, "without --like REF.db the tables and columns the target xapi knows cannot be known: nothing is dropped. The suspected list comes from the datamodel history (docs/statedb.md) and is approximate; give --like with a database the target xapi wrote (the fresh one it creates, or the one on the backup partition)")
}

func known(table string) bool {
	for _, t := range History {
		if t.Name == table {
			return true
		}
	}
	return false
}

// suspectColumns are the source table's columns that the history model
// places after schema (or removed by then).
func suspectColumns(ts TableInfo, schema int) []string {
	var out []string
	for _, t := range History {
		if t.Name != ts.Name {
			continue
		}
		for _, c := range t.Columns {
			if !c.at(schema) && ts.HasColumn(c.Name) {
				out = append(out, c.Name)
			}
		}
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
	r, err := NewReader(src)
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
			drop = p.dropColumns[ev.Table]
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
				// A '%' may be written as &#37;: a value with an entity
				// goes through reencodeLegacy too (its decoding path).
				if p.Reencode && !isRowAttr(a.Name) && (a.ent || bytes.IndexByte(a.Raw, '%') >= 0) {
					start := len(arena)
					if arena, err = reencodeLegacy(arena, a.Raw, &tmp); err != nil {
						return &SyntaxError{Offset: ev.Row.Offset, Table: ev.Table, Row: ev.Row.N, Ref: string(ev.Row.Ref()), Msg: string(a.Name) + ": " + err.Error()}
					}
					a.Raw = arena[start:len(arena):len(arena)]
				}
				attrs = append(attrs, a)
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

// Stream returns a function giving the patched database as a stream, for
// journal.Change.Stream: open re-opens the source, and the output is
// gzip-compressed when compress is set (db.conf compress:true). The rewrite
// runs in a goroutine; memory stays at a few buffers whatever the size.
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
			err := p.Apply(w, src)
			if zw != nil && err == nil {
				err = zw.Close()
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}
}
