package statedb_test

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/statedb"
)

// TestXMLMCharacters: the bytes xmlm's decoder (uchar_utf8, nextc's is_char
// test) refuses make the database one xapi does not load — the reader says
// so at the offset of the first one, naming the attribute, and check says
// DOES NOT LOAD; the sequences it accepts load.
func TestXMLMCharacters(t *testing.T) {
	t.Parallel()
	row := head603 + `</manifest><table name="VM"><row ref="r1" name__label="caf`
	tail := `"/></table></database>`
	bad := []struct{ name, b, want string }{
		{"Latin-1 e-acute", "\xe9", `invalid UTF-8: e9 22 2f`},
		{"Latin-1 at the end of a long value", strings.Repeat("x", 40) + "\xe9", `invalid UTF-8: e9 22 2f`},
		{"lone continuation byte", "\x80", `byte 0x80 cannot start a character`},
		{"bad continuation", "\xc3\x28", `invalid UTF-8: c3 28 \(the byte after the lead byte`},
		{"overlong C0", "\xc0\xaf", `byte 0xc0 starts an overlong form`},
		{"overlong E0", "\xe0\x80\xaf", `e0 80 af \(an overlong form\)`},
		{"overlong F0", "\xf0\x80\x80\xaf", `f0 80 80 af \(an overlong form\)`},
		{"surrogate", "\xed\xa0\x80", `ed a0 80 \(a UTF-16 surrogate`},
		{"beyond U+10FFFF", "\xf4\x90\x80\x80", `f4 90 80 80 \(beyond U\+10FFFF\)`},
		{"F5 lead", "\xf5\x80\x80\x80", `byte 0xf5 cannot start a character`},
		{"U+FFFE", "\xef\xbf\xbe", `U\+FFFE is not an XML 1.0 character`},
		{"U+FFFF", "\xef\xbf\xbf", `U\+FFFF is not an XML 1.0 character`},
		{"raw control byte", "\x01", `raw control byte 0x01`},
		{"control byte after CR alone", "\r\x01", `raw control byte 0x01`},
		{"control byte after LF alone", "\n\x01", `raw control byte 0x01`},
		// after CR LF xmlm reads one character unchecked, not two
		{"control byte two after CR LF", "\r\nx\x01", `raw control byte 0x01`},
		// the unchecked character still goes through uchar_utf8
		{"malformed after CR LF", "\r\n\xe9", `invalid UTF-8: e9`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			db := row + tt.b + tail
			off := itoa(len(row) + firstOdd(tt.b))
			_, err := statedb.Scan(strings.NewReader(db))
			want := `^offset ` + off + `, table VM, row 1 \(r1\), attribute name__label: .*` + tt.want
			if !errors.Is(err, statedb.ErrMalformedChars) || !errors.Is(err, statedb.ErrSyntax) || !regexp.MustCompile(want).MatchString(err.Error()) {
				t.Fatalf("error %v, want %q", err, want)
			}
			res := check(t, []byte(db), 0, toyReference(t, 603, "VM", "name__label"))
			if res.Loads || len(res.Reasons) != 1 || res.Reasons[0].Code != "undecodable" || res.Reasons[0].Column != "name__label" ||
				res.Reasons[0].First == nil || itoa(int(res.Reasons[0].First.Offset)) != off || res.Reasons[0].First.Ref != "r1" {
				t.Errorf("check: %+v", res)
			}
			if !strings.HasPrefix(res.Headline(), "DOES NOT LOAD") {
				t.Errorf("headline %q", res.Headline())
			}
		})
	}
	good := []struct{ name, b string }{
		{"e-acute", "\xc3\xa9"},
		{"three bytes", "\xe2\x82\xac"},
		{"four bytes", "\xf0\x9f\x98\x80"},
		{"U+FFFD", "\xef\xbf\xbd"},
		{"U+D7FF and U+E000", "\xed\x9f\xbf\xee\x80\x80"},
		{"U+10FFFF", "\xf4\x8f\xbf\xbf"},
		{"noncharacter U+FDD0", "\xef\xb7\x90"},
		// nextc's "cr nl business": the character after CR LF is read
		// without the is_char test (xmlm 06a5686 to v1.4.0)
		{"control byte right after CR LF", "\r\n\x01"},
		{"U+FFFE right after CR LF", "\r\n\xef\xbf\xbe"},
		{"CR LF CR LF then a control byte", "\r\n\r\n\x01"},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := statedb.Scan(strings.NewReader(row + tt.b + tail)); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
}

