package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/statedb"
	"github.com/xsrescue/xsrescue/target"
)

func init() {
	register(func() *cli.Command {
		return &cli.Command{
			Name:  "statedb",
			Usage: "show, compare and patch xapi's database (state.db) so that an older xapi starts",
			Description: "xapi keeps its whole database in one XML file (/var/lib/xcp/state.db, /var/xapi/state.db up\n" +
				"to XS 6.2). An older xapi refuses a database a newer one wrote: unknown tables and columns,\n" +
				"the manifest form, the space encoding. These commands stream the file (gzip too), so a\n" +
				"100 MB database needs a few MB of memory. See docs/statedb.md.",
			Commands: []*cli.Command{statedbShowCommand(), statedbDiffCommand(), statedbPatchCommand()},
		}
	})
}

func statedbShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "manifest, releases, tables and the side files that decide what xapi loads",
		ArgsUsage: "[FILE]",
		Description: "With FILE (a path on the rescue system) shows that database. With --root/--disk finds the\n" +
			"file xapi would load the way xapi does: etc/xensource/db.conf, /var/lib/xcp and /var/xapi,\n" +
			"ha_metadata.db and gen_metadata.db (highest .generation wins, ties to ha_metadata),\n" +
			"restore_db.db (wins outright); lists every candidate and says which one and why.\n" +
			"Read-only: never writes a byte.\n\n" + exitHelp,
		Flags:  targetFlags(),
		Action: runStatedbShow,
	}
}

// statedbTable is one table of `statedb show --json`.
type statedbTable struct {
	Name    string   `json:"name"`
	Rows    int      `json:"rows"`
	Columns []string `json:"columns"`
}

// statedbShowDoc is the JSON document of `statedb show` (docs/json.md).
type statedbShowDoc struct {
	Path          string             `json:"path"`
	Root          *string            `json:"root"`
	Size          int64              `json:"size"`
	XMLBytes      int64              `json:"xml_bytes"`
	Compressed    bool               `json:"compressed"`
	SchemaMajor   int                `json:"schema_major"`
	SchemaMinor   int                `json:"schema_minor"`
	Generation    int64              `json:"generation"`
	ManifestForm  string             `json:"manifest_form"`
	Manifest      map[string]string  `json:"manifest"`
	Releases      []string           `json:"releases"`
	SpaceEncoding *string            `json:"space_encoding"`
	Tables        []statedbTable     `json:"tables"`
	SideFiles     []statedb.SideFile `json:"side_files"`
	XapiLoads     *string            `json:"xapi_loads"`
	Reason        string             `json:"reason"`
	Problems      []string           `json:"problems"`
}

func runStatedbShow(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 0, 1)
	if err != nil {
		return err
	}
	doc := statedbShowDoc{SideFiles: []statedb.SideFile{}, Problems: []string{}}
	var f fs.File
	switch {
	case len(a) == 1 && (cmd.String("root") != "" || cmd.String("disk") != ""):
		return usageError{fmt.Errorf("statedb show: give FILE or --root/--disk, not both")}
	case len(a) == 1:
		if f, err = os.Open(a[0]); err != nil {
			return xerr.Invalid(err)
		}
		doc.Path = a[0]
		doc.Reason = "a plain file: which file xapi loads is decided inside a root (use --root or --disk)"
		if g, err := os.ReadFile(a[0] + statedb.GenSuffix); err == nil {
			sf := statedb.SideFile{Path: a[0] + statedb.GenSuffix, Role: "generation", Size: int64(len(g))}
			if n, err := strconv.ParseInt(strings.TrimSpace(string(g)), 10, 64); err == nil {
				sf.Generation = &n
			}
			doc.SideFiles = append(doc.SideFiles, sf)
		}
	default:
		tgt, err := openTarget(ctx, cmd, false)
		if err != nil {
			return err
		}
		defer tgt.Close()
		loc, err := statedb.Locate(tgt.Root)
		if err != nil {
			return xerr.Invalid(err)
		}
		dir := tgt.Root.Dir()
		doc.Root, doc.SideFiles, doc.Reason = &dir, loc.Files, loc.Reason
		for i := range doc.SideFiles {
			doc.SideFiles[i].Path = "/" + doc.SideFiles[i].Path
		}
		if loc.Loads == "" {
			return xerr.Invalidf("%s: no xapi database: %s", tgt.Name(), loc.Reason)
		}
		doc.Path = "/" + loc.Loads
		doc.XapiLoads = &doc.Path
		if f, err = tgt.Root.Open(loc.Loads); err != nil {
			return err
		}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		doc.Size = st.Size()
	}
	s, err := statedb.Scan(withProgress(cmd, f, doc.Size, "reading "+doc.Path))
	if err != nil {
		return xerr.Invalid(fmt.Errorf("%s: %w", doc.Path, err))
	}
	fillShowDoc(&doc, s)
	return output(cmd).Emit(doc, func(w io.Writer) error { return printStatedbShow(w, &doc) })
}

