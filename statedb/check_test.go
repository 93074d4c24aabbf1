package statedb_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/statedb"
)

// checkTargets are the releases the golden check results cover.
var checkTargets = []string{"5.0", "5.5", "5.6", "6.0", "6.2", "6.5", "7.0", "7.1", "7.2", "7.3", "8.2"}

// edgeValues are raw attribute values at the edges of the space
// protection: what each target reads of them differs.
var edgeValues = []struct{ name, raw string }{
	{"leading-protected-space", "%.x"},
	{"trailing-protected-space", "x%."},
	{"percent-dot", "%%."},
	{"entity-percent-dot", "&#37;."},
	{"three-protected-spaces", "%.%.%."},
	{"three-raw-spaces", "a   b"},
	{"protected-tab", "a%tb"},
	{"raw-tab", "a\tb"},
	{"protected-newline", "a%nb"},
	{"raw-newline", "a\nb"},
}

var (
	rowRE   = regexp.MustCompile(`<row ref="([^"]*)"[^>]*/>`)
	attrRE  = func(name string) *regexp.Regexp { return regexp.MustCompile(` ` + name + `="[^"]*"`) }
	newUUID = func(s string) string { return fixtures.UUID("crafted/" + s) }
)

// withAttr sets attribute name of a row's text (adding it when absent).
func withAttr(row, name, raw string) string {
	re := attrRE(name)
	if re.MatchString(row) {
		return re.ReplaceAllLiteralString(row, ` `+name+`="`+raw+`"`)
	}
	return strings.Replace(row, "/>", ` `+name+`="`+raw+`"/>`, 1)
}

func renamed(row, id string) string {
	ref := "OpaqueRef:" + newUUID(id)
	row = withAttr(row, "ref", ref)
	row = withAttr(row, "_ref", ref)
	return withAttr(row, "uuid", newUUID(id+"/uuid"))
}

// craftedDB is an 8.2 CU1 database (schema 603) with what the targets
// disagree on: a VM row per edge value, a Bond row (the table fresh
// references leave empty), a row whose ref is not first, a manifest pair
// with value before key, a repeated ref; with broken, also rows that no
// xapi loads: one without uuid, a __ctime that is not a number, a tag set
// with a bare symbol.
func craftedDB(t testing.TB, broken bool) []byte {
	t.Helper()
	db := gen(t, fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 1, Seed: "crafted"})
	s := string(db)
	vmAt := strings.Index(s, `<table name="VM">`)
	rows := rowRE.FindAllString(s[vmAt:], 2)
	guest := rows[1] // rows[0] is the control domain
	var extra strings.Builder
	for _, e := range edgeValues {
		extra.WriteString(withAttr(renamed(guest, e.name), "name__label", e.raw))
	}
	moved := renamed(guest, "ref-not-first")
	ref := attrRE("ref").FindString(moved)
	moved = strings.Replace(strings.Replace(moved, ref, "", 1), "/>", ref+"/>", 1)
	extra.WriteString(moved)
	extra.WriteString(guest) // the same ref twice
	if broken {
		extra.WriteString(attrRE("uuid").ReplaceAllLiteralString(renamed(guest, "no-uuid"), ""))
		extra.WriteString(withAttr(renamed(guest, "bad-ctime"), "__ctime", "yesterday"))
		extra.WriteString(withAttr(renamed(guest, "bad-tags"), "tags", "('web'%.tier)"))
	}
	insert := vmAt + len(`<table name="VM">`)
	s = s[:insert] + extra.String() + s[insert:]

	// a Bond row with every column of 8.2 CU1 (auto_update_mac, 8.1 on)
	dm, err := statedb.DatamodelAt(603)
	if err != nil {
		t.Fatal(err)
	}
	var bond strings.Builder
	bref := "OpaqueRef:" + newUUID("bond")
	bond.WriteString(`<table name="Bond"><row ref="` + bref + `" __ctime="7" __mtime="7"`)
	for _, c := range dm.Table("Bond").Columns {
		v := c.Empty
		if c.Default != nil {
			v = *c.Default
		}
		switch c.Name {
		case "_ref":
			v = bref
		case "uuid":
			v = newUUID("bond/uuid")
		}
		bond.WriteString(" " + c.Name + `="` + string(statedb.EncodeValue(v, false)) + `"`)
	}
	bond.WriteString(`/></table>`)
	s = strings.Replace(s, `<table name="Bond"/>`, bond.String(), 1)
	s = regexp.MustCompile(`<pair key="generation_count" value="([0-9]+)"/>`).ReplaceAllString(s, `<pair value="$1" key="generation_count"/>`)
	return []byte(s)
}

func targetSchema(t testing.TB, rel string) int {
	t.Helper()
	r, ok := release.Lookup(rel)
	if !ok {
		t.Fatalf("release %s", rel)
	}
	return r.Schema
}

