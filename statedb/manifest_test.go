package statedb_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/statedb"
)

// TestParseOCamlInt: what OCaml's int_of_string / Int64.of_string (runtime
// ints.c parse_intnat) accept, and the value they give.
func TestParseOCamlInt(t *testing.T) {
	t.Parallel()
	ok := []struct {
		in   string
		bits int
		want int64
	}{
		{"601", 63, 601}, {"-601", 63, -601}, {"0601", 63, 601},
		{"0x259", 63, 601}, {"0X259", 63, 601}, {"0o1131", 63, 601}, {"0b1001011001", 63, 601},
		{"6_01", 63, 601}, {"601_", 63, 601}, {"0x_259", 63, 0}, {"0_", 63, 0}, {"-0x259", 63, -601},
		{"4611686018427387903", 63, 1<<62 - 1}, {"-4611686018427387904", 63, -1 << 62},
		{"0x7fffffffffffffff", 63, -1}, {"0x4000000000000000", 63, -1 << 62},
		{"9223372036854775807", 64, 1<<63 - 1}, {"-9223372036854775808", 64, -1 << 63},
		{"0xffffffffffffffff", 64, -1}, {"0x4d2", 64, 1234},
	}
	for _, tt := range ok {
		got, err := statedb.ParseOCamlInt(tt.in, tt.bits)
		if tt.in == "0x_259" {
			// a digit must follow the prefix
			if err == nil {
				t.Errorf("%q accepted", tt.in)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q (%d bits): %d, %v; want %d", tt.in, tt.bits, got, err, tt.want)
		}
	}
	for _, in := range []string{"", " 601", "601 ", "6 01", "-+601", "--601", "0x", "0x-259", "0xg", "_601", "6.01", "4611686018427387904",
		"-4611686018427387905", "0x8000000000000000", "1e3", "six", "601\x00"} {
		if _, err := statedb.ParseOCamlInt(in, 63); !errors.Is(err, statedb.ErrXapiRefuses) {
			t.Errorf("%q: %v, want a refusal", in, err)
		}
	}
	if _, err := statedb.ParseOCamlInt("9223372036854775808", 64); !errors.Is(err, statedb.ErrXapiRefuses) {
		t.Errorf("Int64 overflow: %v", err)
	}
	// later OCaml releases only
	for _, in := range []string{"0u601", "+601", "+-601"} {
		if _, err := statedb.ParseOCamlInt(in, 63); err == nil || errors.Is(err, statedb.ErrXapiRefuses) || !strings.Contains(err.Error(), "unknown") {
			t.Errorf("%q: %v, want unknown", in, err)
		}
	}
}

// TestManifestAsXapiReadsIt: manifest values go through xmlm's blank
// stripping and OCaml's conversions; what xapi reads loads, what it fails
// on (a missing key, a number OCaml refuses) is DOES NOT LOAD with the
// reason, not an unreadable file.
func TestManifestAsXapiReadsIt(t *testing.T) {
	t.Parallel()
	const body = `</manifest><table name="VM"><row ref="r1" a="b"/></table></database>`
	db := func(major, minor, gen string) []byte {
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<database><manifest>")
		for _, kv := range [][2]string{{"schema_major_vsn", major}, {"schema_minor_vsn", minor}, {"generation_count", gen}} {
			if kv[1] != "-" {
				b.WriteString(`<pair key="` + kv[0] + `" value="` + kv[1] + `"/>`)
			}
		}
		return []byte(b.String() + body)
	}
	ref := toyReference(t, 603, "VM", "a")
	for _, tt := range []struct{ minor, gen string }{
		{" 603", "9"}, {"603 ", " 9 "}, {"&#32;603&#9;", "9"}, {"0x25b", "0x4d2"}, {"0o1133", "0b1001"}, {"6_03", "1_000"}, {"603", "-1"},
	} {
		s, err := statedb.Scan(strings.NewReader(string(db("5", tt.minor, tt.gen))))
		if err != nil || s.SchemaMinor != 603 {
			t.Errorf("minor %q gen %q: %v", tt.minor, tt.gen, err)
			continue
		}
		if res := check(t, db("5", tt.minor, tt.gen), 0, ref); !res.Loads || res.SchemaMinor != 603 {
			t.Errorf("minor %q gen %q: %+v", tt.minor, tt.gen, res)
		}
	}
	for _, tt := range []struct{ major, minor, gen, code, key string }{
		{"5", "603", "-", "manifest-missing-key", "generation_count"},
		{"5", "-", "9", "manifest-missing-key", "schema_minor_vsn"},
		{"-", "603", "9", "manifest-missing-key", "schema_major_vsn"},
		{"5", "6 03", "9", "manifest-bad-number", "schema_minor_vsn"},
		{"5", "603", "0x", "manifest-bad-number", "generation_count"},
		{"5", "603", "9223372036854775808", "manifest-bad-number", "generation_count"},
	} {
		in := db(tt.major, tt.minor, tt.gen)
		if _, err := statedb.Scan(strings.NewReader(string(in))); !errors.Is(err, statedb.ErrXapiRefuses) || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%s %s: scan %v", tt.code, tt.key, err)
		}
		res := check(t, in, 0, ref)
		found := false
		for _, r := range res.Reasons {
			found = found || r.Code == tt.code && r.Column == tt.key && r.Effect == statedb.EffectRefuses && r.Rule.Commit != ""
		}
		if res.Loads || !found {
			t.Errorf("%s %s: %+v", tt.code, tt.key, res)
		}
		if tt.key != "generation_count" && (res.SchemaMinor != 0 || res.SchemaMajor != 0) {
			t.Errorf("%s %s: schema %d.%d, want unknown", tt.code, tt.key, res.SchemaMajor, res.SchemaMinor)
		}
	}
	// not judged: a negative or 32-bit-overflowing schema, the 0u prefix
	for _, minor := range []string{"-603", "0x40000000", "0u603", "+603"} {
		tm, err := statedb.NewTarget(603, ref)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := statedb.Check(strings.NewReader(string(db("5", minor, "9"))), tm, statedb.CheckOptions{}); !errors.Is(err, statedb.ErrSyntax) || errors.Is(err, statedb.ErrXapiRefuses) {
			t.Errorf("minor %q: %v, want an error (unknown)", minor, err)
		}
	}
}