func fillShowDoc(doc *statedbShowDoc, s *statedb.Summary) {
	doc.XMLBytes, doc.Compressed = s.Bytes, s.Compressed
	doc.SchemaMajor, doc.SchemaMinor, doc.Generation = s.SchemaMajor, s.SchemaMinor, s.Generation
	doc.Manifest = s.Manifest.Map()
	doc.ManifestForm = "current"
	if s.Manifest.OldForm() {
		doc.ManifestForm = "old"
	}
	if s.SpaceEncoding != "" {
		doc.SpaceEncoding = &s.SpaceEncoding
	}
	doc.Releases = []string{}
	for _, r := range release.ForSchema(s.SchemaMinor) {
		doc.Releases = append(doc.Releases, strings.TrimSuffix(r.Product, ".0"))
	}
	if len(doc.Releases) == 0 {
		doc.Problems = append(doc.Problems, fmt.Sprintf("no release in the release table writes schema 5.%d", s.SchemaMinor))
	}
	if s.SchemaMinor <= 61 && len(s.Manifest.MissingOldKeys()) > 0 {
		doc.Problems = append(doc.Problems, fmt.Sprintf("schema 5.%d is read by xapi <= 5.6 FP1, which needs the 12-pair manifest; missing: %s",
			s.SchemaMinor, strings.Join(s.Manifest.MissingOldKeys(), ", ")))
	}
	if s.SpaceEncoding == "mixed" {
		doc.Problems = append(doc.Problems, "values use both literal spaces and %. (written by two xapi generations?)")
	}
	doc.Problems = append(doc.Problems, s.Problems...)
	doc.Tables = make([]statedbTable, 0, len(s.Tables))
	for _, t := range s.Tables {
		if n := len(t.DuplicateRefs); n > 0 {
			doc.Problems = append(doc.Problems, fmt.Sprintf("table %s: %d row(s) repeat a ref (%s): xapi keys rows by ref and keeps only one of each",
				t.Name, n, strings.Join(t.DuplicateRefs[:min(n, 5)], ", ")))
		}
		cols := t.Columns
		if cols == nil {
			cols = []string{}
		}
		doc.Tables = append(doc.Tables, statedbTable{Name: t.Name, Rows: t.Rows, Columns: cols})
	}
	if doc.XapiLoads != nil {
		var loaded *statedb.SideFile
		for i := range doc.SideFiles {
			if doc.SideFiles[i].Path == *doc.XapiLoads {
				loaded = &doc.SideFiles[i]
			}
		}
		if loaded != nil && loaded.Generation != nil && *loaded.Generation != s.Generation {
			doc.Problems = append(doc.Problems, fmt.Sprintf("%s.generation says %d, the manifest's generation_count is %d", doc.Path, *loaded.Generation, s.Generation))
		}
		if loaded != nil && loaded.Role == statedb.RoleDBConf && loaded.Compress != s.Compressed {
			doc.Problems = append(doc.Problems, fmt.Sprintf("db.conf says compress:%v but the file is %s: xapi reads it through gzip only when compress:true",
				loaded.Compress, map[bool]string{true: "gzip-compressed", false: "plain XML"}[s.Compressed]))
		}
	}
}

