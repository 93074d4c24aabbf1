package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/statedb"
)

// statedbTable is one table of `statedb show --json`.
type statedbTable struct {
	Name    string   `json:"name"`
	Rows    int      `json:"rows"`
	Columns []string `json:"columns"`
}

// statedbShowDoc is the JSON document of `statedb show` (docs/json.md).
type statedbShowDoc struct {
	Path          string             `json:"path"`
	Root          *string            `json:"root"`
	Size          int64              `json:"size"`
	XMLBytes      int64              `json:"xml_bytes"`
	Compressed    bool               `json:"compressed"`
	SchemaMajor   int                `json:"schema_major"`
	SchemaMinor   int                `json:"schema_minor"`
	Generation    int64              `json:"generation"`
	ManifestForm  string             `json:"manifest_form"`
	Manifest      map[string]string  `json:"manifest"`
	Releases      []string           `json:"releases"`
	ReleaseNames  []string           `json:"release_names"`
	SpaceEncoding *string            `json:"space_encoding"`
	Tables        []statedbTable     `json:"tables"`
	SideFiles     []statedb.SideFile `json:"side_files"`
	XapiLoads     *string            `json:"xapi_loads"`
	Reason        string             `json:"reason"`
	Problems      []string           `json:"problems"`
}

// newStatedbShowDoc starts the document of statedb show with where the
// database is and which side files decide what xapi loads.
func newStatedbShowDoc(in *statedbInput) statedbShowDoc {
	doc := statedbShowDoc{Path: in.Path, Root: in.Root, Size: in.Size, SideFiles: []statedb.SideFile{}, Problems: []string{}}
	if in.Loc == nil {
		doc.Reason = "a plain file: which file xapi loads is decided inside a root (use --root or --disk)"
		if g, err := infile.ReadFile(in.Path + statedb.GenSuffix); err == nil {
			sf := statedb.SideFile{Path: in.Path + statedb.GenSuffix, Role: "generation", Size: int64(len(g))}
			if n, err := strconv.ParseInt(strings.TrimSpace(string(g)), 10, 64); err == nil {
				sf.Generation = &n
			}
			doc.SideFiles = append(doc.SideFiles, sf)
		}
		return doc
	}
	loads := in.Path
	doc.SideFiles, doc.Reason, doc.XapiLoads = in.Loc.Files, in.Loc.Reason, &loads
	for i := range doc.SideFiles {
		doc.SideFiles[i].Path = "/" + doc.SideFiles[i].Path
	}
	return doc
}

