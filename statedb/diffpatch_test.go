package statedb_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/safego"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/statedb"
)

var update = flag.Bool("update", false, "rewrite golden files")

func opener(b []byte) statedb.Opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func diff(t *testing.T, a, b []byte, rows bool) *statedb.Diff {
	t.Helper()
	d := statedb.Compare(scan(t, a), scan(t, b))
	if rows {
		if err := statedb.DiffRows(d, opener(a), opener(b)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", p, d)
	}
}

// TestDiffFreshVsCarried is the engineer's comparison: the fresh database
// the 5.0 xapi creates against the 5.5 one the installer carried over.
func TestDiffFreshVsCarried(t *testing.T) {
	t.Parallel()
	fresh := gen(t, fixtures.StateDBSpec{Release: "5.0", Fresh: true, Seed: "host1"})
	carried := gen(t, fixtures.StateDBSpec{Release: "5.5", VMs: 2, Seed: "host1"})
	d := diff(t, carried, fresh, false)
	want := map[string]statedb.Side[string]{
		"schema_minor_vsn": {A: ptr("57"), B: ptr("55")},
		"product_version":  {A: ptr("5.5.0"), B: ptr("5.0.0")},
		"build_number":     {A: ptr("15119p"), B: ptr("10918p")},
		"generation_count": {A: ptr("1024"), B: ptr("42")},
	}
	if !cmp.Equal(d.Manifest, want) {
		t.Errorf("manifest: %s", cmp.Diff(want, d.Manifest))
	}
	// what the model says 5.5 added over 5.0, for tables with rows in both
	m55, m50 := statedb.ModelAt(57), statedb.ModelAt(55)
	var tablesOnly []string
	for tb := range m55 {
		if _, ok := m50[tb]; !ok {
			tablesOnly = append(tablesOnly, tb)
		}
	}
	sort.Strings(tablesOnly)
	if !cmp.Equal(d.TablesOnlyInA, tablesOnly) || len(d.TablesOnlyInB) != 0 {
		t.Errorf("tables only in A %v, want %v; only in B %v", d.TablesOnlyInA, tablesOnly, d.TablesOnlyInB)
	}
	// external authentication came with 5.5 (george); snapshots with 5.0
	wantHost := []string{"external_auth_configuration", "external_auth_service_name", "external_auth_type"}
	if got := d.ColumnsOnlyInA["host"]; !cmp.Equal(got, wantHost) {
		t.Errorf("host columns only in 5.5: %v, want %v", got, wantHost)
	}
	if got := d.ColumnsOnlyInA["VM"]; len(got) != 0 {
		t.Errorf("VM columns only in 5.5: %v, want none", got)
	}
	if !cmp.Equal(tablesOnly, []string{"auth", "subject"}) {
		t.Errorf("tables 5.5 added over 5.0: %v", tablesOnly)
	}
	if c := d.Rows["VM"]; *c.A != 3 || *c.B != 1 {
		t.Errorf("VM rows %d/%d", *c.A, *c.B)
	}
	got, _ := json.MarshalIndent(d, "", "  ")
	golden(t, "diff-5.5-vs-5.0-fresh.json", append(got, '\n'))
}

func ptr[T any](v T) *T { return &v }

func TestDiffRows(t *testing.T) {
	t.Parallel()
	a := gen(t, fixtures.StateDBSpec{Release: "7.1", VMs: 3})
	// B: one VM renamed (with characters from every escaping layer), one VM
	// row removed, one VIF added.
	b := bytes.Replace(a, []byte(`name__label="web-0001%_(Bob's &quot;prod&quot; &amp; test)"`), []byte(`name__label="renamed  100% &lt;x&gt;"`), 1)
	if bytes.Equal(a, b) {
		// 7.1 is a legacy-space release: single spaces are literal
		b = bytes.Replace(a, []byte(`name__label="web-0001 (Bob's &quot;prod&quot; &amp; test)"`), []byte(`name__label="renamed%_100%% &lt;x&gt;"`), 1)
	}
	if bytes.Equal(a, b) {
		t.Fatal("fixture has no web-0001 row")
	}
	s := scan(t, a)
	_ = s
	i := bytes.Index(b, []byte(`<row ref="OpaqueRef:`))
	// remove the first row of the first non-empty table, add a copy of it under a new ref
	j := i + bytes.Index(b[i:], []byte("/>")) + 2
	row := append([]byte(nil), b[i:j]...)
	ref := string(row[len(`<row ref="`) : bytes.IndexByte(row[len(`<row ref="`):], '"')+len(`<row ref="`)])
	added := bytes.ReplaceAll(row, []byte(ref), []byte("OpaqueRef:new"))
	b = append(append(append([]byte(nil), b[:i]...), added...), b[j:]...)

	d := diff(t, a, b, true)
	var table string
	for name, rc := range d.RowChanges {
		if len(rc.Added) > 0 {
			table = name
		}
	}
	rc := d.RowChanges[table]
	if !cmp.Equal(rc.Added, []string{"OpaqueRef:new"}) || !cmp.Equal(rc.Removed, []string{ref}) {
		t.Errorf("table %s: added %v removed %v", table, rc.Added, rc.Removed)
	}
	vm := d.RowChanges["VM"]
	if len(vm.Changed) != 1 {
		t.Fatalf("VM changed: %v", vm.Changed)
	}
	for _, fields := range vm.Changed {
		want := map[string]statedb.Side[string]{"name__label": {A: ptr(`web-0001 (Bob's "prod" & test)`), B: ptr("renamed  100% <x>")}}
		if !cmp.Equal(fields, want) {
			t.Errorf("fields: %s", cmp.Diff(want, fields))
		}
	}
	if same := diff(t, a, a, true); !same.Equal() {
		t.Errorf("a database differs from itself: %+v", same)
	}
	// the same content in the other space encoding is not a change
	modern := bytes.ReplaceAll(a, []byte("web-0002 ("), []byte("web-0002%.("))
	if d := diff(t, a, modern, true); !d.Equal() {
		t.Errorf("re-encoded spaces reported as changes: %+v", d.RowChanges["VM"])
	}
}

func patchBytes(t *testing.T, src []byte, tgt statedb.Target, o statedb.PatchOptions) (*statedb.Patch, []byte, error) {
	t.Helper()
	p, err := statedb.PlanPatch(scan(t, src), tgt, o)
	if err != nil {
		return p, nil, err
	}
	var out bytes.Buffer
	rc, err := p.Stream(opener(src), false)()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(&out, rc); err != nil {
		t.Fatal(err)
	}
	return p, out.Bytes(), nil
}

// TestPatchEveryPair patches each newer fixture to each older one with
// --like and checks that the result is what the older xapi accepts.
func TestPatchEveryPair(t *testing.T) {
	t.Parallel()
	specs := fixtures.StateDBFixtures
	for i, newer := range specs {
		for _, older := range specs[:i] {
			t.Run(newer.Name()+"->"+older.Name(), func(t *testing.T) {
				src := gen(t, newer)
				like := gen(t, fixtures.StateDBSpec{Release: older.Release, Schema: older.Schema, Fresh: true, Seed: "other-host"})
				likeS := scan(t, like)
				p, out, err := patchBytes(t, src, statedb.Target{Like: likeS}, statedb.PatchOptions{DropData: true})
				if err != nil {
					t.Fatal(err)
				}
				_, _, err = patchBytes(t, src, statedb.Target{Like: likeS}, statedb.PatchOptions{})
				if lost := p.Losses(); len(lost) > 0 {
					if !errors.Is(err, xerr.ErrRefused) || !strings.Contains(err.Error(), lost[0]) || !strings.Contains(err.Error(), "--drop-data") {
						t.Fatalf("dropping %v without --drop-data: %v", lost, err)
					}
				} else if err != nil {
					t.Fatalf("nothing to lose, but: %v", err)
				}
				if newer.Schema == 603 && len(p.Losses()) == 0 {
					t.Error("8.2 has Certificate rows no older release knows: expected losses")
				}
				checkAccepted(t, out, likeS)
				if len(p.DropColumns) == 0 && len(p.DropTables) == 0 {
					t.Error("nothing dropped between releases")
				}
				// host identity stays the source's
				srcS, outS := scan(t, src), scan(t, out)
				if v, ok := srcS.Manifest.Get("installation_uuid"); ok {
					if w, _ := outS.Manifest.Get("installation_uuid"); w != v {
						t.Errorf("installation_uuid %q, want %q", w, v)
					}
				}
				if outS.Generation != srcS.Generation {
					t.Errorf("generation %d, want %d", outS.Generation, srcS.Generation)
				}
				// patching again is a no-op
				p2, err := statedb.PlanPatch(outS, statedb.Target{Like: likeS}, statedb.PatchOptions{})
				if err != nil || !p2.Empty() {
					t.Errorf("second patch not empty: %+v %v", p2, err)
				}
				// the rows that survive keep their decoded values
				d := statedb.Compare(srcS, outS)
				if err := statedb.DiffRows(d, opener(src), opener(out)); err != nil {
					t.Fatal(err)
				}
				for tb, rc := range d.RowChanges {
					if len(rc.Added)+len(rc.Changed) > 0 || (len(rc.Removed) > 0 && likeS.Table(tb) != nil) {
						t.Errorf("table %s rows changed: %+v", tb, rc)
					}
				}
			})
		}
	}
}

// checkAccepted applies the target xapi's reader rules (docs/statedb.md)
// to a patched database, independently of statedb.Check.
func checkAccepted(t *testing.T, out []byte, like *statedb.Summary) {
	t.Helper()
	s := scan(t, out)
	if s.SchemaMajor != like.SchemaMajor || s.SchemaMinor != like.SchemaMinor {
		t.Errorf("schema %d.%d, want %d.%d", s.SchemaMajor, s.SchemaMinor, like.SchemaMajor, like.SchemaMinor)
	}
	var keys, likeKeys []string
	for _, p := range s.Manifest.Pairs {
		keys = append(keys, p.Key)
	}
	for _, p := range like.Manifest.Pairs {
		likeKeys = append(likeKeys, p.Key)
	}
	if !cmp.Equal(keys, likeKeys) {
		t.Errorf("manifest keys %v, want %v", keys, likeKeys)
	}
	for _, tb := range s.Tables {
		lt := like.Table(tb.Name)
		if lt == nil {
			t.Errorf("unknown table %s", tb.Name)
			continue
		}
		if lt.Rows > 0 {
			for _, c := range tb.Columns {
				if !lt.HasColumn(c) {
					t.Errorf("unknown column %s.%s", tb.Name, c)
				}
			}
		}
		if tb.CTimes != (like.SchemaMinor >= 63) && tb.Rows > 0 {
			t.Errorf("table %s: __ctime present = %v", tb.Name, tb.CTimes)
		}
	}
	if len(s.Tables) != len(like.Tables) {
		t.Errorf("%d tables, target has %d", len(s.Tables), len(like.Tables))
	}
	if bytes.Count(out, []byte("<row ")) != bytes.Count(out, []byte("<row ref=")) {
		t.Error("a row without ref first")
	}
	if like.SchemaMinor <= 120 && bytes.Contains(out, []byte("%.")) {
		t.Error("modern %. encoding in a database for xapi < 1.57")
	}
	if bytes.Count(out, []byte("\n")) != 1 {
		t.Error("not one line after the declaration")
	}
}

// TestPatchToRelease: without a reference the target's tables and columns
// come from the datamodel history, and what it lacks is dropped (with
// --drop-data) or refused, as with --like.
func TestPatchToRelease(t *testing.T) {
	t.Parallel()
	src := gen(t, fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 2})
	rel, _ := release.Lookup("5.5")
	host := map[string]string{"installation_uuid": "i-uuid", "control_domain_uuid": "d-uuid", "pool_conf": "master", "pool_token": "tok"}
	_, _, err := patchBytes(t, src, statedb.Target{Schema: rel.Schema, Host: host}, statedb.PatchOptions{})
	if !errors.Is(err, xerr.ErrRefused) || !strings.Contains(err.Error(), "table Certificate (1 row)") || !strings.Contains(err.Error(), "column VM.domain_type") {
		t.Fatalf("dropping data without --drop-data: %v", err)
	}
	p, out, err := patchBytes(t, src, statedb.Target{Schema: rel.Schema, Host: host}, statedb.PatchOptions{DropData: true})
	if err != nil {
		t.Fatal(err)
	}
	var dropped []string
	for _, d := range p.DropTables {
		dropped = append(dropped, d.Table)
	}
	for _, want := range []string{"Certificate", "Cluster", "PUSB", "VGPU_type", "role", "secret"} {
		if !strings.Contains(","+strings.Join(dropped, ",")+",", ","+want+",") {
			t.Errorf("dropped tables %v lack %s", dropped, want)
		}
	}
	s := scan(t, out)
	want := []statedb.Pair{
		{Key: "installation_uuid", Value: "i-uuid"}, {Key: "control_domain_uuid", Value: "d-uuid"}, {Key: "pool_conf", Value: "master"}, {Key: "pool_token", Value: "tok"},
		{Key: "schema_major_vsn", Value: "5"}, {Key: "schema_minor_vsn", Value: "57"}, {Key: "product_version", Value: "5.5.0"}, {Key: "product_brand", Value: "XenServer"},
		{Key: "build_number", Value: "15119p"}, {Key: "xapi_major_vsn", Value: "1"}, {Key: "xapi_minor_vsn", Value: "1"}, {Key: "generation_count", Value: strconv.FormatInt(s.Generation, 10)},
	}
	if !cmp.Equal(s.Manifest.Pairs, want) {
		t.Errorf("manifest: %s", cmp.Diff(want, s.Manifest.Pairs))
	}
	if bytes.Contains(out, []byte("__ctime")) || bytes.Contains(out, []byte("%.")) {
		t.Error("ctimes or modern spaces left for a 5.5 target")
	}
	// every table of 5.5 is there (up to 5.5 a missing one stops xapi)
	m := statedb.ModelAt(57)
	if len(s.Tables) != len(m) {
		t.Errorf("%d tables, 5.5 has %d", len(s.Tables), len(m))
	}
	res := check(t, out, 57, nil)
	if !res.Loads {
		t.Errorf("5.5 would not load the patch: %+v", res.Reasons)
	}
	// without the host keys the old manifest cannot be built
	if _, _, err := patchBytes(t, src, statedb.Target{Schema: rel.Schema}, statedb.PatchOptions{DropData: true}); !errors.Is(err, xerr.ErrInvalid) || !strings.Contains(err.Error(), "installation_uuid") {
		t.Errorf("missing host keys: %v", err)
	}
	// never up
	older := gen(t, fixtures.StateDBSpec{Release: "6.2", VMs: 1})
	if _, _, err := patchBytes(t, older, statedb.Target{Schema: 603}, statedb.PatchOptions{}); !errors.Is(err, xerr.ErrRefused) {
		t.Errorf("raising the schema: %v", err)
	}
}

