package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// History is the generated file: the samples it was made from and every
// table and column with the schema spans in which it exists.
type History struct {
	Comment    string       `json:"comment"`
	Repository string       `json:"repository"`
	Head       string       `json:"head"`
	Samples    []Sample     `json:"samples"`
	Tables     []TableSpans `json:"tables"`
}

// Sample is the datamodel at one schema minor.
type Sample struct {
	Schema  int    `json:"schema"`
	Commit  string `json:"commit"`
	How     string `json:"how"`
	Tables  int    `json:"tables"`
	Columns int    `json:"columns"`
	model   *Model
}

// Span is a half-open schema range [From, To); To 0: still there at the newest sample.
type Span [2]int

// TableSpans is one table's history.
type TableSpans struct {
	Name    string        `json:"name"`
	Spans   []Span        `json:"spans"`
	Persist []Versioned   `json:"persist,omitempty"` // only when it is not persistent somewhere
	Columns []ColumnSpans `json:"columns"`
}

// ColumnSpans is one column's history; V lists its attributes from a
// schema on (the first entry from its first sample).
type ColumnSpans struct {
	Name  string      `json:"name"`
	Spans []Span      `json:"spans"`
	V     []ColumnVer `json:"v"`
}

// ColumnVer is a column's type, default, empty value and persistence from
// schema From on.
type ColumnVer struct {
	From     int     `json:"from"`
	Type     string  `json:"type"`
	Default  *string `json:"default,omitempty"`
	Empty    string  `json:"empty"`
	Persist  bool    `json:"persist"`
	Relation bool    `json:"relation,omitempty"`
}

// Versioned is a table attribute from schema From on.
type Versioned struct {
	From  int  `json:"from"`
	Value bool `json:"value"`
}

// releaseOrder is release_order_full of ocaml/idl/datamodel_types.ml (by
// code name); releases named by version number come after all of them.
var releaseOrder = []string{
	"rio", "miami", "symc", "orlando", "orlando-update-1", "george", "midnight-ride", "cowley",
	"boston", "tampa", "clearwater", "vgpu-tech-preview", "vgpu-productisation",
	"clearwater-felton", "clearwater-whetstone", "creedence", "cream", "indigo", "dundee", "ely",
	"falcon", "inverness", "jura", "kolkata", "lima", "naples", "oslo", "quebec", "stockholm",
	"stockholm_psr", "nile-preview", "nile", "orinoco",
}

func releaseRank(r string) int {
	if r == "" {
		return 0 // fields without a release annotation defaulted to rio
	}
	for i, x := range releaseOrder {
		if x == r {
			return i
		}
	}
	return len(releaseOrder) // "closed", a version number: after every code name
}

// derived schemas: no commit of the repository has them (they were cut on
// release branches that are not in it, or predate it); their model is a
// later sample's, restricted to fields published in that release or before.
var derived = []struct {
	schema  int
	release string
	base    int
}{
	{19, "rio", 57}, {35, "miami", 57}, {55, "orlando", 57},
	{68, "vgpu-tech-preview", 93}, {69, "vgpu-productisation", 93}, {70, "clearwater-felton", 93},
	{71, "clearwater-whetstone", 93}, {72, "creedence", 93}, {73, "cream", 93}, {74, "indigo", 93},
}

// releaseTags are release lines whose schema is not (or not exactly) on
// the mainline. Every tag of the line with that schema is evaluated and
// only the columns all of them have are kept: a later hotfix that added a
// column without a schema bump (v1.14.25 has pool_update.enforce_homogeneity
// at 108, v1.14.0 does not) must not make the older ones look as if they
// knew it.
var releaseTags = []struct {
	schema  int
	pattern string // tag prefix
	why     string
}{
	{66, "XS61", "XenServer 6.1 (tampa) release tags"},
	{67, "XS62", "XenServer 6.2 (clearwater) release tags"},
	{108, "v1.14.", "XenServer 7.1 LTSR line"},
	{109, "v1.14.", "XenServer 7.1 LTSR line"},
	{601, "v1.249.", "Citrix Hypervisor 8.2 line"},
	{602, "v1.249.", "Citrix Hypervisor 8.2 CU1 line"},
	{603, "v1.249.", "Citrix Hypervisor 8.2 CU1 line"},
}