func printStatedbShow(w io.Writer, d *statedbShowDoc) error {
	fmt.Fprintf(w, "%s\n", d.Path)
	form := "uncompressed"
	if d.Compressed {
		form = "gzip-compressed"
	}
	fmt.Fprintf(w, "  size %d bytes (%s, %d bytes of XML)\n", d.Size, form, d.XMLBytes)
	rels := "no known release"
	if len(d.Releases) > 0 {
		rels = "XenServer " + strings.Join(d.Releases, ", ")
	}
	fmt.Fprintf(w, "  schema %d.%d: written by %s\n", d.SchemaMajor, d.SchemaMinor, rels)
	enc := "no value with a space"
	if d.SpaceEncoding != nil {
		enc = *d.SpaceEncoding
	}
	fmt.Fprintf(w, "  generation %d; space encoding %s\n", d.Generation, enc)
	fmt.Fprintf(w, "  manifest (%s form, %d pairs):\n", d.ManifestForm, len(d.Manifest))
	keys := make([]string, 0, len(d.Manifest))
	for k := range d.Manifest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "    %-22s %s\n", k, d.Manifest[k])
	}
	fmt.Fprintf(w, "  %d tables:\n", len(d.Tables))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "    TABLE\tROWS\tCOLUMNS")
	for _, t := range d.Tables {
		fmt.Fprintf(tw, "    %s\t%d\t%d\n", t.Name, t.Rows, len(t.Columns))
	}
	tw.Flush()
	if len(d.SideFiles) > 0 {
		fmt.Fprintln(w, "  candidate files:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "    ROLE\tPATH\tGENERATION\tSIZE")
		for _, f := range d.SideFiles {
			g := "-"
			if f.Generation != nil {
				g = strconv.FormatInt(*f.Generation, 10)
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%d\n", f.Role, f.Path, g, f.Size)
		}
		tw.Flush()
	}
	if d.XapiLoads != nil {
		fmt.Fprintf(w, "  xapi loads %s: %s\n", *d.XapiLoads, d.Reason)
	} else {
		fmt.Fprintf(w, "  %s\n", d.Reason)
	}
	for _, p := range d.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	return nil
}

func statedbDiffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two databases: manifest, tables, columns, row counts (and rows with --rows)",
		ArgsUsage: "A B",
		Description: "The comparison an engineer makes by eye between the database a newer xapi left and the\n" +
			"fresh one the older xapi creates: manifest differences, tables and columns only in one of\n" +
			"them, row counts. --rows adds rows added, removed and changed by ref, with the changed\n" +
			"fields' decoded values (the space encoding and XML escaping do not count as changes).\n" +
			"Columns are compared only for tables with rows on both sides. Memory grows with the\n" +
			"number of rows, not the file size. Read-only.\n\n" + exitHelp,
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "rows", Usage: "also compare rows by ref (three more passes over the files)"}},
		Action: runStatedbDiff,
	}
}

func openFile(path string) statedb.Opener {
	return func() (io.ReadCloser, error) { return os.Open(path) }
}

// withProgress shows a progress bar on a terminal (never with --json) while
// a large database is read.
func withProgress(cmd *cli.Command, r io.Reader, size int64, what string) io.Reader {
	o := output(cmd)
	if o.JSON || size < 8<<20 || !isTerminal(o.Stderr()) {
		return r
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(o.Stderr()),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionClearOnFinish(),
	)
	pr := progressbar.NewReader(r, bar)
	return &pr
}

func scanPath(cmd *cli.Command, path string) (*statedb.Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	s, err := statedb.Scan(withProgress(cmd, f, size, "reading "+path))
	if err != nil {
		return nil, xerr.Invalid(fmt.Errorf("%s: %w", path, err))
	}
	return s, nil
}

func runStatedbDiff(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 2, 2)
	if err != nil {
		return err
	}
	sa, err := scanPath(cmd, a[0])
	if err != nil {
		return err
	}
	sb, err := scanPath(cmd, a[1])
	if err != nil {
		return err
	}
	d := statedb.Compare(sa, sb)
	if cmd.Bool("rows") {
		if err := statedb.DiffRows(d, openFile(a[0]), openFile(a[1])); err != nil {
			return xerr.Invalid(err)
		}
	}
	return output(cmd).Emit(d, func(w io.Writer) error { return printStatedbDiff(w, a[0], a[1], d) })
}

