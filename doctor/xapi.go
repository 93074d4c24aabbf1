package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/statedb"
	"github.com/xsrescue/xsrescue/target"
)

const (
	ruleLoads    = "docs/statedb.md, which file xapi loads: restore_db.db wins outright; otherwise the existing file with the highest .generation among ha_metadata.db, gen_metadata.db and the db.conf paths"
	ruleSchema   = "docs/statedb.md, schema: the schema must be exactly the target xapi's; xapi <= 5.5 refuses a newer one (Schema_mismatch), later ones only warn but pool restore and slave sync need an exact match"
	ruleManifest = "docs/statedb.md, manifest: 12 manifest pairs for xapi <= 5.6 FP1 (schema <= 61), 3 from 6.0 on"
	ruleSpaces   = "docs/statedb.md, space encoding: xapi before 1.57 (XS <= 7.2) does not decode %. and shows it literally"
	ruleTables   = "docs/statedb.md, tables and columns: tables unknown to the target xapi are fatal in every era, unknown columns from 7.0 on; the authority is a database written by the target xapi"
)

// patchPlan is what the state.db needs, and where a reference database
// written by the target xapi was found (rule 15).
type patchPlan struct {
	target    release.Release
	refRoot   string // a path relative to the installation's root
	refBackup string // a path relative to the backup partition's root
	refSchema int
	reasons   []string
	loaded    string   // the database xapi loads, relative to the root
	dropData  []string // what the patch drops that holds data: --drop-data
	// refused: why statedb patch would refuse even with --drop-data
	// (statedb.PlanPatch's error); the plan then stops at a manual step
	refused string
	// hostMissing: host values the 12-pair manifest needs that neither the
	// database nor the root gives (statedb.HostKeys): "key: why".
	hostMissing []string
}

// dbFile is one database file seen through a root.
type dbFile struct {
	path    string
	summary *statedb.Summary
}

