package statedb

import (
	"fmt"
	"sort"
	"strings"

	"github.com/xsrescue/xsrescue/release"
)

// How xapi loads a database changed over its releases. Each rule below is
// the code of one era, read in github.com/xapi-project/xen-api at the
// commit given (docs/statedb.md, "How each xapi loads state.db"). The eras
// are keyed on the target's schema_minor_vsn: the commit that changed a
// rule was made when the mainline had the schema named in the rule.

// Rule is the xapi code behind a check reason.
type Rule struct {
	File     string `json:"file"`
	Function string `json:"function"`
	Commit   string `json:"commit"`
	Says     string `json:"says"` // what that code does with such a database
}

func (r Rule) String() string {
	if strings.HasPrefix(r.File, "xmlm ") {
		// xapi's XML library, not xen-api itself: File names the repository
		return fmt.Sprintf("%s %s, %s: %s", r.File, r.Function, r.Commit, r.Says)
	}
	return fmt.Sprintf("xen-api %s %s %s: %s", r.Commit, r.File, r.Function, r.Says)
}

// Thresholds of the eras (target schema minors).
const (
	// up to 5.5 (f77e728883 db_upgrade.ml maybe_upgrade): the schema must
	// be the binary's or the previous release's.
	strictSchemaUpTo = 57
	// 6dc5cdd6d4 (2009-11-03, trunk 59, first release 5.6): every start
	// runs generic_database_upgrade: missing tables created, defaults filled.
	genericUpgradeFrom = 59
	// the 12-pair manifest is required up to 5.6 FP1 (schema 61).
	oldManifestUpTo = 61
	// b829589f98 and 605de2d4c5 (2011-01-26, trunk 61, first release 6.0):
	// a column without a default fails at start; Set(Ref _) columns get
	// the default "()".
	addDefaultsFrom = 62
	// 2fc836f7eb (CA-44742, trunk 63, XS 6.0): __ctime/__mtime are parsed
	// with Int64.of_string.
	ctimesFrom = 63
	// 277c852834 (2014-11-13, trunk 82, first release 7.0): an unknown
	// column is fatal; sets and maps are parsed at load.
	strictColumnsFrom = 82
	// 037e7b1917 (trunk 93): a database whose manifest schema is a tech
	// preview (5.68, 5.91) has unknown columns dropped instead.
	techPreviewDropFrom = 93
	// 212fa24b6a (CA-268761, trunk 133, XS 7.3): %. decodes to a space.
	modernSpacesFrom = 133
	// c730c12fd0 (CP-40669, trunk 752, v22.26.0): ref need not come first.
	refAnywhereFrom = 752
)

// techPreviewSchemas are Datamodel.tech_preview_releases.
var techPreviewSchemas = map[int]bool{68: true, 91: true}

// lastRelease is the previous release's schema a <= 5.5 xapi upgrades
// from (db_upgrade.ml upgrade_from_last_release): 5.5's is f77e728883's
// last_release_schema_minor_vsn; 5.0's and older are the previous
// release's schema, by the same code (the repository starts after 5.0).
var lastRelease = map[int]int{57: 55, 55: 35, 35: 19}