func sideString(p *string) string {
	if p == nil {
		return "(absent)"
	}
	return strconv.Quote(*p)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func printStatedbDiff(w io.Writer, a, b string, d *statedb.Diff) error {
	fmt.Fprintf(w, "A: %s\nB: %s\n", a, b)
	if d.Equal() {
		fmt.Fprintln(w, "no differences")
		return nil
	}
	if len(d.Manifest) > 0 {
		fmt.Fprintln(w, "manifest:")
		for _, k := range sortedKeys(d.Manifest) {
			fmt.Fprintf(w, "  %s: %s -> %s\n", k, sideString(d.Manifest[k].A), sideString(d.Manifest[k].B))
		}
	}
	if len(d.TablesOnlyInA) > 0 {
		fmt.Fprintf(w, "tables only in A: %s\n", strings.Join(d.TablesOnlyInA, ", "))
	}
	if len(d.TablesOnlyInB) > 0 {
		fmt.Fprintf(w, "tables only in B: %s\n", strings.Join(d.TablesOnlyInB, ", "))
	}
	for _, side := range []struct {
		name string
		m    map[string][]string
	}{{"A", d.ColumnsOnlyInA}, {"B", d.ColumnsOnlyInB}} {
		if len(side.m) == 0 {
			continue
		}
		fmt.Fprintf(w, "columns only in %s:\n", side.name)
		for _, t := range sortedKeys(side.m) {
			fmt.Fprintf(w, "  %s: %s\n", t, strings.Join(side.m[t], ", "))
		}
	}
	header := false
	for _, t := range sortedKeys(d.Rows) {
		c := d.Rows[t]
		if c.A != nil && c.B != nil && *c.A == *c.B {
			continue
		}
		if !header {
			fmt.Fprintln(w, "row counts that differ (A -> B):")
			header = true
		}
		fmt.Fprintf(w, "  %s: %s -> %s\n", t, countString(c.A), countString(c.B))
	}
	for _, t := range sortedKeys(d.RowChanges) {
		rc := d.RowChanges[t]
		if len(rc.Added)+len(rc.Removed)+len(rc.Changed) == 0 {
			continue
		}
		fmt.Fprintf(w, "rows of %s: %d added, %d removed, %d changed\n", t, len(rc.Added), len(rc.Removed), len(rc.Changed))
		for _, r := range rc.Added {
			fmt.Fprintf(w, "  + %s\n", r)
		}
		for _, r := range rc.Removed {
			fmt.Fprintf(w, "  - %s\n", r)
		}
		for _, r := range sortedKeys(rc.Changed) {
			fmt.Fprintf(w, "  ~ %s\n", r)
			for _, c := range sortedKeys(rc.Changed[r]) {
				v := rc.Changed[r][c]
				fmt.Fprintf(w, "      %s: %s -> %s\n", c, sideString(v.A), sideString(v.B))
			}
		}
	}
	return nil
}

func countString(n *int) string {
	if n == nil {
		return "(no table)"
	}
	return strconv.Itoa(*n)
}

func statedbPatchCommand() *cli.Command {
	return &cli.Command{
		Name:      "patch",
		Usage:     "rewrite a database so that an older xapi loads it",
		ArgsUsage: "[FILE]",
		Description: "Rewrites the database for the target xapi: schema_minor_vsn set to exactly the target's\n" +
			"(never lower: upgrade rules key on it; never left higher), tables and columns the target does\n" +
			"not know removed, the 12-pair manifest for targets up to 5.6 FP1 (host values from the\n" +
			"inventory, pool.conf and ptoken), __ctime/__mtime removed below schema 63, spaces re-encoded\n" +
			"for xapi < 1.57 (XS 7.2 and older), .generation updated, gzip kept.\n\n" +
			"The target: --like REF.db takes schema, manifest form, tables and columns from a database the\n" +
			"target xapi wrote (the fresh one it creates when started without one, or the older one on the\n" +
			"backup partition). --to-release R / --to-schema 5.N alone set the manifest and encoding only:\n" +
			"without --like the target's tables and columns cannot be known, so nothing is dropped and\n" +
			"the tables and columns suspected from the datamodel history are listed.\n\n" +
			"With --root/--disk the file xapi loads (statedb show) is patched, so that the patch takes\n" +
			"effect (restore_db.db excepted: then the db.conf database is patched); --file picks another.\n" +
			"The .generation is never lowered. Files xapi would load instead of the patched one\n" +
			"(restore_db.db, or a higher .generation) are reported, and renamed to *" + statedb.AsideSuffix + "\n" +
			"with --set-aside.\n" +
			"FILE patches a plain file (its directory is the journal's root, so the op can be undone too).\n\n" +
			"--output OUT writes the patched database to the new file OUT (or to stdout with -) and changes\n" +
			"nothing else: the database, its .generation and the side files stay as they are, so there is\n" +
			"nothing to journal. OUT must not exist (exit 3): nothing is overwritten. Use it to inspect the\n" +
			"result first, to patch from read-only media, or to keep the original elsewhere.\n\n" +
			"WARNING: the target xapi loses what is dropped. Dropping a table with rows or a column with\n" +
			"values is refused unless --drop-data; the refusal lists what would be lost. Run with\n" +
			"--dry-run first; the op can be undone byte for byte with xsrescue journal undo.\n\n" + exitHelp,
		Flags: append(targetFlags(),
			&cli.StringFlag{Name: "like", Usage: "a database `REF.db` written by the target xapi (gzip accepted)"},
			&cli.StringFlag{Name: "to-release", Usage: "target release `R` (product version or codename, e.g. 5.0, george, 7.1)"},
			&cli.StringFlag{Name: "to-schema", Usage: "target schema `5.N` (e.g. 5.55, or 109 for a 7.1 CU)"},
			&cli.BoolFlag{Name: "drop-data", Usage: "allow dropping tables with rows and columns with values"},
			&cli.BoolFlag{Name: "set-aside", Usage: "rename the files xapi would load instead of the patched one (through the journal)"},
			&cli.StringFlag{Name: "file", Usage: "with --root/--disk: patch `PATH` inside the root instead of the file xapi loads"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the patched database to the new file `OUT` (- for stdout) instead of in place"},
		),
		Action: runStatedbPatch,
	}
}

// statedbPatchDoc is the JSON document of `statedb patch` (docs/json.md).
type statedbPatchDoc struct {
	Path           string                 `json:"path"`
	Root           string                 `json:"root"`
	Compressed     bool                   `json:"compressed"`
	ManifestBefore map[string]string      `json:"manifest_before"`
	ManifestAfter  map[string]string      `json:"manifest_after"`
	Patch          *statedb.Patch         `json:"patch"`
	Competitors    []statedb.SideFile     `json:"competitors"`
	SetAside       bool                   `json:"set_aside"`
	DryRun         bool                   `json:"dry_run"`
	Op             *journal.Result        `json:"op"`
	Output         *patchOutput           `json:"output"`
	Plan           []journal.ChangeResult `json:"plan"`
}

// patchOutput is what `statedb patch --output` wrote.
type patchOutput struct {
	Path       string `json:"path"` // "-" for stdout
	Bytes      int64  `json:"bytes"`
	SHA256     string `json:"sha256"`
	Generation int64  `json:"generation"` // what the .generation beside it must say
}

// statedbTarget builds the patch target from --like / --to-release / --to-schema.
func statedbTarget(cmd *cli.Command) (statedb.Target, error) {
	var t statedb.Target
	like, rel, schema := cmd.String("like"), cmd.String("to-release"), cmd.String("to-schema")
	n := 0
	for _, s := range []string{like, rel, schema} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return t, usageError{fmt.Errorf("statedb patch: give exactly one of --like REF.db, --to-release R, --to-schema 5.N")}
	}
	switch {
	case like != "":
		s, err := scanPath(cmd, like)
		if err != nil {
			return t, err
		}
		t.Like = s
	case rel != "":
		r, ok := release.Lookup(rel)
		if !ok {
			return t, xerr.Invalidf("--to-release %q: not in the release table (xsrescue knows 4.0 to 8.4, XCP-ng 8.3, by version or codename)", rel)
		}
		t.Schema = r.Schema
	default:
		v := strings.TrimPrefix(schema, strconv.Itoa(release.SchemaMajor)+".")
		m, err := strconv.Atoi(v)
		if err != nil || m <= 0 {
			return t, xerr.Invalidf("--to-schema %q: expected 5.N (e.g. 5.55)", schema)
		}
		t.Schema = m
	}
	return t, nil
}

func runStatedbPatch(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 0, 1)
	if err != nil {
		return err
	}
	t, err := statedbTarget(cmd)
	if err != nil {
		return err
	}
	o := output(cmd)
	out := cmd.String("output")
	switch {
	case out == "-" && o.JSON:
		return usageError{fmt.Errorf("statedb patch: --output - writes the database to stdout, which --json needs too; give a file")}
	case out != "" && cmd.Bool("set-aside"):
		return usageError{fmt.Errorf("statedb patch: --set-aside renames files in the root; --output changes nothing there")}
	}
	if out != "" && out != "-" {
		// Checked before the database is read: a bad OUT is known at once.
		if _, err := os.Lstat(out); err == nil {
			return xerr.Refusedf("--output %s already exists: nothing was written (give a new name)", out)
		}
		if fi, err := os.Stat(filepath.Dir(out)); err != nil || !fi.IsDir() {
			return usageError{fmt.Errorf("statedb patch: --output %s: %s is not a directory", out, filepath.Dir(out))}
		}
	}
	report := o.Stdout()
	if out == "-" {
		report = o.Stderr()
	}
	var (
		tgt   *target.Target
		loc   *statedb.Location
		path  string
		shown string // the path as the user knows it
	)
	switch {
	case len(a) == 1 && (cmd.String("root") != "" || cmd.String("disk") != ""):
		return usageError{fmt.Errorf("statedb patch: give FILE or --root/--disk, not both")}
	case len(a) == 1:
		abs, err := filepath.Abs(a[0])
		if err != nil {
			return err
		}
		root, err := target.OpenRoot(filepath.Dir(abs))
		if err != nil {
			return err
		}
		tgt = &target.Target{Root: root, Identity: filepath.Dir(abs)}
		defer tgt.Close()
		path, shown = filepath.Base(abs), abs
	default:
		if tgt, err = openTarget(ctx, cmd, !cmd.Bool("dry-run") && out == ""); err != nil {
			return err
		}
		defer tgt.Close()
		if loc, err = statedb.Locate(tgt.Root); err != nil {
			return xerr.Invalid(err)
		}
		path = strings.TrimPrefix(cmd.String("file"), "/")
		if path == "" {
			path = loc.PatchTarget()
		}
		if path == "" {
			return xerr.Invalidf("%s: no xapi database: %s", tgt.Name(), loc.Reason)
		}
		shown = "/" + path
		if t.Host, t.HostMissing, err = statedb.HostKeys(tgt.Root); err != nil {
			return err
		}
	}
	rp, err := statedb.PlanRoot(tgt.Root, loc, path, t, statedb.PatchOptions{DropData: cmd.Bool("drop-data")}, cmd.Bool("set-aside"))
	if se := (*statedb.SyntaxError)(nil); len(a) == 1 && errors.As(err, &se) {
		// PlanRoot names the file inside its root ("/x.db"); FILE is named
		// as the user gave it.
		err = xerr.Invalid(fmt.Errorf("%s: %w", shown, se))
	}
	if rp != nil && !o.JSON {
		printStatedbPatch(report, shown, rp)
	}
	if err != nil {
		return err
	}
	// The changes an in-place patch makes (or would make: --dry-run), taken
	// before they are applied; --output changes nothing in the root.
	plan := []journal.ChangeResult{}
	if o.JSON && out == "" {
		if plan, err = journal.Describe(tgt.Root, rp.Plan); err != nil {
			return err
		}
	}
	var res *journal.Result
	var wrote *patchOutput
	if out != "" {
		wrote, err = writePatched(ctx, cmd, tgt.Root, path, rp, out)
		if err != nil {
			return err
		}
		if wrote != nil && !o.JSON {
			fmt.Fprintf(report, "Wrote the patched database to %s (%d bytes, sha256 %s); %s is unchanged.\n", outName(out), wrote.Bytes, wrote.SHA256, shown)
			fmt.Fprintf(report, "To use it: put it in place of %s and write %d (no newline) to %s%s, or run this command without --output, which does both through the journal.\n", shown, wrote.Generation, shown, statedb.GenSuffix)
		}
	} else if res, err = applyPlan(ctx, cmd, tgt, rp.Plan); err != nil {
		return err
	}
	if !o.JSON {
		return nil
	}
	doc := statedbPatchDoc{
		Path: shown, Root: tgt.Root.Dir(), Compressed: rp.Compressed,
		ManifestBefore: rp.Patch.ManifestBefore.Map(), ManifestAfter: rp.Patch.ManifestAfter.Map(),
		Patch: rp.Patch, Competitors: rp.Competitors, SetAside: rp.SetAside, DryRun: cmd.Bool("dry-run"), Op: res, Output: wrote,
	}
	doc.Plan = plan
	for i := range doc.Competitors {
		doc.Competitors[i].Path = "/" + doc.Competitors[i].Path
	}
	return o.Emit(doc, nil)
}