func (d *diag) statedb(ctx context.Context) error {
	root := d.in.Root
	if root == nil {
		return nil
	}
	loc, err := statedb.Locate(root)
	if err != nil {
		d.add("statedb-location", Warn, ruleLoads, "%v", err)
		return nil
	}
	if loc.Loads == "" {
		d.add("statedb-missing", Warn, ruleLoads, "no state.db in var/lib/xcp or var/xapi: xapi starts with an empty database (%s)", loc.Reason)
		return nil
	}
	d.add("statedb-location", OK, ruleLoads, "xapi loads %s: %s", loc.Loads, loc.Reason)
	for _, f := range loc.Files {
		if f.Role == statedb.RoleRestore {
			d.setAside = append(d.setAside, f.Path)
			d.add("statedb-restore-pending", Broken, ruleLoads, "%s exists: xapi loads only it at the next start and then deletes it", f.Path)
		}
	}
	if loaded := loc.Loaded(); loaded != nil {
		for _, c := range loc.Competitors(loaded.Path, genOf(loaded)) {
			if c.Role != statedb.RoleRestore {
				d.add("statedb-competitor", Warn, ruleLoads, "%s (%s) has a generation at least that of %s: xapi prefers it", c.Path, c.Role, loaded.Path)
			}
		}
	}
	if loc.Problem != "" {
		d.add("statedb-not-a-file", Broken, ruleLoads, "%s", loc.Problem)
		return nil
	}
	cur, err := summarize(root, loc.Loads)
	if err != nil {
		d.add("statedb-unreadable", Broken, "docs/statedb.md: xapi fails to start on a database it cannot parse", "%s: %v", loc.Loads, err)
		d.badByte = loneBadByte(root, loc.Loads, err)
		return nil
	}
	tgt := d.installed
	who := "the installed release"
	if d.installer != nil {
		r := d.installer.Release
		tgt, who = &r, "the target installer's release"
	}
	if tgt == nil {
		d.add("statedb-schema", Warn, ruleSchema, "%s has schema %d.%d; the inventory names no known release to compare with", loc.Loads, cur.SchemaMajor, cur.SchemaMinor)
		return nil
	}
	if !tgt.SchemaKnown() {
		d.add("statedb-schema", Warn, ruleSchema, "%s has schema %d.%d; the schema of %s is not known (no xapi source gives it): compare with a database its xapi wrote", loc.Loads, cur.SchemaMajor, cur.SchemaMinor, tgt.Name)
		return nil
	}
	pp := &patchPlan{target: *tgt, loaded: loc.Loads}
	writers := releaseNames(release.ForSchema(cur.SchemaMinor))
	switch {
	case cur.SchemaMinor > tgt.Schema:
		pp.reasons = append(pp.reasons, "schema")
		d.add("statedb-schema", Broken, ruleSchema, "%s has schema %d.%d (written by %s), newer than %d.%d of %s, %s", loc.Loads, cur.SchemaMajor, cur.SchemaMinor, writers, release.SchemaMajor, tgt.Schema, tgt.Name, who)
	case cur.SchemaMinor < tgt.Schema:
		d.add("statedb-schema", OK, ruleSchema, "%s has schema %d.%d (%s), older than %d of %s: its xapi upgrades it at start", loc.Loads, cur.SchemaMajor, cur.SchemaMinor, writers, tgt.Schema, tgt.Name)
	default:
		d.add("statedb-schema", OK, ruleSchema, "%s has schema %d.%d, that of %s", loc.Loads, cur.SchemaMajor, cur.SchemaMinor, tgt.Name)
	}
	if cur.SchemaMinor >= tgt.Schema {
		switch {
		case tgt.OldManifest() && !cur.Manifest.OldForm():
			pp.reasons = append(pp.reasons, "manifest")
			d.add("statedb-manifest", Broken, ruleManifest, "%s has the 3-pair manifest; xapi of %s needs all 12 (missing %s)", loc.Loads, tgt.Name, strings.Join(cur.Manifest.MissingOldKeys(), ", "))
		default:
			d.add("statedb-manifest", OK, ruleManifest, "%s has the manifest form xapi of %s reads (%d pairs)", loc.Loads, tgt.Name, len(cur.Manifest.Pairs))
		}
		if tgt.LegacySpaces() && cur.SpaceEncoding == "modern" {
			pp.reasons = append(pp.reasons, "encoding")
			d.add("statedb-encoding", Broken, ruleSpaces, "%s encodes spaces as %%. (xapi >= 1.57); xapi of %s would show them literally", loc.Loads, tgt.Name)
		}
	}
	if slices.Contains(pp.reasons, "manifest") {
		// statedb patch fills these from the root; without them it stops.
		if _, missing, err := statedb.HostKeys(root); err == nil {
			for k, why := range missing {
				if _, ok := cur.Manifest.Get(k); !ok {
					pp.hostMissing = append(pp.hostMissing, k+": "+why)
				}
			}
			sort.Strings(pp.hostMissing)
		}
		if len(pp.hostMissing) > 0 {
			d.add("statedb-host-keys", Broken, ruleManifest, "the 12-pair manifest xapi of %s needs host values that neither %s nor the root gives: %s", tgt.Name, loc.Loads, strings.Join(pp.hostMissing, "; "))
		}
	}
	d.findReference(root, loc.Loads, cur, pp)
	if len(pp.reasons) > 0 {
		d.patch = pp
	}
	return nil
}

// findReference looks for a database written by the target xapi: another
// state.db* file beside the loaded one (the fresh one xapi writes when it
// starts without a database), or the backup partition's database. With one,
// tables and columns the target does not know are findings.
func (d *diag) findReference(root *target.Root, loaded string, cur *statedb.Summary, pp *patchPlan) {
	var ref *dbFile
	resolvedLoaded, _ := root.Resolve(loaded)
	for _, dir := range []string{"var/lib/xcp", "var/xapi"} {
		entries, err := root.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			p := path.Join(dir, name)
			if !strings.HasPrefix(name, "state") || !strings.Contains(name, ".db") || strings.HasSuffix(name, statedb.GenSuffix) || !e.Type().IsRegular() {
				continue
			}
			if rp, _ := root.Resolve(p); rp == resolvedLoaded {
				continue
			}
			s, err := summarize(root, p)
			if err != nil || s.SchemaMinor != pp.target.Schema {
				continue
			}
			if ref == nil {
				ref = &dbFile{path: p, summary: s}
				pp.refRoot, pp.refSchema = p, s.SchemaMinor
			}
		}
	}
	if b := d.in.Backup; ref == nil && b != nil && b.DB != nil && b.DB.SchemaMinor == pp.target.Schema {
		ref = &dbFile{path: b.DBPath, summary: b.DB}
		pp.refBackup, pp.refSchema = b.DBPath, b.DB.SchemaMinor
	}
	if ref == nil {
		if len(pp.reasons) > 0 {
			d.add("statedb-reference", Warn, ruleTables, "no database written by xapi of %s (schema %d) in the root or on the backup partition: its tables and columns are taken from the datamodel history (statedb patch --to-release)", pp.target.Name, pp.target.Schema)
			d.patchOutcome(root, cur, statedb.Target{Schema: pp.target.Schema}, pp, fmt.Sprintf("statedb patch --to-release %s", pp.target.Product))
		}
		return
	}
	where := ref.path
	if pp.refBackup != "" {
		where = fmt.Sprintf("%s on the backup partition", ref.path)
	}
	diff := statedb.Compare(cur, ref.summary)
	if len(diff.TablesOnlyInA) > 0 {
		pp.reasons = append(pp.reasons, "tables")
		d.add("statedb-unknown-tables", Broken, ruleTables, "tables in %s that xapi of %s does not have (per %s): %s", loaded, pp.target.Name, where, strings.Join(diff.TablesOnlyInA, ", "))
	}
	if n := len(diff.ColumnsOnlyInA); n > 0 {
		sev := Warn
		if pp.target.UnknownColumnFatal() {
			sev = Broken
			pp.reasons = append(pp.reasons, "columns")
		}
		var cols []string
		for t, cs := range diff.ColumnsOnlyInA {
			for _, c := range cs {
				cols = append(cols, t+"."+c)
			}
		}
		sortStrings(cols)
		d.add("statedb-unknown-columns", sev, ruleTables, "columns in %s that xapi of %s does not have (per %s): %s", loaded, pp.target.Name, where, limit(cols, 12))
	}
	// What the patch would drop that holds data, as the patch plans it: it
	// also knows the columns of the reference's empty tables (from the
	// datamodel history), which the diff cannot compare.
	d.patchOutcome(root, cur, statedb.Target{Like: ref.summary}, pp, "statedb patch --like")
	if len(pp.reasons) == 0 {
		d.add("statedb-reference", OK, ruleTables, "%s (schema %d) matches the tables and columns of %s", loaded, cur.SchemaMinor, where)
	}
}