func fillShowDoc(doc *statedbShowDoc, s *statedb.Summary) {
	doc.XMLBytes, doc.Compressed = s.Bytes, s.Compressed
	doc.SchemaMajor, doc.SchemaMinor, doc.Generation = s.SchemaMajor, s.SchemaMinor, s.Generation
	doc.Manifest = s.Manifest.Map()
	doc.ManifestForm = "current"
	if s.Manifest.OldForm() {
		doc.ManifestForm = "old"
	}
	if s.SpaceEncoding != "" {
		doc.SpaceEncoding = &s.SpaceEncoding
	}
	doc.Releases, doc.ReleaseNames = []string{}, []string{}
	for _, r := range release.ForSchema(s.SchemaMinor) {
		doc.Releases = append(doc.Releases, strings.TrimSuffix(r.Product, ".0"))
		doc.ReleaseNames = append(doc.ReleaseNames, r.Name)
	}
	if len(doc.Releases) == 0 {
		doc.Problems = append(doc.Problems, fmt.Sprintf("no release in the release table writes schema 5.%d", s.SchemaMinor))
	}
	if s.SchemaMinor <= 61 && len(s.Manifest.MissingOldKeys()) > 0 {
		doc.Problems = append(doc.Problems, fmt.Sprintf("schema 5.%d is read by xapi <= 5.6 FP1, which needs the 12-pair manifest; missing: %s",
			s.SchemaMinor, strings.Join(s.Manifest.MissingOldKeys(), ", ")))
	}
	if s.SpaceEncoding == "mixed" {
		doc.Problems = append(doc.Problems, "values use both literal spaces and %. (written by two xapi generations?)")
	}
	doc.Problems = append(doc.Problems, s.Problems...)
	doc.Tables = make([]statedbTable, 0, len(s.Tables))
	for _, t := range s.RefsNotChecked {
		doc.Problems = append(doc.Problems, fmt.Sprintf("table %s has more rows than duplicate refs are looked for in (the first %d)", t, statedb.MaxRefHashes))
	}
	for _, t := range s.Tables {
		if n := t.Duplicates; n > 0 {
			doc.Problems = append(doc.Problems, fmt.Sprintf("table %s: %d row(s) repeat a ref (%s): xapi keys rows by ref and keeps only one of each",
				t.Name, n, strings.Join(t.DuplicateRefs[:min(len(t.DuplicateRefs), 5)], ", ")))
		}
		cols := t.Columns
		if cols == nil {
			cols = []string{}
		}
		doc.Tables = append(doc.Tables, statedbTable{Name: t.Name, Rows: t.Rows, Columns: cols})
	}
	if doc.XapiLoads != nil {
		var loaded *statedb.SideFile
		for i := range doc.SideFiles {
			if doc.SideFiles[i].Path == *doc.XapiLoads {
				loaded = &doc.SideFiles[i]
			}
		}
		if loaded != nil && loaded.Generation != nil && *loaded.Generation != s.Generation {
			doc.Problems = append(doc.Problems, fmt.Sprintf("%s.generation says %d, the manifest's generation_count is %d", doc.Path, *loaded.Generation, s.Generation))
		}
		if loaded != nil && loaded.Role == statedb.RoleDBConf && loaded.Compress != s.Compressed {
			doc.Problems = append(doc.Problems, fmt.Sprintf("db.conf says compress:%v but the file is %s: xapi reads it through gzip only when compress:true",
				loaded.Compress, map[bool]string{true: "gzip-compressed", false: "plain XML"}[s.Compressed]))
		}
	}
}

