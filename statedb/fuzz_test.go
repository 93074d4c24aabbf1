package statedb_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/statedb"
)

// FuzzReader: any input either fails with a SyntaxError or parses, and what
// the writer makes of it parses again to the same bytes.
func FuzzReader(f *testing.F) {
	small, err := fixtures.StateDB(fixtures.StateDBSpec{Release: "6.2", Fresh: true})
	if err != nil {
		f.Fatal(err)
	}
	// one real table of each shape keeps the seeds small enough to mutate
	end := bytes.Index(small, []byte("<table name=\"console\">"))
	end += bytes.Index(small[end:], []byte("</table>")) + len("</table>")
	one := append(append([]byte(nil), small[:end]...), "</database>"...)
	f.Add(one)
	f.Add(one[:len(one)/2])
	f.Add(indent(one))
	head := `<?xml version="1.0"?><database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="57"/><pair key="generation_count" value="1"/></manifest>`
	for _, s := range []string{
		head + `<table name="VM"><row ref="a" x="&amp;&lt;%."/></table></database>`,
		head + `<table name="VM"><row ref="a" x="&bad;"/></table></database>`,
		head + `<table name="VM"><row ref="a"></row><row ref="b"> </row></table><table name="x"></table></database>`,
		head + `<table name="VM"><row x="1"/></table></database>`,
		head + `<!-- c --><table name='VM'/></database>  `,
		head + `<table name="VM"><row ref='a"b' x='say "hi" &apos;' y="it's"/></table></database>`,
		"\xef\xbb\xbf" + head + `<table name="VM"><row ref="a"/><row ref="a"/></table></database>`,
		"\xef\xbb" + head + `</database>`,
		"\x1f\x8b\x08\x00garbage",
		"<database><manifest/></database>",
		"<database",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		if err := statedb.Copy(&out, bytes.NewReader(in)); err != nil {
			return
		}
		var again bytes.Buffer
		if err := statedb.Copy(&again, bytes.NewReader(out.Bytes())); err != nil {
			t.Fatalf("writer output does not parse: %v\n%q", err, out.Bytes())
		}
		if !bytes.Equal(out.Bytes(), again.Bytes()) {
			t.Fatalf("not idempotent:\n%q\n%q", out.Bytes(), again.Bytes())
		}
	})
}

// FuzzPatch: whatever parses, patched for an older xapi (space re-encoding,
// __ctime/__mtime dropped, a column and a table of the reference missing),
// is a database that parses again, with the target's schema.
func FuzzPatch(f *testing.F) {
	head := `<?xml version="1.0"?><database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="603"/><pair key="generation_count" value="7"/></manifest>`
	for _, s := range []string{
		head + `<table name="VM"><row ref="a" __ctime="1" __mtime="2" name__label="Local%.storage" other_config="(('k'%.'v%%'))" x="&amp;&lt;%.&quot;"/></table></database>`,
		head + `<table name="VM"><row ref='a"b' name__label='say "hi"%.%.' x='%_ %t'/></table><table name="Gone"><row ref="g"/></table></database>`,
		head + `<table name="VM"></table><table name="host"><row ref="h" name__label="a  b"/></table></database>`,
	} {
		f.Add([]byte(s))
	}
	ref := `<?xml version="1.0"?><database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="58"/><pair key="generation_count" value="1"/></manifest><table name="VM"><row ref="r" name__label="" other_config="()"/></table><table name="host"/><table name="pool"/></database>`
	like, err := statedb.Scan(bytes.NewReader([]byte(ref)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		src, err := statedb.Scan(bytes.NewReader(in))
		if err != nil {
			return
		}
		p, err := statedb.PlanPatch(src, statedb.Target{Like: like}, statedb.PatchOptions{DropData: true})
		if err != nil {
			return // a refusal (e.g. a schema the target cannot take)
		}
		var out bytes.Buffer
		if err := p.Apply(&out, bytes.NewReader(in)); err != nil {
			t.Fatalf("apply: %v", err)
		}
		got, err := statedb.Scan(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("patched database does not parse: %v\n%q", err, out.Bytes())
		}
		if got.SchemaMinor != 58 {
			t.Fatalf("patched schema 5.%d, want 5.58", got.SchemaMinor)
		}
	})
}