// mainlineReleases are releases built from the mainline: the sample (the
// last commit with the schema) may already have fields of the next release
// added without a schema bump; those whose lifecycle names a later release
// are left out (PUSB.speed, published in stockholm, at 504 of quebec).
var mainlineReleases = map[int]string{
	57: "george", 60: "midnight-ride", 61: "cowley", 63: "boston", 93: "dundee",
	120: "falcon", 133: "inverness", 134: "jura", 142: "kolkata", 203: "lima",
	400: "naples", 504: "quebec",
}

func generate(g *git, head string) (*History, error) {
	samples, err := mainlineSamples(g, head)
	if err != nil {
		return nil, err
	}
	tagged, err := tagSamples(g)
	if err != nil {
		return nil, err
	}
	for s, smp := range tagged {
		samples[s] = smp
	}
	for s, smp := range samples {
		if smp.model != nil {
			continue
		}
		m, err := evalSample(g, smp.Commit, s)
		if err != nil {
			return nil, err
		}
		if rel, ok := mainlineReleases[s]; ok {
			m = restrict(m, rel, true)
			smp.How += fmt.Sprintf("; without the fields published after %s", rel)
		}
		smp.model = m
	}
	for _, d := range derived {
		base, ok := samples[d.base]
		if !ok {
			return nil, fmt.Errorf("no sample at %d to derive %d from", d.base, d.schema)
		}
		m := restrict(base.model, d.release, false)
		how := fmt.Sprintf("derived: the fields of schema %d published in %s or earlier", d.base, d.release)
		// what the previous real sample had and the base still has was
		// there all along, whatever its annotation says (event has none)
		var prev *Sample
		for s, smp := range samples {
			if s < d.schema && smp.model != nil && !strings.HasPrefix(smp.How, "derived") && (prev == nil || s > prev.Schema) {
				prev = smp
			}
		}
		if prev != nil {
			m = union(m, intersect(prev.model, base.model))
			how += fmt.Sprintf(", and those of schema %d still in %d", prev.Schema, d.base)
		}
		samples[d.schema] = &Sample{Schema: d.schema, Commit: base.Commit, How: how, model: m}
	}
	var order []int
	for s := range samples {
		order = append(order, s)
	}
	sort.Ints(order)
	h := &History{
		Comment:    "Generated by statedb/internal/dmgen from the xen-api datamodel (ocaml/idl/datamodel*.ml); do not edit. See docs/statedb.md.",
		Repository: "https://github.com/xapi-project/xen-api",
		Head:       head,
	}
	for _, s := range order {
		smp := samples[s]
		smp.Tables = len(smp.model.Tables)
		for _, t := range smp.model.Tables {
			smp.Columns += len(t.Columns)
		}
		h.Samples = append(h.Samples, *smp)
	}
	h.Tables = spans(h.Samples)
	return h, nil
}

// restrict keeps the tables and columns published in release or earlier.
// With codenamesOnly, only an annotation naming a later code name (or
// "next") removes a column: a prototype ("closed", a version number) is in
// the schema whatever its release.
func restrict(m *Model, release string, codenamesOnly bool) *Model {
	max := releaseRank(release)
	later := func(r string) bool {
		if codenamesOnly && r != "next" && releaseRank(r) == len(releaseOrder) {
			return false
		}
		return releaseRank(r) > max
	}
	return filter(m, func(t Table) bool { return !later(t.Release) },
		func(_ Table, c Column) bool { return c.Name == "_ref" || !later(c.Release) })
}

// intersect keeps the tables and columns both models have (a's attributes).
func intersect(a, b *Model) *Model {
	return filter(a, func(t Table) bool { return b.table(t.Name) != nil },
		func(t Table, c Column) bool { return b.table(t.Name).column(c.Name) != nil })
}

// filter keeps the tables and columns of m that keep says to.
func filter(m *Model, keepTable func(Table) bool, keepColumn func(Table, Column) bool) *Model {
	out := &Model{Schema: m.Schema}
	for _, t := range m.Tables {
		if !keepTable(t) {
			continue
		}
		nt := Table{Name: t.Name, Persist: t.Persist, Release: t.Release}
		for _, c := range t.Columns {
			if keepColumn(t, c) {
				nt.Columns = append(nt.Columns, c)
			}
		}
		out.Tables = append(out.Tables, nt)
	}
	return out
}