// TestXMLMCharactersOutsideValues: xmlm decodes every byte of the document
// up to the '>' of </database>, names and the prolog included, and none
// after it; a file gzip-compressed reports the decompressed offset.
func TestXMLMCharactersOutsideValues(t *testing.T) {
	t.Parallel()
	body := `</manifest><table name="VM"><row ref="r1" a="b"/></table></database>`
	for _, tt := range []struct{ name, db string }{
		{"in a table name", head603 + `</manifest><table name="V` + "\xff" + `M"/></database>`},
		{"in an attribute name", head603 + `</manifest><table name="VM"><row ref="r1" n` + "\xe9" + `="b"/></table></database>`},
		{"in a comment", head603 + `<!-- caf` + "\xe9" + ` -->` + body},
		{"in the manifest", head603 + `<pair key="x" value="caf` + "\xe9" + `"/>` + body},
		{"between elements", head603 + "</manifest>\n\xe9" + `<table name="VM"/></database>`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := statedb.Scan(strings.NewReader(tt.db))
			want := `^offset ` + itoa(firstOdd(tt.db)) + `[:,]`
			if !errors.Is(err, statedb.ErrMalformedChars) || !regexp.MustCompile(want).MatchString(err.Error()) {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
	// after the root element xapi reads nothing more
	if _, err := statedb.Scan(strings.NewReader(head603 + body + "\n<?x caf\xe9?>")); err != nil {
		t.Errorf("bytes after </database>: %v", err)
	}
	// gzip: the offset is in the decompressed stream
	db := head603 + `</manifest><table name="VM"><row ref="r1" a="caf` + "\xe9" + `"/></table></database>`
	_, err := statedb.Scan(bytes.NewReader(gzipped(t, []byte(db))))
	if want := "offset " + itoa(strings.IndexByte(db, 0xe9)) + " (decompressed), table VM"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("gzip: %v, want %q", err, want)
	}
}

// TestXMLMEncodingDeclaration: xmlm takes the decoder from the XML
// declaration when no byte order mark came first (p_xml_decl).
func TestXMLMEncodingDeclaration(t *testing.T) {
	t.Parallel()
	rest := `<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="603"/><pair key="generation_count" value="9"/></manifest><table name="VM"><row ref="r1" a="caf%s"/></table></database>`
	decl := func(enc string) string { return `<?xml version="1.0" encoding="` + enc + `"?>` + "\n" }
	for _, tt := range []struct {
		name, db string
		chars    bool   // xapi does not load it
		want     string // error, "" for none
	}{
		{"utf-8 lower case, blanks stripped", decl(" utf-8 ") + strings.Replace(rest, "%s", "\xc3\xa9", 1), false, ""},
		{"us-ascii", decl("US-ASCII") + strings.Replace(rest, "%s", "e", 1), false, ""},
		{"us-ascii with a byte over 0x7F", decl("US-ASCII") + strings.Replace(rest, "%s", "\xc3\xa9", 1), true, "byte 0xc3 is not US-ASCII"},
		{"unknown encoding", decl("UTF8") + strings.Replace(rest, "%s", "e", 1), true, `encoding "utf8", which xmlm does not know`},
		{"utf-16 in an 8-bit file", decl("UTF-16") + strings.Replace(rest, "%s", "e", 1), true, `encoding "utf-16" but the file is not UTF-16`},
		{"latin-1: not read here", decl("ISO-8859-1") + strings.Replace(rest, "%s", "\xe9", 1), false, `xsrescue reads only UTF-8`},
		// a byte order mark makes xmlm ignore the declared encoding
		{"BOM then a Latin-1 declaration", "\xef\xbb\xbf" + decl("ISO-8859-1") + strings.Replace(rest, "%s", "\xc3\xa9", 1), false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := statedb.Scan(strings.NewReader(tt.db))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, statedb.ErrMalformedChars) != tt.chars):
				t.Errorf("error %v, want %q (does not load: %v)", err, tt.want, tt.chars)
			}
		})
	}
}

// firstOdd is the index of the first byte of s above 0x7F or below 0x20
// other than TAB, LF and CR.
func firstOdd(s string) int {
	return strings.IndexFunc(s, func(r rune) bool { return r >= 0x80 || r < 0x20 && r != '\t' && r != '\n' && r != '\r' })
}

// TestXMLMCRLFQuirk: a character XML forbids, let through by xmlm right
// after a raw CR LF, loads — but patch refuses to rewrite the file, as a
// re-encoded value (the CR LF protected or collapsed) would not load.
func TestXMLMCRLFQuirk(t *testing.T) {
	t.Parallel()
	db := head603 + "</manifest><table name=\"VM\"><row ref=\"r1\" name__label=\"a\r\n\xef\xbf\xbe\"/></table></database>"
	s, err := statedb.Scan(strings.NewReader(db))
	if err != nil {
		t.Fatal(err)
	}
	at := itoa(strings.Index(db, "\xef\xbf\xbe"))
	if s.QuirkChars != 1 || len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "the first at offset "+at) {
		t.Errorf("quirk chars %d, problems %q", s.QuirkChars, s.Problems)
	}
	if res := check(t, []byte(db), 0, toyReference(t, 603, "VM", "name__label")); !res.Loads {
		t.Errorf("check: %+v", res)
	}
	_, err = statedb.PlanPatch(s, statedb.Target{Schema: 108}, statedb.PatchOptions{DropData: true})
	if err == nil || !strings.Contains(err.Error(), "right after a raw CR LF") {
		t.Errorf("patch: %v", err)
	}
}