// writePatched streams the patched database (gzip kept) to the new file out,
// or to stdout for "-". The file is created exclusively, fsynced, and removed
// again if anything fails, so a partial copy is never left under its name.
// A dry run writes nothing and returns nil.
func writePatched(ctx context.Context, cmd *cli.Command, root *target.Root, path string, rp *statedb.RootPatch, out string) (*patchOutput, error) {
	if cmd.Bool("dry-run") {
		output(cmd).Logf("dry run: nothing was written (the patched database would go to %s)", outName(out))
		return nil, nil
	}
	src, err := rp.Patch.Stream(func() (io.ReadCloser, error) { return root.Open(path) }, rp.Compressed)()
	if err != nil {
		return nil, err
	}
	defer src.Close()
	n, sum, err := writeNewFile(ctx, cmd, out, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &patchOutput{Path: out, Bytes: n, SHA256: sum, Generation: rp.Patch.Generation}, nil
}

func outName(out string) string {
	if out == "-" {
		return "stdout"
	}
	return out
}

func printStatedbPatch(w io.Writer, shown string, rp *statedb.RootPatch) {
	p := rp.Patch
	rels := strings.Join(p.ToReleases, ", ")
	if rels == "" {
		rels = "no known release"
	}
	fmt.Fprintf(w, "Patch %s: schema 5.%d -> 5.%d (%s)\n", shown, p.FromSchema, p.ToSchema, rels)
	before, after := p.ManifestBefore.Map(), p.ManifestAfter.Map()
	form := "current 3-pair"
	if p.OldManifest {
		form = "old 12-pair"
	}
	fmt.Fprintf(w, "manifest (%s form):\n", form)
	for _, pr := range p.ManifestBefore.Pairs {
		if v, ok := after[pr.Key]; !ok {
			fmt.Fprintf(w, "  - %s=%s\n", pr.Key, pr.Value)
		} else if v != pr.Value {
			fmt.Fprintf(w, "  ~ %s=%s -> %s\n", pr.Key, pr.Value, v)
		}
	}
	for _, pr := range p.ManifestAfter.Pairs {
		if _, ok := before[pr.Key]; !ok {
			fmt.Fprintf(w, "  + %s=%s\n", pr.Key, pr.Value)
		}
	}
	for _, d := range p.DropTables {
		fmt.Fprintf(w, "drop table %s (%d rows)\n", d.Table, d.Rows)
	}
	for _, d := range p.DropColumns {
		fmt.Fprintf(w, "drop column %s.%s (%d rows with a value)\n", d.Table, d.Column, d.RowsWithData)
	}
	for _, t := range p.AddTables {
		fmt.Fprintf(w, "add empty table %s (the target has it)\n", t)
	}
	for _, m := range p.Missing {
		fmt.Fprintf(w, "missing column %s.%s (the target has it; xapi fills its default if it has one)\n", m.Table, m.Column)
	}
	for _, s := range p.Suspected {
		if s.Column == "" {
			fmt.Fprintf(w, "suspected unknown to the target (kept): table %s (%d rows)\n", s.Table, s.RowsWithData)
		} else {
			fmt.Fprintf(w, "suspected unknown to the target (kept): column %s.%s (%d rows with a value)\n", s.Table, s.Column, s.RowsWithData)
		}
	}
	if p.DropCTimes {
		fmt.Fprintln(w, "rows lose __ctime/__mtime (target below schema 63)")
	}
	if p.Reencode {
		fmt.Fprintln(w, "values re-encoded for xapi < 1.57: single spaces literal, double spaces %_")
	}
	for _, c := range rp.Competitors {
		act := "pass --set-aside to rename it"
		if rp.SetAside {
			act = "renamed to *" + statedb.AsideSuffix
		}
		fmt.Fprintf(w, "WARNING: /%s (%s) would be loaded instead: %s\n", c.Path, c.Role, act)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