// union adds b's tables and columns that a lacks.
func union(a, b *Model) *Model {
	out := &Model{Schema: a.Schema}
	for _, t := range a.Tables {
		nt := t
		nt.Columns = append([]Column{}, t.Columns...)
		if bt := b.table(t.Name); bt != nil {
			for _, c := range bt.Columns {
				if t.column(c.Name) == nil {
					nt.Columns = append(nt.Columns, c)
				}
			}
		}
		sort.Slice(nt.Columns, func(i, j int) bool { return nt.Columns[i].Name < nt.Columns[j].Name })
		out.Tables = append(out.Tables, nt)
	}
	for _, t := range b.Tables {
		if a.table(t.Name) == nil {
			out.Tables = append(out.Tables, t)
		}
	}
	sort.Slice(out.Tables, func(i, j int) bool { return out.Tables[i].Name < out.Tables[j].Name })
	return out
}

func (m *Model) table(name string) *Table {
	for i := range m.Tables {
		if m.Tables[i].Name == name {
			return &m.Tables[i]
		}
	}
	return nil
}

func (t *Table) column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// evalSample evaluates commit, checks its schema and reports the warnings
// that concern columns.
func evalSample(g *git, commit string, schema int) (*Model, error) {
	m, err := evalCommit(g, commit)
	if err != nil {
		return nil, err
	}
	if m.Schema != schema {
		return nil, fmt.Errorf("%s: schema %d, expected %d", commit, m.Schema, schema)
	}
	for _, w := range m.Warnings {
		if strings.Contains(w, "binding pattern") || strings.Contains(w, "argument does not match") {
			continue // evaluation of something that is not a column
		}
		fmt.Fprintf(os.Stderr, "schema %d (%.10s): %s\n", schema, commit, w)
	}
	return m, nil
}

// mainlineSamples walks the first-parent history of head: each value of
// schema_minor_vsn is sampled at the last commit that still has it (the
// state of the datamodel just before the next bump); a value that comes
// back later (a revert) is sampled at its last stretch.
func mainlineSamples(g *git, head string) (map[int]*Sample, error) {
	out, err := g.run("log", "--first-parent", "--reverse", "--format=%H %P", "-G", `schema_minor_vsn *= *[0-9]+`, head, "--",
		"ocaml/idl/datamodel.ml", "ocaml/idl/datamodel_common.ml")
	if err != nil {
		return nil, err
	}
	type change struct {
		commit, parent string
		schema         int
	}
	var changes []change
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		s, err := schemaAt(g, f[0])
		if err != nil {
			return nil, err
		}
		parent := ""
		if len(f) > 1 {
			parent = f[1]
		}
		if n := len(changes); n > 0 && changes[n-1].schema == s {
			continue // the line changed, the value did not
		}
		changes = append(changes, change{f[0], parent, s})
	}
	samples := map[int]*Sample{}
	for i, c := range changes {
		end, how := head, "the newest mainline commit"
		if i+1 < len(changes) {
			end = changes[i+1].parent
			how = fmt.Sprintf("the last mainline commit with schema %d (the next, %s, sets %d)", c.schema, changes[i+1].commit[:10], changes[i+1].schema)
		}
		samples[c.schema] = &Sample{Schema: c.schema, Commit: end, How: how}
	}
	return samples, nil
}