// rules, by reason code: the rule of each era, the first whose upTo is at
// least the target's schema (0: no upper bound).
var rules = map[string][]struct {
	upTo int
	r    Rule
}{
	"schema-mismatch": {
		{strictSchemaUpTo, Rule{"ocaml/database/db_upgrade.ml", "maybe_upgrade", "f77e728883", "a schema other than the binary's or the previous release's raises Schema_mismatch: xapi does not start"}},
	},
	"manifest-missing-key": {
		{oldManifestUpTo, Rule{"ocaml/database/db_xml.ml", "From.cache", "f77e728883", "the manifest is read with List.assoc on all 12 keys: a missing one raises Not_found and xapi does not start"}},
		{0, Rule{"ocaml/database/db_xml.ml", "From.database", "2fc836f7eb", "schema_major_vsn, schema_minor_vsn and generation_count are read with List.assoc: a missing one raises Not_found"}},
	},
	"manifest-bad-number": {
		{oldManifestUpTo, Rule{"ocaml/database/db_xml.ml", "From.cache", "f77e728883", "schema_major_vsn, schema_minor_vsn, xapi_major_vsn and xapi_minor_vsn go through int_of_string, generation_count through Int64.of_string: a bad number fails the load"}},
		{0, Rule{"ocaml/database/db_xml.ml", "From.database", "2fc836f7eb", "the schema goes through int_of_string and generation_count through Int64.of_string: a bad number fails the load"}},
	},
	"pair-order": {
		{0, Rule{"ocaml/database/db_xml.ml", "From.cache / From.database", "f77e728883, HEAD", `a pair matches only [key; value] in that order; otherwise Unmarshall_error "Unexpected tag: pair"`}},
	},
	"ref-not-first": {
		{strictSchemaUpTo, Rule{"ocaml/database/db_xml.ml", "From.cache", "f77e728883", `a row matches only when ref is its first attribute; otherwise Unmarshall_error "Unexpected tag: row"`}},
		{refAnywhereFrom - 1, Rule{"ocaml/database/db_xml.ml", "From.database", "037e7b1917", `a row matches only when ref is its first attribute (until c730c12fd0, CP-40669, v22.26.0); otherwise Unmarshall_error "Unexpected tag: row"`}},
	},
	"unknown-table": {
		{strictColumnsFrom - 1, Rule{"ocaml/database/db_backend.ml", "this_table_persists (To.table)", "f77e728883", "every table in the cache is written back; an unknown one raises Not_found in the flush, so the database is never saved"}},
		{0, Rule{"ocaml/database/db_xml.ml", "From.database", "277c852834, 037e7b1917", `a row of an unknown table raises "Unexpected column in table T: C" at load (Schema.Database.find); an empty one raises Not_found in the flush (Schema.is_table_persistent)`}},
	},
	"unknown-column": {
		{strictColumnsFrom - 1, Rule{"ocaml/database/db_xml.ml", "From.cache", "f77e728883", "unknown columns are kept as they are and written back: harmless"}},
		{0, Rule{"ocaml/database/db_xml.ml", "From.database", "277c852834, 037e7b1917", `Unmarshall_error "Unexpected column in table T: C": xapi does not start (unless the manifest schema is a tech preview, 5.68 or 5.91, from 037e7b1917)`}},
	},
	"missing-table": {
		{genericUpgradeFrom - 1, Rule{"ocaml/database/db_backend.ml", "blow_away_non_persistent_fields", "f77e728883", `looks up every datamodel table at start: a missing one raises DBCache_NotFound("missing table") and xapi does not start`}},
	},
	"missing-column": {
		{genericUpgradeFrom - 1, Rule{"ocaml/database/db_backend.ml", "lookup_field_in_row", "f77e728883", `defaults are filled only when upgrading from the previous release (db_upgrade.ml upgrade_from_last_release); reading a persistent field a row lacks raises DBCache_NotFound("missing field")`}},
		{addDefaultsFrom - 1, Rule{"ocaml/database/db_backend.ml", "add_default_kvs", "6dc5cdd6d4", `generic_database_upgrade fills fields that have a datamodel default; reading one without a default raises DBCache_NotFound("missing field")`}},
		{0, Rule{"ocaml/database/db_cache_types.ml", "Row.add_defaults", "b829589f98", `generic_database_upgrade fills missing columns with their default; one without a default raises DBCache_NotFound and xapi does not start ("missing default value in datamodel for new field" since c2cdf8521c)`}},
	},
	"undecodable": {
		{0, Rule{"xmlm src/xmlm.ml (github.com/dbuenzli/xmlm)", "uchar_utf8 / nextc (is_char) / p_xml_decl / p_charref", "06a5686 (2007) to 70a46e0 (v1.4.0)", "a byte sequence that is not UTF-8 (a byte 0x80-0xC1 or 0xF5-0xFF first, a bad continuation byte, an overlong form, a surrogate, beyond U+10FFFF), a character XML 1.0 does not allow (control bytes, U+FFFE, U+FFFF) or an encoding it does not know raises Malformed_char_stream (Unknown_encoding), a character reference to such a character or not a number (&#1;, &#xFFFE;) Illegal_char_ref: xapi's database load (db_xml.ml, Xmlm.make_input) fails and xapi does not start"}},
	},
	"stripped-value": {
		{0, Rule{"xmlm src/xmlm.ml (github.com/dbuenzli/xmlm)", "p_attr_value / addc_data_strip", "v1.0.0 to 2f942d16c2", "attribute values are read with whitespace stripped: leading and trailing space, TAB, LF and CR dropped, runs collapsed to one space, also when written as &#..; references"}},
	},
	"undecoded-space": {
		{modernSpacesFrom - 1, Rule{"ocaml/database/xml_spaces.ml", "unprotect_fn", "f77e728883", "the decoder knows %_ %t %n %r %% only: %. stays as it is (CA-268761, 212fa24b6a, added %. in xapi 1.57, XS 7.3)"}},
	},
	"bad-ctime": {
		{0, Rule{"ocaml/database/db_xml.ml", "From.database", "2fc836f7eb", "__ctime and __mtime go through Int64.of_string: another value fails the load"}},
	},
	"bad-set-map": {
		{strictColumnsFrom - 1, Rule{"ocaml/database/string_unmarshall_helper.ml", "set / map", "f77e728883", "a set must be a list of quoted strings, a map a list of pairs of them; anything else raises Failure when the field is read"}},
		{0, Rule{"ocaml/database/schema.ml", "Value.unmarshal", "277c852834", "sets and maps are parsed at load (String_unmarshall_helper): a malformed one raises Failure and xapi does not start"}},
	},
}