// TestCheckGolden: the crafted database checked for each target, from the
// release table (the datamodel history) and against the fresh database the
// target's xapi writes (whose many empty tables leave their columns to the
// history). The golden files are the review of what each target refuses.
func TestCheckGolden(t *testing.T) {
	t.Parallel()
	db := craftedDB(t, true)
	for _, rel := range checkTargets {
		t.Run(rel, func(t *testing.T) {
			schema := targetSchema(t, rel)
			fresh := scan(t, gen(t, fixtures.StateDBSpec{Release: rel, Fresh: true, Seed: "other-host"}))
			got := map[string]*statedb.CheckResult{
				"for_release": check(t, db, schema, nil),
				"like_fresh":  check(t, db, 0, fresh),
			}
			for how, res := range got {
				if res.Loads {
					t.Errorf("%s: the crafted database loads", how)
				}
			}
			b, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "check/"+rel+".json", append(b, '\n'))
		})
	}
}

// TestCheckOwnRelease: what a release's xapi writes, it loads.
func TestCheckOwnRelease(t *testing.T) {
	t.Parallel()
	for _, rel := range checkTargets {
		for _, fresh := range []bool{false, true} {
			db := gen(t, fixtures.StateDBSpec{Release: rel, VMs: 2, Fresh: fresh})
			if res := check(t, db, targetSchema(t, rel), nil); !res.Loads {
				t.Errorf("%s (fresh %v): %+v", rel, fresh, res.Reasons)
			}
		}
	}
}

