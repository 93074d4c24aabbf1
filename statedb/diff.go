package statedb

import (
	"bytes"
	"hash/maphash"
	"io"
	"sort"
)

// Side holds one value per database; nil where a database lacks it.
type Side[T any] struct {
	A *T `json:"a"`
	B *T `json:"b"`
}

// RowChanges are the row-level differences of one table, by ref.
type RowChanges struct {
	Added   []string                           `json:"added"`
	Removed []string                           `json:"removed"`
	Changed map[string]map[string]Side[string] `json:"changed"`
}

// Diff is the comparison the engineer makes by eye between two databases
// (the JSON document of `statedb diff`).
type Diff struct {
	Manifest       map[string]Side[string] `json:"manifest"`
	TablesOnlyInA  []string                `json:"tables_only_in_a"`
	TablesOnlyInB  []string                `json:"tables_only_in_b"`
	ColumnsOnlyInA map[string][]string     `json:"columns_only_in_a"`
	ColumnsOnlyInB map[string][]string     `json:"columns_only_in_b"`
	Rows           map[string]Side[int]    `json:"rows"`
	RowChanges     map[string]*RowChanges  `json:"row_changes"`
}

// Equal reports whether nothing differs.
func (d *Diff) Equal() bool {
	if len(d.Manifest)+len(d.TablesOnlyInA)+len(d.TablesOnlyInB)+len(d.ColumnsOnlyInA)+len(d.ColumnsOnlyInB) > 0 {
		return false
	}
	for _, c := range d.Rows {
		if c.A == nil || c.B == nil || *c.A != *c.B {
			return false
		}
	}
	for _, rc := range d.RowChanges {
		if len(rc.Added)+len(rc.Removed)+len(rc.Changed) > 0 {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

// Compare diffs two summaries: manifest pairs, tables, columns, row counts.
// Columns are compared only between tables that have rows on both sides: the
// file lists a table's columns only in its rows.
func Compare(a, b *Summary) *Diff {
	d := &Diff{
		Manifest:       map[string]Side[string]{},
		ColumnsOnlyInA: map[string][]string{},
		ColumnsOnlyInB: map[string][]string{},
		Rows:           map[string]Side[int]{},
		TablesOnlyInA:  []string{},
		TablesOnlyInB:  []string{},
	}
	ma, mb := a.Manifest.Map(), b.Manifest.Map()
	for k, va := range ma {
		if vb, ok := mb[k]; !ok {
			d.Manifest[k] = Side[string]{A: ptr(va)}
		} else if va != vb {
			d.Manifest[k] = Side[string]{A: ptr(va), B: ptr(vb)}
		}
	}
	for k, vb := range mb {
		if _, ok := ma[k]; !ok {
			d.Manifest[k] = Side[string]{B: ptr(vb)}
		}
	}
	for _, ta := range a.Tables {
		c := Side[int]{A: ptr(ta.Rows)}
		if tb := b.Table(ta.Name); tb != nil {
			c.B = ptr(tb.Rows)
			if ta.Rows == 0 || tb.Rows == 0 {
				// an empty table shows no columns: nothing to compare
				d.Rows[ta.Name] = c
				continue
			}
			if x := minus(ta.Columns, tb.Columns); len(x) > 0 {
				d.ColumnsOnlyInA[ta.Name] = x
			}
			if x := minus(tb.Columns, ta.Columns); len(x) > 0 {
				d.ColumnsOnlyInB[ta.Name] = x
			}
		} else {
			d.TablesOnlyInA = append(d.TablesOnlyInA, ta.Name)
		}
		d.Rows[ta.Name] = c
	}
	for _, tb := range b.Tables {
		if a.Table(tb.Name) == nil {
			d.TablesOnlyInB = append(d.TablesOnlyInB, tb.Name)
			d.Rows[tb.Name] = Side[int]{B: ptr(tb.Rows)}
		}
	}
	sort.Strings(d.TablesOnlyInA)
	sort.Strings(d.TablesOnlyInB)
	return d
}

// minus returns the sorted strings of x not in y (both sorted).
func minus(x, y []string) []string {
	var out []string
	for _, s := range x {
		i := sort.SearchStrings(y, s)
		if i == len(y) || y[i] != s {
			out = append(out, s)
		}
	}
	return out
}

// Opener opens a database file again for another pass.
type Opener func() (io.ReadCloser, error)

// DiffRows adds row-level changes to d (from Compare on the same files):
// rows added and removed by ref and, for rows in both, the columns whose
// decoded values differ. Columns that exist in only one database (already in
// ColumnsOnlyInA/B) and the __ctime/__mtime generation stamps are left out.
// Memory: one hash per row of A, plus the decoded content of changed rows;
// it takes three passes (A, B, A).
func DiffRows(d *Diff, openA, openB Opener) error {
	seed := maphash.MakeSeed()
	type entry struct {
		hash uint64
		seen bool
	}
	hashes := map[string]map[string]*entry{}
	skip := func(table string, name []byte) bool {
		if isRowAttr(name) {
			return true
		}
		for _, c := range d.ColumnsOnlyInA[table] {
			if c == string(name) {
				return true
			}
		}
		for _, c := range d.ColumnsOnlyInB[table] {
			if c == string(name) {
				return true
			}
		}
		return false
	}
	var scratch, unescaped []byte
	rowHash := func(table string, row *Row) uint64 {
		var sum uint64
		for _, a := range row.Attrs {
			if skip(table, a.Name) {
				continue
			}
			var h maphash.Hash
			h.SetSeed(seed)
			h.Write(a.Name)
			h.WriteByte(0)
			v := a.Raw
			if bytes.IndexByte(v, '&') >= 0 || bytes.IndexByte(v, '%') >= 0 {
				unescaped, _ = appendUnescapeXML(unescaped[:0], v)
				scratch = appendUnprotect(scratch[:0], unescaped)
				v = scratch
			}
			h.Write(v)
			sum += h.Sum64()
		}
		return sum
	}

	if err := walkRows(openA, func(table string, row *Row) error {
		m := hashes[table]
		if m == nil {
			m = map[string]*entry{}
			hashes[table] = m
		}
		m[string(row.Ref())] = &entry{hash: rowHash(table, row)}
		return nil
	}); err != nil {
		return err
	}
	d.RowChanges = map[string]*RowChanges{}
	changes := func(table string) *RowChanges {
		rc := d.RowChanges[table]
		if rc == nil {
			rc = &RowChanges{Added: []string{}, Removed: []string{}, Changed: map[string]map[string]Side[string]{}}
			d.RowChanges[table] = rc
		}
		return rc
	}
	changedB := map[string]map[string]map[string]string{} // table, ref, column -> decoded B value
	if err := walkRows(openB, func(table string, row *Row) error {
		rc := changes(table)
		ref := string(row.Ref())
		e := hashes[table][ref]
		if e == nil {
			rc.Added = append(rc.Added, ref)
			return nil
		}
		e.seen = true
		if e.hash == rowHash(table, row) {
			return nil
		}
		vals, err := decodedRow(table, row, skip)
		if err != nil {
			return err
		}
		if changedB[table] == nil {
			changedB[table] = map[string]map[string]string{}
		}
		changedB[table][ref] = vals
		return nil
	}); err != nil {
		return err
	}
	for table, m := range hashes {
		rc := changes(table)
		for ref, e := range m {
			if !e.seen {
				rc.Removed = append(rc.Removed, ref)
			}
		}
	}
	if len(changedB) > 0 {
		if err := walkRows(openA, func(table string, row *Row) error {
			vb, ok := changedB[table][string(row.Ref())]
			if !ok {
				return nil
			}
			va, err := decodedRow(table, row, skip)
			if err != nil {
				return err
			}
			fields := map[string]Side[string]{}
			for c, a := range va {
				if b, ok := vb[c]; !ok {
					fields[c] = Side[string]{A: ptr(a)}
				} else if a != b {
					fields[c] = Side[string]{A: ptr(a), B: ptr(b)}
				}
			}
			for c, b := range vb {
				if _, ok := va[c]; !ok {
					fields[c] = Side[string]{B: ptr(b)}
				}
			}
			if len(fields) > 0 {
				changes(table).Changed[string(row.Ref())] = fields
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for _, rc := range d.RowChanges {
		sort.Strings(rc.Added)
		sort.Strings(rc.Removed)
	}
	return nil
}

func decodedRow(table string, row *Row, skip func(string, []byte) bool) (map[string]string, error) {
	vals := make(map[string]string, len(row.Attrs))
	for _, a := range row.Attrs {
		if skip(table, a.Name) {
			continue
		}
		v, err := DecodeValue(a.Raw)
		if err != nil {
			return nil, &SyntaxError{Offset: row.Offset, Table: table, Row: row.N, Ref: string(row.Ref()), Msg: string(a.Name) + ": " + err.Error()}
		}
		vals[string(a.Name)] = v
	}
	return vals, nil
}

// walkRows streams every row of a database through fn.
func walkRows(open Opener, fn func(table string, row *Row) error) error {
	f, err := open()
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		return err
	}
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if ev.Kind == RowRead {
			if err := fn(ev.Table, &ev.Row); err != nil {
				return err
			}
		}
	}
}