// patchOutcome runs the plan computation of the statedb patch the plan
// would call (how names it): what it drops that holds data, a finding
// naming each table and column, and whether it would refuse even with
// --drop-data — so that the plan never holds a step that refuses.
func (d *diag) patchOutcome(root *target.Root, cur *statedb.Summary, t statedb.Target, pp *patchPlan, how string) {
	if values, missing, err := statedb.HostKeys(root); err == nil {
		t.Host, t.HostMissing = values, missing
	}
	if p, _ := statedb.PlanPatch(cur, t, statedb.PatchOptions{}); p != nil {
		pp.dropData = p.Losses()
	}
	if len(pp.dropData) > 0 {
		d.add("statedb-data-loss", Warn, ruleTables, "%s drops what xapi of %s does not have or cannot read back, and it holds data: %s; it needs --drop-data, the user's decision", how, pp.target.Name, limit(pp.dropData, 12))
	}
	if _, err := statedb.PlanPatch(cur, t, statedb.PatchOptions{DropData: true}); err != nil {
		pp.refused = err.Error()
	}
}

func summarize(root *target.Root, p string) (*statedb.Summary, error) {
	f, err := root.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return statedb.Scan(bufio.NewReaderSize(f, 1<<20))
}

func genOf(f *statedb.SideFile) int64 {
	if f.Generation == nil {
		return 0
	}
	return *f.Generation
}

func releaseNames(rs []release.Release) string {
	if len(rs) == 0 {
		return "no known release"
	}
	var s []string
	for _, r := range rs {
		s = append(s, r.Name)
	}
	return strings.Join(s, ", ")
}

func limit(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(s[:n], ", "), len(s)-n)
}

func statOK(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// badByte is one byte in a column value that xmlm cannot decode, followed
// by ASCII: a character written in another encoding (Latin-1, most often)
// into an otherwise sound database. Fixing that byte is enough; putting
// back a whole database loses everything since the copy was made.
type badByte struct {
	path string // relative to the root
	at   *statedb.SyntaxError
	b    byte
}

// loneBadByte is the badByte err reports, or nil for any other damage (a
// longer bad sequence, a byte outside a value, a compressed file: the
// general remedy then).
func loneBadByte(root *target.Root, p string, err error) *badByte {
	var se *statedb.SyntaxError
	if !errors.As(err, &se) || !se.Chars || se.Compressed || se.Table == "" || se.Row == 0 || se.Attr == "" {
		return nil
	}
	f, ferr := root.Open(p)
	if ferr != nil {
		return nil
	}
	defer f.Close()
	if _, err := io.CopyN(io.Discard, f, se.Offset); err != nil {
		return nil
	}
	two := make([]byte, 2)
	if _, err := io.ReadFull(f, two); err != nil || two[0] < 0x80 || two[1] >= 0x80 {
		return nil
	}
	return &badByte{path: p, at: se, b: two[0]}
}