// TestCheckEdgeValues: which edge value each era reads differently.
func TestCheckEdgeValues(t *testing.T) {
	t.Parallel()
	// per edge value: stripped for every target, undecoded for < 7.3
	want := map[string]struct{ stripped, undecoded bool }{
		"leading-protected-space":  {false, true},
		"trailing-protected-space": {false, true},
		"percent-dot":              {false, false},
		"entity-percent-dot":       {false, true},
		"three-protected-spaces":   {false, true},
		"three-raw-spaces":         {true, false},
		"protected-tab":            {false, false},
		"raw-tab":                  {true, false},
		"protected-newline":        {false, false},
		"raw-newline":              {true, false},
	}
	head := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="133"/><pair key="generation_count" value="1"/></manifest><table name="T">`
	for _, e := range edgeValues {
		for _, schema := range []int{120, 133} {
			db := head + `<row ref="r" v="` + e.raw + `"/></table></database>`
			res := check(t, []byte(db), 0, toyReference(t, schema, "T", "v"))
			var stripped, undecoded bool
			for _, r := range res.Reasons {
				stripped = stripped || r.Code == "stripped-value"
				undecoded = undecoded || r.Code == "undecoded-space"
			}
			w := want[e.name]
			// Whitespace collapsed and %. left undecoded are values xapi
			// reads otherwise, not a database it refuses: it loads, and
			// the check still reports a problem (exit 4).
			changes := stripped || undecoded
			headline := "loads"
			if changes {
				headline = "loads, but 1 value changes (xapi reads it otherwise)"
			}
			if res.Headline() != headline {
				t.Errorf("%s for 5.%d: headline %q", e.name, schema, res.Headline())
			}
			if !res.Loads || (res.ValuesChange == 1) != changes || res.Problems() != changes {
				t.Errorf("%s for 5.%d: loads %v, %d values change, problems %v", e.name, schema, res.Loads, res.ValuesChange, res.Problems())
			}
			for _, r := range res.Reasons {
				if r.Effect != statedb.EffectChanges {
					t.Errorf("%s for 5.%d: %s has effect %q", e.name, schema, r.Code, r.Effect)
				}
			}
			if stripped != w.stripped || undecoded != (w.undecoded && schema < 133) {
				t.Errorf("%s for 5.%d: stripped %v undecoded %v, want %v %v", e.name, schema, stripped, undecoded, w.stripped, w.undecoded && schema < 133)
			}
		}
	}
}

// TestPatchLoadsForEveryTarget: the crafted database (without what no xapi
// loads) patched for each target, by release and like its fresh database,
// is one the check finds the target loads — and patch itself checked it.
func TestPatchLoadsForEveryTarget(t *testing.T) {
	t.Parallel()
	db := craftedDB(t, false)
	host := map[string]string{"installation_uuid": "i", "control_domain_uuid": "d", "pool_conf": "master", "pool_token": "t"}
	for _, rel := range checkTargets {
		schema := targetSchema(t, rel)
		fresh := scan(t, gen(t, fixtures.StateDBSpec{Release: rel, Fresh: true, Seed: "other-host"}))
		for how, tgt := range map[string]statedb.Target{"release": {Schema: schema, Host: host}, "like": {Like: fresh, Host: host}} {
			t.Run(rel+"/"+how, func(t *testing.T) {
				p, out, err := patchBytes(t, db, tgt, statedb.PatchOptions{DropData: true})
				if err != nil {
					t.Fatal(err)
				}
				if res := check(t, out, schema, tgt.Like); !res.Loads {
					t.Errorf("the patched database does not load: %+v", res.Reasons)
				}
				if schema < 133 && len(p.Lossy) == 0 {
					t.Error("no lossy values listed for a legacy target")
				}
				// the Bond row's columns of 8.1 on are gone below 8.1,
				// also like a fresh database whose Bond table is empty
				if schema < 502 && bytes.Contains(out, []byte("auto_update_mac")) {
					t.Error("Bond.auto_update_mac kept")
				}
				if _, _, err := patchBytes(t, db, tgt, statedb.PatchOptions{}); (err == nil) != (len(p.Losses()) == 0) {
					t.Errorf("without --drop-data (losses %v): %v", p.Losses(), err)
				}
			})
		}
	}
}

// TestPatchRefusesWhatItCannotFix: a row without uuid cannot be patched
// into anything a target loads: refused, naming the column.
func TestPatchRefusesWhatItCannotFix(t *testing.T) {
	t.Parallel()
	db := craftedDB(t, true)
	for _, rel := range []string{"5.5", "7.1", "8.2"} {
		_, _, err := patchBytes(t, db, statedb.Target{Schema: targetSchema(t, rel), Host: map[string]string{"installation_uuid": "i", "control_domain_uuid": "d", "pool_conf": "m", "pool_token": "t"}}, statedb.PatchOptions{DropData: true})
		if err == nil || !strings.Contains(err.Error(), "VM.uuid (1 row)") {
			t.Errorf("%s: %v", rel, err)
		}
	}
}

// TestPatchFillsDefaultsUpTo55: an xapi up to 5.5 fills no default when the
// schema is its own; the patch writes it, and refuses a column without one.
func TestPatchFillsDefaultsUpTo55(t *testing.T) {
	t.Parallel()
	db := gen(t, fixtures.StateDBSpec{Release: "5.5", VMs: 1})
	lacking := attrRE("ha_always_run").ReplaceAll(db, nil)
	if bytes.Equal(lacking, db) {
		t.Fatal("fixture has no VM.ha_always_run")
	}
	if res := check(t, lacking, 57, nil); res.Loads || res.Reasons[0].Code != "missing-column" || res.Reasons[0].Column != "ha_always_run" {
		t.Fatalf("check: %+v", res.Reasons)
	}
	p, out, err := patchBytes(t, lacking, statedb.Target{Schema: 57}, statedb.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Fill) != 1 || p.Fill[0].Column != "ha_always_run" || p.Fill[0].Default != "false" {
		t.Errorf("fill %+v", p.Fill)
	}
	if !check(t, out, 57, nil).Loads {
		t.Error("filled database does not load")
	}
	// 5.6 fills it itself
	if res := check(t, lacking, 60, nil); !res.Loads {
		t.Errorf("5.6: %+v", res.Reasons)
	}
	noLabel := attrRE("uuid").ReplaceAll(db, nil)
	if _, _, err := patchBytes(t, noLabel, statedb.Target{Schema: 57}, statedb.PatchOptions{}); err == nil || !strings.Contains(err.Error(), "has no default") {
		t.Errorf("no default: %v", err)
	}
}

func ExampleCheck() {
	db := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="603"/><pair key="generation_count" value="1"/></manifest></database>`
	tm, _ := statedb.NewTarget(57, nil)
	res, _ := statedb.Check(strings.NewReader(db), tm, statedb.CheckOptions{})
	for _, r := range res.Reasons[:3] {
		fmt.Printf("%s: %s\n", r.Code, r.Message)
	}
	// Output:
	// schema-mismatch: schema 5.603: the target accepts only 5.57 (its own) or 5.55 (the previous release's)
	// manifest-missing-key: manifest key installation_uuid is missing: the target needs all 12 pairs of the old manifest
	// manifest-missing-key: manifest key control_domain_uuid is missing: the target needs all 12 pairs of the old manifest
}

// TestReleaseSchemasSampled: the release table and the datamodel history
// agree: every schema a release ships has a sample of its own.
func TestReleaseSchemasSampled(t *testing.T) {
	t.Parallel()
	for _, r := range release.All() {
		if !r.SchemaKnown() {
			continue
		}
		for _, s := range append([]int{r.Schema}, r.Schemas...) {
			d, err := statedb.DatamodelAt(s)
			if err != nil || !d.Exact() {
				t.Errorf("%s: schema %d has no sample of its own (%v)", r.Name, s, err)
			}
		}
	}
}

// TestCheckHeadline: a refusing reason makes the headline DOES NOT LOAD
// with the count of refusing reasons only.
func TestCheckHeadline(t *testing.T) {
	res := check(t, craftedDB(t, true), targetSchema(t, "7.1"), nil)
	refusing := 0
	for _, r := range res.Reasons {
		if r.Effect == statedb.EffectRefuses {
			refusing++
		}
	}
	if want := fmt.Sprintf("DOES NOT LOAD: %d reasons xapi would refuse or break on it", refusing); res.Loads || res.Headline() != want || refusing == len(res.Reasons) {
		t.Errorf("headline %q, want %q (%d reasons, %d refusing)", res.Headline(), want, len(res.Reasons), refusing)
	}
}
