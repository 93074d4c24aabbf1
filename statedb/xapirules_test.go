package statedb_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/statedb"
)

const head603 = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="603"/><pair key="generation_count" value="9"/>`

// TestRefusedForXapi: what xmlm or xapi's manifest reader would not read the
// way this package would is refused, with the offset of the culprit.
func TestRefusedForXapi(t *testing.T) {
	t.Parallel()
	manifestAt := strings.Index(head603, "<manifest>")
	row := head603 + `</manifest><table name="VM">`
	tests := []struct{ name, in, want string }{
		// xapi's List.assoc would use the first; show would print the last
		{"duplicate manifest key", head603 + `<pair key="schema_minor_vsn" value="55"/></manifest></database>`,
			`^offset ` + itoa(manifestAt) + `: manifest: key schema_minor_vsn appears twice`},
		{"duplicate pair attribute", head603 + `<pair key="a" key="b" value="1"/></manifest></database>`, `pair: duplicate attribute key`},
		{"raw control byte", row + `<row ref="r1" name__label="ab` + "\x01" + `c"/></table></database>`,
			`^offset ` + itoa(len(row)+len(`<row ref="r1" name__label="ab`)) + `, table VM, row 1 \(r1\), attribute name__label: raw control byte 0x01`},
		{"raw control byte, indented", row + "\n\t<row\n\tref=\"r1\"\n\ta=\"x\ty\nz\"\n\tb=\"" + strings.Repeat("long", 5) + "\x1f\"/></table></database>", `attribute b: raw control byte 0x1f`},
		{"raw control byte in a table name", head603 + "</manifest><table name=\"V\x07M\"/></database>", `attribute name: raw control byte 0x07`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := statedb.Scan(strings.NewReader(tt.in))
			if !errors.Is(err, statedb.ErrSyntax) || !regexp.MustCompile(tt.want).MatchString(err.Error()) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	// A character reference xmlm's p_charref refuses stops the load
	// (Illegal_char_ref) like the raw character: a character fault, with
	// the offset of the '&'.
	refs := []struct{ name, in, want string }{
		{"char ref below 0x20", row + `<row ref="r1" name__label="a&#1;b"/></table></database>`,
			`^offset ` + itoa(len(row)+len(`<row ref="r1" name__label="a`)) + `, table VM, row 1 \(r1\), attribute name__label: character reference "&#1;" is U\+0001, which XML 1.0 does not allow: Illegal_char_ref`},
		{"hex char ref below 0x20", row + `<row ref="r1" a="&#x1F;"/></table></database>`, `"&#x1F;" is U\+001F`},
		{"char ref FFFE", row + `<row ref="r1" a="&#xFFFE;"/></table></database>`, `U\+FFFE, which XML 1.0 does not allow`},
		{"char ref surrogate", row + `<row ref="r1" a="&#xD800;"/></table></database>`, `U\+D800, which XML 1.0 does not allow`},
		{"char ref zero", row + `<row ref="r1" a="&#0;"/></table></database>`, `U\+0000`},
		{"empty char ref", row + `<row ref="r1" a="&#;"/></table></database>`, `"&#;" is U\+0000`},
		{"char ref beyond U+10FFFF", row + `<row ref="r1" a="&#x110000;"/></table></database>`, `beyond U\+10FFFF`},
		{"char ref beyond 32 bits", row + `<row ref="r1" a="&#x123456789ABCDEF0;"/></table></database>`, `beyond U\+10FFFF`},
		{"uppercase X", row + `<row ref="r1" a="&#X41;"/></table></database>`, `"&#X41;" is not a number`},
		{"not digits", row + `<row ref="r1" a="&#1a;"/></table></database>`, `"&#1a;" is not a number`},
		{"char ref in the manifest", head603 + `<pair key="x" value="&#31;"/></manifest></database>`, `^offset \d+, attribute value: character reference "&#31;"`},
	}
	for _, tt := range refs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := statedb.Scan(strings.NewReader(tt.in))
			if !errors.Is(err, statedb.ErrMalformedChars) || !errors.Is(err, statedb.ErrSyntax) || !regexp.MustCompile(tt.want).MatchString(err.Error()) {
				t.Errorf("error %v, want %q (a character fault)", err, tt.want)
			}
		})
	}
	// TAB, LF, CR are characters, raw or as references, also in long values
	// (the eight-bytes-at-a-time test) and between attributes.
	ok := row + "\n\t<row\r\n ref=\"r1\" a=\"x\ty\nz\rw" + strings.Repeat("0123456789", 3) + "\" b=\"&#9;&#10;&#13;&#x20;&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;&#x00000000000041;\"/>\n</table></database>"
	if _, err := statedb.Scan(strings.NewReader(ok)); err != nil {
		t.Errorf("legal characters refused: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// toyReference is a database of the target at schema with one row in table
// showing exactly the columns given: a reference for toy databases, whose
// rows have only those columns.
func toyReference(t *testing.T, schema int, table string, columns ...string) *statedb.Summary {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="` + itoa(schema) + `"/><pair key="generation_count" value="1"/></manifest><table name="` + table + `"><row ref="OpaqueRef:ref"`)
	for _, c := range columns {
		b.WriteString(" " + c + `=""`)
	}
	b.WriteString(`/></table></database>`)
	return scan(t, []byte(b.String()))
}

// TestValueBeforeKey: xapi's manifest reader matches key then value and
// fails otherwise; the file is read, the problem reported, and a patch
// writes the pair key first.
func TestValueBeforeKey(t *testing.T) {
	t.Parallel()
	in := strings.Replace(head603, `<pair key="generation_count" value="9"/>`, `<pair value="9" key="generation_count"/>`, 1) +
		`</manifest><table name="VM"><row ref="r1" name__label="a%.b"/></table></database>`
	s, err := statedb.Scan(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := "manifest pair 3 (generation_count) has value before key: xapi's reader rejects it; statedb patch rewrites it key first"
	if len(s.Problems) != 1 || s.Problems[0] != want {
		t.Errorf("problems %q, want %q", s.Problems, want)
	}
	if ok := scan(t, []byte(head603+`</manifest></database>`)); ok.Problems == nil || len(ok.Problems) != 0 {
		t.Errorf("problems of a good file: %#v (want an empty list)", ok.Problems)
	}
	_, out, err := patchBytes(t, []byte(in), statedb.Target{Like: toyReference(t, 400, "VM", "name__label")}, statedb.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`<pair key="generation_count" value="9"/>`)) || len(scan(t, out).Problems) != 0 {
		t.Errorf("patched manifest not key first:\n%s", out)
	}
}

// TestEntitySpaces: a '%' or a space written as a character reference
// counts for the space encoding and is re-encoded for an old xapi.
func TestEntitySpaces(t *testing.T) {
	t.Parallel()
	body := `</manifest><table name="SR"><row ref="r1" name__label="Local&#37;.storage"/></table></database>`
	s := scan(t, []byte(head603+body))
	if s.SpaceEncoding != "modern" {
		t.Errorf("&#37;. : space encoding %q, want modern", s.SpaceEncoding)
	}
	if s := scan(t, []byte(head603+`</manifest><table name="SR"><row ref="r1" name__label="Local&#32;storage"/></table></database>`)); s.SpaceEncoding != "legacy" {
		t.Errorf("&#32; : space encoding %q, want legacy", s.SpaceEncoding)
	}
	if s := scan(t, []byte(head603+`</manifest><table name="SR"><row ref="r1" name__label="100&#37;&#37;."/></table></database>`)); s.SpaceEncoding != "" {
		t.Errorf("%%%%. is a percent and a dot: space encoding %q", s.SpaceEncoding)
	}
	rel, _ := release.Lookup("7.1")
	_, out, err := patchBytes(t, []byte(head603+body), statedb.Target{Like: toyReference(t, rel.Schema, "SR", "name__label")}, statedb.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`name__label="Local storage"`)) {
		t.Errorf("&#37;. not re-encoded for 7.1:\n%s", out)
	}
}

// TestBuildNumberNotGuessed: the 12-pair manifest takes build_number from
// the release table when it has one; only a release without one gets a
// placeholder, and only then does the note name it.
func TestBuildNumberNotGuessed(t *testing.T) {
	t.Parallel()
	src := gen(t, fixtures.StateDBSpec{Release: "6.2", VMs: 1})
	host := map[string]string{"installation_uuid": "i", "control_domain_uuid": "d", "pool_conf": "master", "pool_token": "t"}
	for _, tt := range []struct {
		schema  int
		build   string
		guessed bool
	}{{55, "10918p", false}, {61, "0", true}} {
		p, out, err := patchBytes(t, src, statedb.Target{Schema: tt.schema, Host: host}, statedb.PatchOptions{DropData: true})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := scan(t, out).Manifest.Get("build_number"); v != tt.build {
			t.Errorf("5.%d: build_number %q, want %q", tt.schema, v, tt.build)
		}
		var note string
		for _, n := range p.Notes {
			if strings.Contains(n, "placeholder") {
				note = n
			}
		}
		if !strings.Contains(note, "xapi_major_vsn") || strings.Contains(note, "build_number") != tt.guessed {
			t.Errorf("5.%d: note %q (build_number guessed: %v)", tt.schema, note, tt.guessed)
		}
	}
}

// TestLocateDanglingLink: a state.db that links out of the root is resolved
// inside it, finds nothing, and says so rather than just "no database".
func TestLocateDanglingLink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := fixtures.WriteXenServerRoot(dir, fixtures.RootSpec{Release: "7.1"}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "var/lib/xcp/state.db")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	outside := filepath.Join(t.TempDir(), "secret.db")
	if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := "/../../../../.." + outside
	if err := os.Symlink(link, p); err != nil {
		t.Fatal(err)
	}
	loc := locate(t, dir)
	want := "no database file exists: var/lib/xcp/state.db is a symlink to " + link + ", which does not exist inside the root; xapi would create a fresh one at /var/lib/xcp/state.db"
	if loc.Loads != "" || loc.Reason != want {
		t.Errorf("loads %q, reason\n%s\nwant\n%s", loc.Loads, loc.Reason, want)
	}
}