// tagSamples samples the release lines of releaseTags at their last tag
// (by version order) with the schema.
func tagSamples(g *git) (map[int]*Sample, error) {
	out, err := g.run("tag")
	if err != nil {
		return nil, err
	}
	tags := strings.Fields(out)
	sort.Slice(tags, func(i, j int) bool { return versionLess(tags[i], tags[j]) })
	samples := map[int]*Sample{}
	for _, rt := range releaseTags {
		var names []string
		var m *Model
		for _, t := range tags {
			if !strings.HasPrefix(t, rt.pattern) {
				continue
			}
			s, err := schemaAt(g, t)
			if err != nil || s != rt.schema {
				continue
			}
			tm, err := evalSample(g, t, rt.schema)
			if err != nil {
				return nil, err
			}
			if m == nil {
				m = tm
			} else {
				m = intersect(m, tm)
			}
			names = append(names, t)
		}
		if m == nil {
			return nil, fmt.Errorf("no tag %s* with schema %d", rt.pattern, rt.schema)
		}
		c, err := g.run("rev-parse", names[0]+"^{commit}")
		if err != nil {
			return nil, err
		}
		how := fmt.Sprintf("%s: the columns every tag with schema %d has (%s", rt.why, rt.schema, names[0])
		if len(names) > 1 {
			how += fmt.Sprintf(" to %s, %d tags", names[len(names)-1], len(names))
		}
		samples[rt.schema] = &Sample{Schema: rt.schema, Commit: strings.TrimSpace(c), How: how + ")", model: m}
	}
	return samples, nil
}

func versionLess(a, b string) bool {
	pa, pb := strings.FieldsFunc(a, isSep), strings.FieldsFunc(b, isSep)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(strings.TrimLeft(pa[i], "vXS"))
		nb, eb := strconv.Atoi(strings.TrimLeft(pb[i], "vXS"))
		if ea == nil && eb == nil && na != nb {
			return na < nb
		}
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

func isSep(r rune) bool { return r == '.' || r == 'E' }

// spans turns the samples (sorted by schema) into per-table and per-column
// schema ranges.
func spans(samples []Sample) []TableSpans {
	type key struct{ t, c string }
	tables := map[string]*TableSpans{}
	cols := map[key]*ColumnSpans{}
	present := map[key][]bool{}
	tpresent := map[string][]bool{}
	tpersist := map[string][]Versioned{}
	for i, s := range samples {
		for _, t := range s.model.Tables {
			if tables[t.Name] == nil {
				tables[t.Name] = &TableSpans{Name: t.Name}
				tpresent[t.Name] = make([]bool, len(samples))
			}
			tpresent[t.Name][i] = true
			pv := tpersist[t.Name]
			if len(pv) == 0 || pv[len(pv)-1].Value != t.Persist {
				tpersist[t.Name] = append(pv, Versioned{From: s.Schema, Value: t.Persist})
			}
			for _, c := range t.Columns {
				k := key{t.Name, c.Name}
				cs := cols[k]
				if cs == nil {
					cs = &ColumnSpans{Name: c.Name}
					cols[k] = cs
					present[k] = make([]bool, len(samples))
				}
				present[k][i] = true
				v := ColumnVer{From: s.Schema, Type: c.Type, Default: c.Default, Empty: c.Empty, Persist: c.Persist, Relation: c.Relation}
				if n := len(cs.V); n == 0 || !sameVer(cs.V[n-1], v) {
					cs.V = append(cs.V, v)
				}
			}
		}
	}
	toSpans := func(p []bool) []Span {
		var out []Span
		for i := 0; i < len(p); i++ {
			if !p[i] {
				continue
			}
			j := i
			for j < len(p) && p[j] {
				j++
			}
			to := 0
			if j < len(p) {
				to = samples[j].Schema
			}
			out = append(out, Span{samples[i].Schema, to})
			i = j
		}
		return out
	}
	var out []TableSpans
	for _, name := range sortedKeys(tables) {
		t := tables[name]
		t.Spans = toSpans(tpresent[name])
		if pv := tpersist[name]; len(pv) > 1 || !pv[0].Value {
			t.Persist = pv
		}
		for k, cs := range cols {
			if k.t == name {
				cs.Spans = toSpans(present[k])
				t.Columns = append(t.Columns, *cs)
			}
		}
		sort.Slice(t.Columns, func(i, j int) bool { return t.Columns[i].Name < t.Columns[j].Name })
		out = append(out, *t)
	}
	return out
}

func sameVer(a, b ColumnVer) bool {
	if a.Type != b.Type || a.Empty != b.Empty || a.Persist != b.Persist || a.Relation != b.Relation || (a.Default == nil) != (b.Default == nil) {
		return false
	}
	return a.Default == nil || *a.Default == *b.Default
}