// ruleFor returns the rule of reason code for a target schema.
func ruleFor(code string, schema int) (Rule, bool) {
	for _, e := range rules[code] {
		if e.upTo == 0 || schema <= e.upTo {
			return e.r, true
		}
	}
	return Rule{}, false
}

// TargetModel is what a target xapi knows and how it loads a database:
// its schema, its tables and columns (from a reference database it wrote,
// where that shows them, else from the datamodel history) and the rules of
// its era.
type TargetModel struct {
	Schema   int
	Releases []string // release-table names whose xapi writes Schema
	// Like is a database the target xapi wrote; nil when the target comes
	// from the release table or a schema number.
	Like *Summary
	// Datamodel is the history at Schema; nil only below the history.
	Datamodel *Datamodel
}

// NewTarget builds the model for schema 5.schema, with an optional
// reference database (whose schema then wins).
func NewTarget(schema int, like *Summary) (*TargetModel, error) {
	if like != nil {
		schema = like.SchemaMinor
	}
	t := &TargetModel{Schema: schema, Like: like}
	for _, r := range release.ForSchema(schema) {
		t.Releases = append(t.Releases, r.Name)
	}
	d, err := DatamodelAt(schema)
	if err != nil && like == nil {
		return nil, err
	}
	t.Datamodel = d
	return t, nil
}

// Known tables and columns come from one of these sources.
const (
	FromReference = "reference" // the reference's rows show them
	FromHistory   = "history"   // the datamodel history at the target's schema
)

// TableKnown reports whether the target knows table.
func (t *TargetModel) TableKnown(name string) bool {
	if t.Like != nil {
		return t.Like.Table(name) != nil
	}
	return t.Datamodel != nil && t.Datamodel.Table(name) != nil
}

// Tables lists the tables the target has (sorted).
func (t *TargetModel) Tables() []string {
	var out []string
	if t.Like != nil {
		for _, tb := range t.Like.Tables {
			out = append(out, tb.Name)
		}
	} else if t.Datamodel != nil {
		for _, tb := range t.Datamodel.Tables {
			out = append(out, tb.Name)
		}
	}
	sort.Strings(out)
	return out
}