func printStatedbShow(w io.Writer, d *statedbShowDoc) error {
	fmt.Fprintf(w, "%s\n", d.Path)
	form := "uncompressed"
	if d.Compressed {
		form = "gzip-compressed"
	}
	fmt.Fprintf(w, "  size %d bytes (%s, %d bytes of XML)\n", d.Size, form, d.XMLBytes)
	rels := "no known release"
	if len(d.ReleaseNames) > 0 {
		rels = strings.Join(d.ReleaseNames, ", ")
	}
	fmt.Fprintf(w, "  schema %d.%d: written by %s\n", d.SchemaMajor, d.SchemaMinor, rels)
	enc := "no value with a space"
	if d.SpaceEncoding != nil {
		enc = *d.SpaceEncoding
	}
	fmt.Fprintf(w, "  generation %d; space encoding %s\n", d.Generation, enc)
	fmt.Fprintf(w, "  manifest (%s form, %d pairs):\n", d.ManifestForm, len(d.Manifest))
	keys := make([]string, 0, len(d.Manifest))
	for k := range d.Manifest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "    %-22s %s\n", k, d.Manifest[k])
	}
	fmt.Fprintf(w, "  %d tables:\n", len(d.Tables))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "    TABLE\tROWS\tCOLUMNS")
	for _, t := range d.Tables {
		fmt.Fprintf(tw, "    %s\t%d\t%d\n", t.Name, t.Rows, len(t.Columns))
	}
	tw.Flush()
	if len(d.SideFiles) > 0 {
		fmt.Fprintln(w, "  candidate files:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "    ROLE\tPATH\tGENERATION\tSIZE")
		for _, f := range d.SideFiles {
			g := "-"
			if f.Generation != nil {
				g = strconv.FormatInt(*f.Generation, 10)
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%d\n", f.Role, f.Path, g, f.Size)
		}
		tw.Flush()
	}
	if d.XapiLoads != nil {
		fmt.Fprintf(w, "  xapi loads %s: %s\n", *d.XapiLoads, d.Reason)
	} else {
		fmt.Fprintf(w, "  %s\n", d.Reason)
	}
	for _, p := range d.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	return nil
}

func sideString(p *string) string {
	if p == nil {
		return "(absent)"
	}
	return strconv.Quote(*p)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func printStatedbDiff(w io.Writer, a, b string, d *statedb.Diff) error {
	fmt.Fprintf(w, "A: %s\nB: %s\n", a, b)
	if d.Equal() {
		fmt.Fprintln(w, "no differences")
		return nil
	}
	if len(d.Manifest) > 0 {
		fmt.Fprintln(w, "manifest:")
		for _, k := range sortedKeys(d.Manifest) {
			fmt.Fprintf(w, "  %s: %s -> %s\n", k, sideString(d.Manifest[k].A), sideString(d.Manifest[k].B))
		}
	}
	if len(d.TablesOnlyInA) > 0 {
		fmt.Fprintf(w, "tables only in A: %s\n", strings.Join(d.TablesOnlyInA, ", "))
	}
	if len(d.TablesOnlyInB) > 0 {
		fmt.Fprintf(w, "tables only in B: %s\n", strings.Join(d.TablesOnlyInB, ", "))
	}
	for _, side := range []struct {
		name string
		m    map[string][]string
	}{{"A", d.ColumnsOnlyInA}, {"B", d.ColumnsOnlyInB}} {
		if len(side.m) == 0 {
			continue
		}
		fmt.Fprintf(w, "columns only in %s:\n", side.name)
		for _, t := range sortedKeys(side.m) {
			fmt.Fprintf(w, "  %s: %s\n", t, strings.Join(side.m[t], ", "))
		}
	}
	header := false
	for _, t := range sortedKeys(d.Rows) {
		c := d.Rows[t]
		if c.A != nil && c.B != nil && *c.A == *c.B {
			continue
		}
		if !header {
			fmt.Fprintln(w, "row counts that differ (A -> B):")
			header = true
		}
		fmt.Fprintf(w, "  %s: %s -> %s\n", t, countString(c.A), countString(c.B))
	}
	for _, t := range sortedKeys(d.RowChanges) {
		rc := d.RowChanges[t]
		if len(rc.Added)+len(rc.Removed)+len(rc.Changed) == 0 {
			continue
		}
		fmt.Fprintf(w, "rows of %s: %d added, %d removed, %d changed\n", t, len(rc.Added), len(rc.Removed), len(rc.Changed))
		for _, r := range rc.Added {
			fmt.Fprintf(w, "  + %s\n", r)
		}
		for _, r := range rc.Removed {
			fmt.Fprintf(w, "  - %s\n", r)
		}
		for _, r := range sortedKeys(rc.Changed) {
			fmt.Fprintf(w, "  ~ %s\n", r)
			for _, c := range sortedKeys(rc.Changed[r]) {
				v := rc.Changed[r][c]
				fmt.Fprintf(w, "      %s: %s -> %s\n", c, sideString(v.A), sideString(v.B))
			}
		}
	}
	return nil
}

func countString(n *int) string {
	if n == nil {
		return "(no table)"
	}
	return strconv.Itoa(*n)
}

// statedbPatchDoc is the "details" of `statedb patch`'s mutation
// document (docs/json.md).
type statedbPatchDoc struct {
	Path           string             `json:"path"`
	Compressed     bool               `json:"compressed"`
	ManifestBefore map[string]string  `json:"manifest_before"`
	ManifestAfter  map[string]string  `json:"manifest_after"`
	Patch          *statedb.Patch     `json:"patch"`
	Competitors    []statedb.SideFile `json:"competitors"`
	SetAside       bool               `json:"set_aside"`
	Output         *patchOutput       `json:"output"`
	Check          *patchCheck        `json:"check"`
}

// patchCheck says that the patched database was checked for the target.
type patchCheck struct {
	Target string `json:"target"`
	Loads  bool   `json:"loads"`
	When   string `json:"when"` // "while writing", "dry run", "as it is" (nothing to change)
}

// patchOutput is what `statedb patch --output` wrote.
type patchOutput struct {
	Path       string `json:"path"` // "-" for stdout
	Bytes      int64  `json:"bytes"`
	SHA256     string `json:"sha256"`
	Generation int64  `json:"generation"` // what the .generation beside it must say
}

// targetChoice is how the target xapi was named: by release, by schema, or
// by a database it wrote.
type targetChoice struct {
	From      string  `json:"from"`      // "release", "schema" or "reference"
	Release   *string `json:"release"`   // as given to --to-release / --for-release
	Reference *string `json:"reference"` // the --like file
}

// checkTargetDoc describes the target of a check (docs/json.md).
type checkTargetDoc struct {
	targetChoice
	SchemaMinor int                      `json:"schema_minor"`
	Releases    []string                 `json:"releases"`
	Datamodel   *statedb.DatamodelSample `json:"datamodel"` // the history's sample used; null below the history
	Exact       bool                     `json:"datamodel_exact"`
}

// statedbCheckDoc is the JSON document of `statedb check` (docs/json.md).
type statedbCheckDoc struct {
	Path             string           `json:"path"`
	Root             *string          `json:"root"`
	SchemaMajor      int              `json:"schema_major"`
	SchemaMinor      int              `json:"schema_minor"`
	Target           checkTargetDoc   `json:"target"`
	Loads            bool             `json:"loads"`
	ValuesChange     int              `json:"values_change"`
	Reasons          []statedb.Reason `json:"reasons"`
	Unlisted         int              `json:"unlisted"`
	UnlistedRefusing int              `json:"unlisted_refusing"`
	Notes            []string         `json:"notes"`
	headline         string           // statedb.CheckResult.Headline
}

func newCheckTargetDoc(tm *statedb.TargetModel, c targetChoice) checkTargetDoc {
	d := checkTargetDoc{targetChoice: c, SchemaMinor: tm.Schema, Releases: tm.Releases}
	if d.Releases == nil {
		d.Releases = []string{}
	}
	if tm.Datamodel != nil {
		smp := tm.Datamodel.Sample
		d.Datamodel, d.Exact = &smp, tm.Datamodel.Exact()
	}
	return d
}

func printStatedbCheck(w io.Writer, d *statedbCheckDoc, tm *statedb.TargetModel) error {
	how := map[string]string{"release": "from the release table", "schema": "by schema number", "reference": "like " + deref(d.Target.Reference)}[d.Target.From]
	schema := fmt.Sprintf("schema %d.%d", d.SchemaMajor, d.SchemaMinor)
	if d.SchemaMajor == 0 && d.SchemaMinor == 0 {
		schema = "schema unknown (the manifest gives none xapi reads)"
	}
	fmt.Fprintf(w, "%s: %s, checked for %s (%s)\n", d.Path, schema, tm.Describe(), how)
	if dm := d.Target.Datamodel; dm != nil {
		exact := ""
		if !d.Target.Exact {
			exact = fmt.Sprintf(", the nearest below 5.%d", d.Target.SchemaMinor)
		}
		fmt.Fprintf(w, "  datamodel: xen-api sample at 5.%d%s (%s)\n", dm.Schema, exact, dm.How)
	}
	if d.headline == "loads" {
		fmt.Fprintf(w, "  loads: xapi of %s would load it\n", tm.Describe())
	} else {
		fmt.Fprintf(w, "  %s (xapi of %s)\n", d.headline, tm.Describe())
	}
	// reasons come grouped by code: the rule once, then each reason
	for i, r := range d.Reasons {
		if i == 0 || d.Reasons[i-1].Code != r.Code {
			fmt.Fprintf(w, "  [%s] rule: %s\n", r.Code, r.Rule)
		}
		fmt.Fprintf(w, "    - %s", r.Message)
		if r.First != nil {
			fmt.Fprintf(w, " (first: offset %d, row %d, %s)", r.First.Offset, r.First.Row, r.First.Ref)
		}
		fmt.Fprintln(w)
	}
	if d.Unlisted > 0 {
		fmt.Fprintf(w, "  ... and %d more reason(s) not listed\n", d.Unlisted)
	}
	for _, n := range d.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	return nil
}

// newPatchDoc is the --json document of a planned patch, without its op
// or output file.
func newPatchDoc(shown string, rp *statedb.RootPatch) *statedbPatchDoc {
	doc := &statedbPatchDoc{
		Path: shown, Compressed: rp.Compressed,
		ManifestBefore: rp.Patch.ManifestBefore.Map(), ManifestAfter: rp.Patch.ManifestAfter.Map(),
		Patch: rp.Patch, Competitors: append([]statedb.SideFile{}, rp.Competitors...), SetAside: rp.SetAside,
		Check: &patchCheck{Target: rp.Patch.Model.Describe(), Loads: true, When: "while writing"},
	}
	for i := range doc.Competitors {
		doc.Competitors[i].Path = "/" + doc.Competitors[i].Path
	}
	return doc
}

func printStatedbPatch(w io.Writer, shown string, rp *statedb.RootPatch) {
	p := rp.Patch
	rels := strings.Join(p.ToReleases, ", ")
	if rels == "" {
		rels = "no known release"
	}
	fmt.Fprintf(w, "Patch %s: schema 5.%d -> 5.%d (%s)\n", shown, p.FromSchema, p.ToSchema, rels)
	before, after := p.ManifestBefore.Map(), p.ManifestAfter.Map()
	form := "current 3-pair"
	if p.OldManifest {
		form = "old 12-pair"
	}
	fmt.Fprintf(w, "manifest (%s form):\n", form)
	for _, pr := range p.ManifestBefore.Pairs {
		if v, ok := after[pr.Key]; !ok {
			fmt.Fprintf(w, "  - %s=%s\n", pr.Key, pr.Value)
		} else if v != pr.Value {
			fmt.Fprintf(w, "  ~ %s=%s -> %s\n", pr.Key, pr.Value, v)
		}
	}
	for _, pr := range p.ManifestAfter.Pairs {
		if _, ok := before[pr.Key]; !ok {
			fmt.Fprintf(w, "  + %s=%s\n", pr.Key, pr.Value)
		}
	}
	for _, d := range p.DropTables {
		fmt.Fprintf(w, "drop table %s (%s)\n", d.Table, statedb.Rows(d.Rows))
	}
	for _, d := range p.DropColumns {
		fmt.Fprintf(w, "drop column %s.%s (%s with a value)\n", d.Table, d.Column, statedb.Rows(d.RowsWithData))
	}
	for _, t := range p.AddTables {
		fmt.Fprintf(w, "add empty table %s (the target has it)\n", t)
	}
	for _, f := range p.Fill {
		fmt.Fprintf(w, "fill column %s.%s with its default %q in %d row(s) that lack it\n", f.Table, f.Column, f.Default, f.Rows)
	}
	for _, m := range p.Missing {
		fmt.Fprintf(w, "missing column %s.%s: the target fills its default at start\n", m.Table, m.Column)
	}
	for _, l := range p.Lossy {
		fmt.Fprintf(w, "lossy values of %s.%s in %d row(s): %s\n", l.Table, l.Column, l.Rows, l.Why)
	}
	for _, s := range p.Suspected {
		fmt.Fprintf(w, "columns not checked (kept): table %s (%s): neither the reference nor the datamodel history shows them\n", s.Table, statedb.Rows(s.RowsWithData))
	}
	if p.DropCTimes {
		fmt.Fprintln(w, "rows lose __ctime/__mtime (target below schema 63)")
	}
	if p.Reencode {
		fmt.Fprintln(w, "values re-encoded for xapi < 1.57: single spaces literal, double spaces %_")
	}
	for _, c := range rp.Competitors {
		act := "pass --set-aside to rename it"
		if rp.SetAside {
			act = "renamed to *" + statedb.AsideSuffix
		}
		fmt.Fprintf(w, "WARNING: /%s (%s) would be loaded instead: %s\n", c.Path, c.Role, act)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