func TestPatchDetectsChangedSource(t *testing.T) {
	t.Parallel()
	src := gen(t, fixtures.StateDBSpec{Release: "7.1", VMs: 1})
	p, err := statedb.PlanPatch(scan(t, src), statedb.Target{Schema: 93}, statedb.PatchOptions{DropData: true})
	if err != nil {
		t.Fatal(err)
	}
	other := gen(t, fixtures.StateDBSpec{Release: "7.1", VMs: 2})
	if err := p.Apply(io.Discard, bytes.NewReader(other)); err == nil || !strings.Contains(err.Error(), "changed since") {
		t.Errorf("apply on another database: %v", err)
	}
}

// TestPatchKeepsGzip: a compressed database (db.conf compress:true) is
// written back compressed.
func TestPatchKeepsGzip(t *testing.T) {
	t.Parallel()
	src := gen(t, fixtures.StateDBSpec{Release: "6.2", VMs: 2})
	gz := gzipped(t, src)
	s := scan(t, gz)
	if !s.Compressed {
		t.Fatal("gzip not detected")
	}
	p, err := statedb.PlanPatch(s, statedb.Target{Schema: 66}, statedb.PatchOptions{DropData: true})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := p.Stream(opener(gz), true)()
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte{0x1f, 0x8b}) {
		t.Fatal("output not gzip")
	}
	o := scan(t, out)
	if !o.Compressed || o.SchemaMinor != 66 || len(o.Tables) != len(s.Tables) {
		t.Errorf("patched: %v", o)
	}
	// a broken source surfaces as the stream's read error
	rc, _ = p.Stream(opener(gz[:len(gz)/2]), true)()
	if _, err := io.ReadAll(rc); !errors.Is(err, statedb.ErrSyntax) {
		t.Errorf("truncated source: %v", err)
	}
}

// panicReader panics on its first Read: a bug in the code that reads.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("injected panic in the rewrite") }

// TestPatchGoroutinePanics: a panic in the goroutines of a patch — the
// rewrite that Stream runs, the check of its output — is an error of the
// command ("internal error: …"), never a Go stack that ends the process.
func TestPatchGoroutinePanics(t *testing.T) {
	src := gen(t, fixtures.StateDBSpec{Release: "6.2", VMs: 2})
	p, err := statedb.PlanPatch(scan(t, src), statedb.Target{Schema: 66}, statedb.PatchOptions{DropData: true})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := p.Stream(func() (io.ReadCloser, error) { return io.NopCloser(panicReader{}), nil }, false)()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, safego.ErrPanic) || !strings.Contains(err.Error(), "injected panic in the rewrite") {
		t.Errorf("rewrite panics: %v", err)
	}
	// No target model: the check goroutine dereferences nil.
	p.Model = nil
	if err := p.CheckOutput(bytes.NewReader(src)); !errors.Is(err, safego.ErrPanic) {
		t.Errorf("check panics: %v", err)
	}
}