// TableColumns is what the target knows of one table's columns.
type TableColumns struct {
	Source  string          // FromReference or FromHistory; "" when unknown
	Names   map[string]bool // the columns; nil when unknown
	History *Table          // the history's table (defaults, types), nil if none
}

// Columns returns the target's columns of table: the reference's when its
// table has rows (xapi writes every column in every row), else the
// history's at the target schema. Names is nil when neither says.
func (t *TargetModel) Columns(table string) TableColumns {
	var tc TableColumns
	if t.Datamodel != nil {
		tc.History = t.Datamodel.Table(table)
	}
	if t.Like != nil {
		if lt := t.Like.Table(table); lt != nil && lt.Rows > 0 {
			tc.Source, tc.Names = FromReference, map[string]bool{}
			for _, c := range lt.Columns {
				tc.Names[c] = true
			}
			return tc
		}
	}
	if tc.History != nil {
		tc.Source, tc.Names = FromHistory, map[string]bool{}
		for _, c := range tc.History.Columns {
			tc.Names[c.Name] = true
		}
	}
	return tc
}

// Default is what the target xapi fills into a row that lacks column:
// the datamodel default, "()" for Set(Ref _) columns from schema 62; ok is
// false when there is none.
func (t *TargetModel) Default(table, column string) (v string, ok bool) {
	if t.Datamodel == nil {
		return "", false
	}
	tb := t.Datamodel.Table(table)
	if tb == nil {
		return "", false
	}
	c := tb.Column(column)
	switch {
	case c == nil:
		return "", false
	case c.Default != nil:
		return *c.Default, true
	case c.Type == "setref" && t.Schema >= addDefaultsFrom:
		return "()", true
	}
	return "", false
}

// NeedsColumn reports whether a row without column stops or breaks the
// target: any column without a default from 5.6 on; up to 5.5 (no
// defaults filled at all) a persistent one — non-persistent fields are
// reset at start (blow_away_non_persistent_fields). The many side of a
// relation is never needed.
func (t *TargetModel) NeedsColumn(table, column string) bool {
	var c *Column
	if t.Datamodel != nil {
		if tb := t.Datamodel.Table(table); tb != nil {
			c = tb.Column(column)
		}
	}
	if c != nil && c.Type == "setref" && c.Relation {
		return false // the many side of a relation: never read from the row
	}
	if t.Schema < genericUpgradeFrom {
		return c == nil || c.Persist
	}
	_, ok := t.Default(table, column)
	return !ok
}

// The era rules.
func (t *TargetModel) StrictSchema() bool       { return t.Schema <= strictSchemaUpTo }
func (t *TargetModel) OldManifest() bool        { return t.Schema <= oldManifestUpTo }
func (t *TargetModel) CreatesTables() bool      { return t.Schema >= genericUpgradeFrom }
func (t *TargetModel) LegacySpaces() bool       { return t.Schema < modernSpacesFrom }
func (t *TargetModel) RefFirst() bool           { return t.Schema < refAnywhereFrom }
func (t *TargetModel) ParsesCTimes() bool       { return t.Schema >= ctimesFrom }
func (t *TargetModel) UnknownColumnFatal() bool { return t.Schema >= strictColumnsFrom }

// acceptsSchema reports whether a <= 5.5 target accepts a database of
// schema minor (its own, or its previous release's, which it upgrades).
func (t *TargetModel) acceptsSchema(minor int) bool {
	return minor == t.Schema || minor == lastRelease[t.Schema]
}

// Describe names the target for messages: "schema 5.108 (XenServer 7.1)".
func (t *TargetModel) Describe() string {
	s := fmt.Sprintf("schema 5.%d", t.Schema)
	switch len(t.Releases) {
	case 0:
		s += " (no release in the release table)"
	case 1:
		s += " (" + t.Releases[0] + ")"
	default:
		s += fmt.Sprintf(" (%s and %d more)", t.Releases[0], len(t.Releases)-1)
	}
	return s
}