// FuzzSExpr: the decoder never panics, and decoded sets and maps encode to
// something that decodes to the same values.
func FuzzSExpr(f *testing.F) {
	for _, s := range []string{
		"()", "('a' 'b')", `('it\'s' "dq" bare)`, "(('k' 'v') ('k2' ''))",
		"(('a' 'b')", "('a'))", "('a", `('a\`, ")", "", "((((((((", "(('a'))",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if set, err := statedb.DecodeSet(s); err == nil {
			back, err := statedb.DecodeSet(statedb.EncodeSet(set))
			if err != nil || !cmp.Equal(back, set) {
				t.Fatalf("set %q: %q -> %q %v", s, set, back, err)
			}
		}
		if m, err := statedb.DecodeMap(s); err == nil {
			back, err := statedb.DecodeMap(statedb.EncodeMap(m))
			if err != nil || !cmp.Equal(back, m) {
				t.Fatalf("map %q: %q -> %q %v", s, m, back, err)
			}
		}
	})
}

// FuzzValue: both space encodings, with XML escaping, decode to the value.
func FuzzValue(f *testing.F) {
	for _, s := range []string{"Local storage", "a  b", "a   b", "50% & <x>", "tab\tnl\ncr\r", "%_%.%%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if bytes.ContainsFunc([]byte(v), func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' }) {
			return // xmlm replaces these by U+FFFD: not representable
		}
		for _, legacy := range []bool{false, true} {
			got, err := statedb.DecodeValue(statedb.EncodeValue(v, legacy))
			if err != nil || got != v {
				t.Fatalf("legacy=%v %q -> %q %v", legacy, v, got, err)
			}
		}
	})
}

// FuzzDBConf: db.conf parsing never panics; every accepted connection has an
// absolute path.
func FuzzDBConf(f *testing.F) {
	for _, s := range []string{
		"[/var/lib/xcp/state.db]\nmode:no_limit\nformat:xml\ncompress:true\n",
		"[/a]\n\n[/b]\nx:y\n", "mode:no_limit\n", "[relative]\n", "[/a]\ngarbage\n", "#c\n[ /a ]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		conns, err := statedb.ParseDBConf(in, "db.conf")
		if err != nil {
			return
		}
		for _, c := range conns {
			if len(c.Path) == 0 || c.Path[0] != '/' {
				t.Fatalf("accepted path %q", c.Path)
			}
		}
	})
}

// checkSeeds are small databases at the edges of what the targets accept.
func checkSeeds() []string {
	m := func(minor, extra string) string {
		return `<?xml version="1.0"?><database><manifest>` + extra + `<pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="` + minor + `"/><pair key="generation_count" value="3"/></manifest>`
	}
	return []string{
		m("57", "") + `<table name="VM"><row ref="r" _ref="r" uuid="u" name__label="%.x"/></table></database>`,
		m("603", "") + `<table name="VM"><row uuid="u" ref="r" __ctime="x" tags="('a' b)" other_config="(('k' 'v'))"/></table><table name="Gone"><row ref="g"/></table></database>`,
		m("108", "") + `<table name="SR"><row ref="r" name__label="a   b" x="&#37;." y="a&#9;b"/><row ref="r"/></table></database>`,
		m("55", `<pair key="installation_uuid" value="i"/><pair key="xapi_major_vsn" value="0x1_0"/>`) + `<table name="host"/></database>`,
		m("91", "") + `<table name="VM"><row ref="r" dropped_in_ga="1"/></table></database>`,
		m("603", "") + `<table name="VM"><row ref="r" name__label="x%." HVM__boot_params="(('a'%.'b'))"/></table></database>`,
		strings.Replace(m("133", ""), `<pair key="generation_count" value="3"/>`, `<pair value="3" key="generation_count"/>`, 1) + `</database>`,
		m("57", "") + `<table name="VM"><row ref="r"`,
		"\x1f\x8b\x08\x00garbage",
	}
}

// FuzzCheck: Check never panics; it accepts exactly what Scan accepts;
// every reason names its rule; the result does not depend on the run; and
// whatever patch makes of the input for a target either loads there or is
// refused by the check of its own output — patch never writes something
// that does not even parse.
func FuzzCheck(f *testing.F) {
	for _, s := range checkSeeds() {
		f.Add([]byte(s), uint16(57))
		f.Add([]byte(s), uint16(108))
		f.Add([]byte(s), uint16(603))
	}
	f.Fuzz(func(t *testing.T, in []byte, schema uint16) {
		tm, err := statedb.NewTarget(int(schema), nil)
		if err != nil {
			return // below the history
		}
		res, err := statedb.Check(bytes.NewReader(in), tm, statedb.CheckOptions{})
		_, serr := statedb.Scan(bytes.NewReader(in))
		if errors.Is(serr, statedb.ErrMalformedChars) {
			// xmlm cannot decode it: check's verdict, not an error
			if err != nil || res.Loads || !slices.ContainsFunc(res.Reasons, func(r statedb.Reason) bool { return r.Code == "undecodable" }) {
				t.Fatalf("scan error %v: check error %v, result %+v", serr, err, res)
			}
			return
		}
		if errors.Is(serr, statedb.ErrXapiRefuses) {
			// a manifest xapi fails on: check's verdict, unless the
			// file is also malformed further on
			if err != nil && !errors.Is(err, statedb.ErrSyntax) || err == nil && res.Loads {
				t.Fatalf("scan error %v: check error %v, result %+v", serr, err, res)
			}
			return
		}
		if (err == nil) != (serr == nil) {
			t.Fatalf("check error %v, scan error %v", err, serr)
		}
		if err != nil {
			if !errors.Is(err, statedb.ErrSyntax) {
				t.Fatalf("not a syntax error: %v", err)
			}
			return
		}
		again, _ := statedb.Check(bytes.NewReader(in), tm, statedb.CheckOptions{})
		if !cmp.Equal(res, again) {
			t.Fatalf("two runs differ: %s", cmp.Diff(res, again))
		}
		// Loads: no reason refuses; value changes are counted apart.
		refusing, changing := res.UnlistedRefusing, 0
		for _, r := range res.Reasons {
			switch r.Effect {
			case statedb.EffectRefuses:
				refusing++
			case statedb.EffectChanges:
				changing++
			default:
				t.Fatalf("reason %+v: effect %q", r, r.Effect)
			}
		}
		if res.Loads != (refusing == 0) || (changing > 0 && res.ValuesChange == 0) || res.Problems() != (!res.Loads || res.ValuesChange > 0) {
			t.Fatalf("loads %v, %d values change, with %d refusing and %d changing reasons", res.Loads, res.ValuesChange, refusing, changing)
		}
		for _, r := range res.Reasons {
			if r.Rule.Commit == "" || r.Message == "" || r.Rows < 0 {
				t.Fatalf("reason %+v", r)
			}
		}
		// without --drop-data first: a plan that accepts must not meet a
		// loss it did not list while writing
		src, _ := statedb.Scan(bytes.NewReader(in))
		tgt := statedb.Target{Schema: int(schema), Host: map[string]string{"installation_uuid": "i", "control_domain_uuid": "d", "pool_conf": "m", "pool_token": "t"}}
		for _, drop := range []bool{false, true} {
			p, err := statedb.PlanPatch(src, tgt, statedb.PatchOptions{DropData: drop})
			if err != nil {
				continue // a refusal
			}
			var failed *statedb.CheckFailedError
			if err := p.CheckOutput(bytes.NewReader(in)); err != nil && !errors.As(err, &failed) {
				t.Fatalf("patch output (drop-data %v): %v", drop, err)
			}
		}
	})
}
