package statedb_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/statedb"
)

// allFixtures are the release fixtures plus a fresh 5.0 database.
func allFixtures() []fixtures.StateDBSpec {
	return append(append([]fixtures.StateDBSpec(nil), fixtures.StateDBFixtures...), fixtures.StateDBSpec{Release: "5.0", Fresh: true})
}

func gen(t testing.TB, spec fixtures.StateDBSpec) []byte {
	t.Helper()
	b, err := fixtures.StateDB(spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func scan(t testing.TB, b []byte) *statedb.Summary {
	t.Helper()
	s, err := statedb.Scan(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// indent turns the one-line form into an indented one, like a hand-edited
// or pretty-printed file.
func indent(b []byte) []byte {
	s := strings.ReplaceAll(string(b), "><", ">\n  <")
	return []byte(strings.Replace(s, "  <database>", "<database>", 1) + "\n")
}

func TestRoundTripByteIdentical(t *testing.T) {
	t.Parallel()
	for _, spec := range allFixtures() {
		t.Run(spec.Name(), func(t *testing.T) {
			in := gen(t, spec)
			for name, src := range map[string][]byte{"plain": in, "gzip": gzipped(t, in), "indented": indent(in)} {
				var out bytes.Buffer
				if err := statedb.Copy(&out, bytes.NewReader(src)); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(out.Bytes(), in) {
					t.Fatalf("%s: output differs from the canonical input at byte %d", name, firstDiff(out.Bytes(), in))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestFixtureForm(t *testing.T) {
	t.Parallel()
	for _, spec := range allFixtures() {
		t.Run(spec.Name(), func(t *testing.T) {
			b := gen(t, spec)
			s := scan(t, b)
			old := s.SchemaMinor <= 61
			if s.Manifest.OldForm() != old || (old && len(s.Manifest.MissingOldKeys()) > 0) || (!old && len(s.Manifest.Pairs) != 3) {
				t.Errorf("schema %d: manifest %v", s.SchemaMinor, s.Manifest.Pairs)
			}
			if bytes.Count(b, []byte("\n")) != 1 || !bytes.HasPrefix(b, []byte(statedb.Declaration+"\n<database><manifest><pair key=")) {
				t.Error("not declaration + newline + one line")
			}
			if n, m := bytes.Count(b, []byte("<row ")), bytes.Count(b, []byte("<row ref=")); n != m || n == 0 {
				t.Errorf("%d rows, %d with ref first", n, m)
			}
			if got := bytes.Contains(b, []byte("__ctime")); got != (s.SchemaMinor >= 63) {
				t.Errorf("__ctime present = %v at schema %d", got, s.SchemaMinor)
			}
			wantEnc := "modern"
			if s.SchemaMinor <= 120 {
				wantEnc = "legacy"
			}
			if s.SpaceEncoding != wantEnc {
				t.Errorf("space encoding %q, want %q", s.SpaceEncoding, wantEnc)
			}
			model := statedb.ModelAt(s.SchemaMinor)
			if len(s.Tables) != len(model) {
				t.Errorf("%d tables, model has %d", len(s.Tables), len(model))
			}
			for _, tb := range s.Tables {
				if tb.Rows > 0 && !cmp.Equal(tb.Columns, model[tb.Name]) {
					t.Errorf("table %s columns: %s", tb.Name, cmp.Diff(model[tb.Name], tb.Columns))
				}
			}
			if vm := s.Table("VM"); spec.VMs > 0 && (vm == nil || vm.Rows != spec.VMs+1) {
				t.Errorf("VM table: %+v", vm)
			}
		})
	}
}

func TestValueLayers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value  string
		modern string // raw attribute bytes written by xapi >= 1.57
		legacy string // by xapi < 1.57
	}{
		{"Local storage", "Local%.storage", "Local storage"},
		{"a  b", "a%.%.b", "a%_b"},
		{"a   b", "a%.%.%.b", "a%_ b"},
		{"50% & <x> \"q\" it's", "50%%%.&amp;%.&lt;x&gt;%.&quot;q&quot;%.it's", "50%% &amp; &lt;x&gt; &quot;q&quot; it's"},
		{"tab\there\nnl\rcr", "tab%there%nnl%rcr", "tab%there%nnl%rcr"},
		{"(('k' 'v'))", "(('k'%.'v'))", "(('k' 'v'))"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := string(statedb.EncodeValue(tt.value, false)); got != tt.modern {
			t.Errorf("modern %q: got %q want %q", tt.value, got, tt.modern)
		}
		if got := string(statedb.EncodeValue(tt.value, true)); got != tt.legacy {
			t.Errorf("legacy %q: got %q want %q", tt.value, got, tt.legacy)
		}
		for _, raw := range []string{tt.modern, tt.legacy} {
			got, err := statedb.DecodeValue([]byte(raw))
			if err != nil || got != tt.value {
				t.Errorf("decode %q: got %q, %v; want %q", raw, got, err, tt.value)
			}
		}
	}
	// xapi's unprotect keeps an unknown % sequence as it is.
	if got := statedb.Unprotect("100%x%"); got != "100%x%" {
		t.Errorf("unknown escape: %q", got)
	}
	if got, err := statedb.UnescapeXML([]byte("&#233;&#x41;&apos;")); err != nil || got != "éA'" {
		t.Errorf("char refs: %q %v", got, err)
	}
	for _, bad := range []string{"&foo;", "&amp", "&#0;", "&#xZZ;", "&" + strings.Repeat("a", 20) + ";"} {
		if _, err := statedb.UnescapeXML([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if got := string(statedb.AppendEscapeXML(nil, "a\x01b")); got != "a\uFFFDb" {
		t.Errorf("control character: %q", got)
	}
}

func TestSExpr(t *testing.T) {
	t.Parallel()
	set, err := statedb.DecodeSet(`('web tier' 'it\'s' 'back\\slash' "dq" bare)`)
	if want := []string{"web tier", "it's", `back\slash`, "dq", "bare"}; err != nil || !cmp.Equal(set, want) {
		t.Errorf("set: %q %v", set, err)
	}
	if enc := statedb.EncodeSet([]string{"web tier", "it's", `back\slash`}); enc != `('web tier' 'it\'s' 'back\\slash')` {
		t.Errorf("EncodeSet: %s", enc)
	}
	m, err := statedb.DecodeMap(`(('folder' '/Production & QA') ('note' '50% done'))`)
	if want := []statedb.Pair{{Key: "folder", Value: "/Production & QA"}, {Key: "note", Value: "50% done"}}; err != nil || !cmp.Equal(m, want) {
		t.Errorf("map: %v %v", m, err)
	}
	if got, _ := statedb.DecodeSet("()"); len(got) != 0 {
		t.Errorf("empty set: %v", got)
	}
	for _, tt := range []struct{ in, msg string }{
		{"(('a' 'b')", "offset 0: unbalanced '('"},
		{"('a'))", "offset 5: trailing data"},
		{"('a", "offset 1: unterminated string"},
		{`('a\`, "offset 3: unterminated escape"},
		{")", "offset 0: unbalanced ')'"},
		{"", "offset 0: unexpected end"},
		{strings.Repeat("(", 100), "nested too deeply"},
	} {
		_, err := statedb.ParseSExpr(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%q: %v, want %q", tt.in, err, tt.msg)
		}
	}
	if _, err := statedb.DecodeMap("(('a'))"); err == nil {
		t.Error("map entry with one string accepted")
	}
	if _, err := statedb.DecodeSet("'a'"); err == nil {
		t.Error("atom accepted as a set")
	}
}

// repeatReader yields n bytes of c without allocating them.
type repeatReader struct {
	c byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.c
	}
	r.n -= int64(len(p))
	return len(p), nil
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	good := gen(t, fixtures.StateDBSpec{Release: "6.2", VMs: 1})
	vmRow := bytes.Index(good, []byte(`<table name="VM">`))
	head := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="67"/><pair key="generation_count" value="9"/></manifest>`
	tests := []struct {
		name string
		in   io.Reader
		want string // regexp on the error message
	}{
		{"empty", strings.NewReader(""), `^offset 0: expected <database>, found end of file`},
		{"truncated in a row", bytes.NewReader(good[:vmRow+100]), `^offset \d+, table VM, row 1 \(OpaqueRef:[0-9a-f-]+\): unexpected end of file inside an element`},
		{"truncated after a table", bytes.NewReader(good[:vmRow]), `^offset \d+: unexpected end of file: </database> missing`},
		{"bad entity", strings.NewReader(head + `<table name="VM"><row ref="r1" name__label="a&bogus;b"/></table></database>`), `^offset 235, table VM, row 1 \(r1\): attribute name__label: bad character reference "&bogus;"`},
		{"raw <", strings.NewReader(head + `<table name="VM"><row ref="r1" a="x<y"/></table></database>`), `table VM: malformed attribute|raw '<'`},
		{"row without ref", strings.NewReader(head + `<table name="VM"><row _ref="r1"/><row x="1"/></table></database>`), `^offset 208, table VM, row 1: row without a ref attribute`},
		{"duplicate column", strings.NewReader(head + `<table name="VM"><row ref="r1" b="1" a="2" b="3"/></table></database>`), `row 1 \(r1\): duplicate attribute b`},
		{"unknown element", strings.NewReader(head + `<table name="VM"><vm ref="r1"/></table></database>`), `^offset 208, table VM: unexpected <vm> in a table`},
		{"table attributes", strings.NewReader(head + `<table name="VM" x="1"/></database>`), `exactly one attribute, name`},
		{"missing manifest key", strings.NewReader(`<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="generation_count" value="1"/></manifest></database>`), `^offset 10: manifest: missing key schema_minor_vsn`},
		{"manifest not a number", strings.NewReader(`<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="x"/><pair key="generation_count" value="1"/></manifest></database>`), `schema_minor_vsn "x" is not a number`},
		{"text", strings.NewReader(head + `junk</database>`), `^offset 191: unexpected text "junk"`},
		{"text between rows", strings.NewReader(head + `<table name="VM"><row ref="r1"/>junk</table></database>`), `^offset 223, table VM: unexpected text "junk"`},
		{"after end", strings.NewReader(head + `</database><database>`), `unexpected <database> after </database>`},
		{"doctype", strings.NewReader(`<!DOCTYPE x><database/>`), `DOCTYPE`},
		{"local.db is another format", strings.NewReader(`<config><row key="ha.armed" value="true"/></config>`), `^offset 0: expected <database>, found <config>`},
		{"unquoted", strings.NewReader(head + `<table name=VM/></database>`), `value is not quoted`},
		{"huge attribute", io.MultiReader(strings.NewReader(head+`<table name="VM"><row ref="r1" name__label="`), &repeatReader{'x', 1 << 30}), `^offset 208, table VM, row 1 \(r1\): element larger than 16777216 bytes`},
		{"complete element over the limit", strings.NewReader(head + `<table name="VM"><row ref="r1" other_config="` + strings.Repeat("x", 17<<20) + `"/></table></database>`), `^offset 208, table VM, row 1 \(r1\): element larger than 16777216 bytes`},
		{"gzip garbage", bytes.NewReader([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 'g', 'a', 'r', 'b', 'a', 'g', 'e'}), `gzip`},
		{"gzip bad header", bytes.NewReader([]byte{0x1f, 0x8b, 0xff}), `gzip`},
		{"gzip truncated", bytes.NewReader(gzipped(t, good)[:2000]), `^offset \d+ \(decompressed\).*(unexpected EOF|end of file)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := statedb.Scan(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, statedb.ErrSyntax) {
				t.Errorf("not ErrSyntax: %v", err)
			}
			if !regexp.MustCompile(tt.want).MatchString(err.Error()) {
				t.Errorf("error %q does not match %q", err, tt.want)
			}
		})
	}
}

func TestRowEndTagAndComments(t *testing.T) {
	t.Parallel()
	in := `<?xml version="1.0"?><!-- made by hand --><database><manifest><pair key="schema_major_vsn" value="5"></pair><pair value="67" key="schema_minor_vsn"/><pair key="generation_count" value="3"/></manifest>` +
		`<table name="VM"><row name__label="a" ref="r1"></row> <row ref='r2'/></table><table name="host"></table></database>`
	var out bytes.Buffer
	if err := statedb.Copy(&out, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	want := statedb.Declaration + "\n" + `<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="67"/><pair key="generation_count" value="3"/></manifest>` +
		`<table name="VM"><row ref="r1" name__label="a"/><row ref="r2"/></table><table name="host"/></database>`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestBOMAndDuplicateRefs: a UTF-8 byte order mark before <?xml is skipped
// as xmlm skips it (offsets still count it); rows repeating a ref are
// reported per table, since xapi keeps only one row per ref.
func TestBOMAndDuplicateRefs(t *testing.T) {
	t.Parallel()
	head := "\xef\xbb\xbf" + `<?xml version="1.0" encoding="UTF-8"?><database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="67"/><pair key="generation_count" value="9"/></manifest>`
	s, err := statedb.Scan(strings.NewReader(head + `<table name="VM"><row ref="r1"/><row ref="r2"/><row ref="r1"/></table><table name="SR"><row ref="r1"/></table></database>`))
	if err != nil {
		t.Fatal(err)
	}
	if vm := s.Table("VM"); vm == nil || vm.Rows != 3 || strings.Join(vm.DuplicateRefs, ",") != "r1" {
		t.Errorf("VM %+v", vm)
	}
	if sr := s.Table("SR"); sr == nil || sr.DuplicateRefs != nil {
		t.Errorf("SR %+v: a ref may repeat across tables", sr)
	}
	_, err = statedb.Scan(strings.NewReader(head + `junk</database>`))
	if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("offset %d: ", len(head))) {
		t.Errorf("offset after a BOM: %v", err)
	}
	if _, err := statedb.Scan(strings.NewReader("\xef\xbb" + head[3:])); err == nil {
		t.Error("half a BOM accepted")
	}
}

// check runs statedb.Check for a target schema (or reference).
func check(t testing.TB, db []byte, schema int, like *statedb.Summary) *statedb.CheckResult {
	t.Helper()
	tm, err := statedb.NewTarget(schema, like)
	if err != nil {
		t.Fatal(err)
	}
	res, err := statedb.Check(bytes.NewReader(db), tm, statedb.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
