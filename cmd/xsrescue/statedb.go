package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/ctxio"
	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/statedb"
	"github.com/xsrescue/xsrescue/target"
)

func init() {
	register(func() *cli.Command {
		return &cli.Command{
			Name:  "statedb",
			Usage: "show, compare, check and patch xapi's database (state.db) so that an older xapi starts",
			Description: "xapi keeps its whole database in one XML file (/var/lib/xcp/state.db, /var/xapi/state.db up\n" +
				"to XS 6.2). An older xapi refuses a database a newer one wrote: unknown tables and columns,\n" +
				"the manifest form, the space encoding. These commands stream the file (gzip too), so a\n" +
				"100 MB database needs a few MB of memory; --max-size bounds what they read. What each\n" +
				"release's xapi knows comes from its datamodel (generated from xen-api). See docs/statedb.md.",
			Commands: []*cli.Command{statedbShowCommand(), statedbDiffCommand(), statedbCheckCommand(), statedbPatchCommand()},
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
		Flags:  append(targetFlags(), maxSizeFlag()),
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
	ReleaseNames  []string           `json:"release_names"`
	SpaceEncoding *string            `json:"space_encoding"`
	Tables        []statedbTable     `json:"tables"`
	SideFiles     []statedb.SideFile `json:"side_files"`
	XapiLoads     *string            `json:"xapi_loads"`
	Reason        string             `json:"reason"`
	Problems      []string           `json:"problems"`
}

// statedbInput is the database a read-only statedb command reads: FILE as
// given, or the file xapi loads inside --root/--disk (statedb.Locate).
type statedbInput struct {
	fs.File
	Path string            // FILE, or "/"-rooted inside the root
	Root *string           // nil for FILE; "" for --disk (read in-process)
	Loc  *statedb.Location // nil for FILE
	Size int64
	tgt  *target.Target
}

func (in *statedbInput) Close() {
	in.File.Close()
	if in.tgt != nil {
		in.tgt.Close()
	}
}

func openStatedbInput(ctx context.Context, cmd *cli.Command, verb string, a []string) (*statedbInput, error) {
	in := &statedbInput{}
	var err error
	switch {
	case len(a) == 1 && (cmd.String("root") != "" || cmd.String("disk") != ""):
		return nil, usageError{fmt.Errorf("statedb %s: give FILE or --root/--disk, not both", verb)}
	case len(a) == 1:
		f, err := infile.Open(a[0], infile.File)
		if err != nil {
			return nil, xerr.Invalid(err)
		}
		in.File = f
		in.Path = a[0]
	case cmd.String("root") == "" && cmd.String("disk") == "":
		return nil, usageError{fmt.Errorf("statedb %s: give FILE, --root DIR or --disk DISK", verb)}
	default:
		if in.tgt, err = openTarget(ctx, cmd, false); err != nil {
			return nil, err
		}
		if in.Loc, err = statedb.Locate(in.tgt.Root); err != nil {
			in.tgt.Close()
			return nil, xerr.Invalid(err)
		}
		if in.Loc.Loads == "" {
			in.tgt.Close()
			return nil, xerr.Invalidf("%s: no xapi database: %s", in.tgt.Name(), in.Loc.Reason)
		}
		dir := in.tgt.Root.Dir()
		in.Root, in.Path = &dir, "/"+in.Loc.Loads
		if in.File, err = in.tgt.Root.Open(in.Loc.Loads); err != nil {
			in.tgt.Close()
			return nil, err
		}
	}
	if st, err := in.Stat(); err == nil {
		in.Size = st.Size()
	}
	return in, nil
}

func runStatedbShow(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 0, 1)
	if err != nil {
		return err
	}
	ro, err := readOptions(cmd)
	if err != nil {
		return err
	}
	in, err := openStatedbInput(ctx, cmd, "show", a)
	if err != nil {
		return err
	}
	defer in.Close()
	doc := statedbShowDoc{Path: in.Path, Root: in.Root, Size: in.Size, SideFiles: []statedb.SideFile{}, Problems: []string{}}
	if in.Loc == nil {
		doc.Reason = "a plain file: which file xapi loads is decided inside a root (use --root or --disk)"
		if g, err := infile.ReadFile(in.Path + statedb.GenSuffix); err == nil {
			sf := statedb.SideFile{Path: in.Path + statedb.GenSuffix, Role: "generation", Size: int64(len(g))}
			if n, err := strconv.ParseInt(strings.TrimSpace(string(g)), 10, 64); err == nil {
				sf.Generation = &n
			}
			doc.SideFiles = append(doc.SideFiles, sf)
		}
	} else {
		doc.SideFiles, doc.Reason, doc.XapiLoads = in.Loc.Files, in.Loc.Reason, &doc.Path
		for i := range doc.SideFiles {
			doc.SideFiles[i].Path = "/" + doc.SideFiles[i].Path
		}
	}
	s, err := statedb.ScanOptions(withProgress(cmd, ctxio.NewReader(ctx, in), doc.Size, "reading "+doc.Path), ro)
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
	doc.Releases, doc.ReleaseNames = []string{}, []string{}
	for _, r := range release.ForSchema(s.SchemaMinor) {
		doc.Releases = append(doc.Releases, strings.TrimSuffix(r.Product, ".0"))
		doc.ReleaseNames = append(doc.ReleaseNames, r.Name)
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
	for _, t := range s.RefsNotChecked {
		doc.Problems = append(doc.Problems, fmt.Sprintf("table %s has more rows than duplicate refs are looked for in (the first %d)", t, statedb.MaxRefHashes))
	}
	for _, t := range s.Tables {
		if n := t.Duplicates; n > 0 {
			doc.Problems = append(doc.Problems, fmt.Sprintf("table %s: %d row(s) repeat a ref (%s): xapi keys rows by ref and keeps only one of each",
				t.Name, n, strings.Join(t.DuplicateRefs[:min(len(t.DuplicateRefs), 5)], ", ")))
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
	if len(d.ReleaseNames) > 0 {
		rels = strings.Join(d.ReleaseNames, ", ")
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
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "rows", Usage: "also compare rows by ref (three more passes over the files)"}, maxSizeFlag()},
		Action: runStatedbDiff,
	}
}

func openFile(path string) statedb.Opener {
	return func() (io.ReadCloser, error) { return infile.Open(path, infile.File) }
}

// withProgress shows a progress bar on a terminal (never with --json) while
// a large database is read.
func withProgress(cmd *cli.Command, r io.Reader, size int64, what string) io.Reader {
	if size < 8<<20 {
		return r
	}
	return newProgress(output(cmd), what, size).Reader(r)
}

// maxSizeFlag bounds the XML a statedb command reads (after gzip).
func maxSizeFlag() cli.Flag {
	return &cli.StringFlag{Name: "max-size", Value: "4GiB",
		Usage: "refuse (exit 2) a database whose XML, after gzip, is larger than `SIZE` (bytes, or with K, M, G, T: powers of 1024)"}
}

// readOptions are the reader options of --max-size.
func readOptions(cmd *cli.Command) (statedb.Options, error) {
	n, err := parseByteSize(cmd.String("max-size"))
	if err != nil {
		return statedb.Options{}, usageError{fmt.Errorf("--max-size %q: %v", cmd.String("max-size"), err)}
	}
	return statedb.Options{MaxSize: n}, nil
}

// parseByteSize reads 4294967296, 4G, 4GiB, 900M, 512K.
func parseByteSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "B"), "i")
	shift := 0
	if t != "" {
		switch t[len(t)-1] {
		case 'K', 'k':
			shift = 10
		case 'M', 'm':
			shift = 20
		case 'G', 'g':
			shift = 30
		case 'T', 't':
			shift = 40
		}
		if shift > 0 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("expected a positive size such as 4G or 900M")
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("too large")
	}
	return n << shift, nil
}

func scanPath(ctx context.Context, cmd *cli.Command, path string) (*statedb.Summary, error) {
	f, err := infile.Open(path, infile.File)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	ro, err := readOptions(cmd)
	if err != nil {
		return nil, err
	}
	s, err := statedb.ScanOptions(withProgress(cmd, ctxio.NewReader(ctx, f), size, "reading "+path), ro)
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
	sa, err := scanPath(ctx, cmd, a[0])
	if err != nil {
		return err
	}
	sb, err := scanPath(ctx, cmd, a[1])
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
			"backup partition); the columns of its empty tables come from the datamodel history (generated\n" +
			"from xen-api). --to-release R / --to-schema 5.N take them all from the history.\n\n" +
			"Up to 5.5 xapi fills no default: columns rows lack are written with the datamodel default, and\n" +
			"refused (exit 3) when it has none (from 5.6 on, refused only without a default). Values the\n" +
			"target cannot read back (a leading or trailing space for XS <= 7.2, whose XML parser strips\n" +
			"it) are refused, or with --drop-data written the way it will read them, and listed.\n\n" +
			"The output is checked for the target as it is written (statedb check): if the target would not\n" +
			"load it, nothing is committed (exit 3, naming each reason). --dry-run runs the same check.\n\n" +
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
			maxSizeFlag(),
		),
		Action: runStatedbPatch,
	}
}

// statedbPatchDoc is the JSON document of `statedb patch` (docs/json.md).
type statedbPatchDoc struct {
	Path           string              `json:"path"`
	Root           string              `json:"root"`
	Compressed     bool                `json:"compressed"`
	ManifestBefore map[string]string   `json:"manifest_before"`
	ManifestAfter  map[string]string   `json:"manifest_after"`
	Patch          *statedb.Patch      `json:"patch"`
	Competitors    []statedb.SideFile  `json:"competitors"`
	SetAside       bool                `json:"set_aside"`
	DryRun         bool                `json:"dry_run"`
	Op             *plan.Result        `json:"op"`
	Output         *patchOutput        `json:"output"`
	Plan           []plan.ChangeResult `json:"plan"`
	Check          *patchCheck         `json:"check"`
}

// patchCheck says that the patched database was checked for the target.
type patchCheck struct {
	Target string `json:"target"`
	Loads  bool   `json:"loads"`
	When   string `json:"when"` // "while writing", "dry run", "as it is" (nothing to change)
}

// checkPatched runs the patch on the file into the target's check,
// writing nothing.
func checkPatched(root *target.Root, path string, rp *statedb.RootPatch) error {
	f, err := root.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return rp.Patch.CheckOutput(f)
}

// patchOutput is what `statedb patch --output` wrote.
type patchOutput struct {
	Path       string `json:"path"` // "-" for stdout
	Bytes      int64  `json:"bytes"`
	SHA256     string `json:"sha256"`
	Generation int64  `json:"generation"` // what the .generation beside it must say
}

// targetChoice is how the target xapi was named: by release, by schema, or
// by a database it wrote.
type targetChoice struct {
	From      string  `json:"from"`      // "release", "schema" or "reference"
	Release   *string `json:"release"`   // as given to --to-release / --for-release
	Reference *string `json:"reference"` // the --like file
}

// statedbTarget builds the target from --like and the release and schema
// flags of verb (to-release/to-schema for patch, for-release/for-schema
// for check).
func statedbTarget(ctx context.Context, cmd *cli.Command, verb, relFlag, schemaFlag string) (statedb.Target, targetChoice, error) {
	var t statedb.Target
	var c targetChoice
	like, rel, schema := cmd.String("like"), cmd.String(relFlag), cmd.String(schemaFlag)
	n := 0
	for _, s := range []string{like, rel, schema} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return t, c, usageError{fmt.Errorf("statedb %s: give exactly one of --like REF.db, --%s R, --%s 5.N", verb, relFlag, schemaFlag)}
	}
	switch {
	case like != "":
		s, err := scanPath(ctx, cmd, like)
		if err != nil {
			return t, c, err
		}
		t.Like, c.From, c.Reference = s, "reference", &like
	case rel != "":
		r, ok := release.Lookup(rel)
		if !ok {
			return t, c, xerr.Invalidf("--%s %q: not in the release table (xsrescue knows 4.0 to 8.4, XCP-ng 8.3, by version or codename)", relFlag, rel)
		}
		if !r.SchemaKnown() {
			return t, c, xerr.Invalidf("--%s %q: the schema of %s is not known (xapi has no constant for it); give --like a database its xapi wrote, or --%s", relFlag, rel, r.Name, schemaFlag)
		}
		t.Schema, c.From, c.Release = r.Schema, "release", &rel
	default:
		v := strings.TrimPrefix(schema, strconv.Itoa(release.SchemaMajor)+".")
		m, err := strconv.Atoi(v)
		if err != nil || m <= 0 {
			return t, c, xerr.Invalidf("--%s %q: expected 5.N (e.g. 5.55)", schemaFlag, schema)
		}
		t.Schema, c.From = m, "schema"
	}
	return t, c, nil
}

func statedbCheckCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "would the target xapi load this database? every reason it would refuse or break on it",
		ArgsUsage: "[FILE]",
		Description: "Reads the database (FILE, or with --root/--disk the file xapi loads, as statedb show finds\n" +
			"it) and reports every reason the target xapi would refuse it or break on it, each with the\n" +
			"xen-api code behind it (file, function, commit): the schema rule of xapi <= 5.5, the 12-pair\n" +
			"manifest up to 5.6 FP1, pair and ref order, unknown and missing tables and columns (a column\n" +
			"the target needs and would not fill), __ctime/__mtime, malformed sets and maps, values its\n" +
			"XML parser strips (leading, trailing, repeated whitespace, TAB, LF, CR) and %. for xapi\n" +
			"older than 1.57 (XS <= 7.2). Notes add what loads but is worth knowing.\n\n" +
			"The target: --for-release R (the release table, tables and columns from the datamodel history),\n" +
			"--for-schema 5.N, or --like REF.db, a database the target xapi wrote (its tables, and the\n" +
			"columns of its tables with rows; the history for its empty tables).\n\n" +
			"Read-only: never writes a byte. Exit 0: the target loads it; 4: it would not (the reasons are\n" +
			"listed); 2: the database cannot be read.\n\n" + exitHelp,
		Flags: append(targetFlags(),
			&cli.StringFlag{Name: "for-release", Usage: "target release `R` (product version or codename, e.g. 5.0, george, 7.1)"},
			&cli.StringFlag{Name: "for-schema", Usage: "target schema `5.N` (e.g. 5.55, or 109 for a 7.1 CU)"},
			&cli.StringFlag{Name: "like", Usage: "a database `REF.db` written by the target xapi (gzip accepted)"},
			maxSizeFlag(),
		),
		Action: runStatedbCheck,
	}
}

// checkTargetDoc describes the target of a check (docs/json.md).
type checkTargetDoc struct {
	targetChoice
	SchemaMinor int                      `json:"schema_minor"`
	Releases    []string                 `json:"releases"`
	Datamodel   *statedb.DatamodelSample `json:"datamodel"` // the history's sample used; null below the history
	Exact       bool                     `json:"datamodel_exact"`
}

// statedbCheckDoc is the JSON document of `statedb check` (docs/json.md).
type statedbCheckDoc struct {
	Path        string           `json:"path"`
	Root        *string          `json:"root"`
	SchemaMajor int              `json:"schema_major"`
	SchemaMinor int              `json:"schema_minor"`
	Target      checkTargetDoc   `json:"target"`
	Loads       bool             `json:"loads"`
	Reasons     []statedb.Reason `json:"reasons"`
	Unlisted    int              `json:"unlisted"`
	Notes       []string         `json:"notes"`
}

func newCheckTargetDoc(tm *statedb.TargetModel, c targetChoice) checkTargetDoc {
	d := checkTargetDoc{targetChoice: c, SchemaMinor: tm.Schema, Releases: tm.Releases}
	if d.Releases == nil {
		d.Releases = []string{}
	}
	if tm.Datamodel != nil {
		smp := tm.Datamodel.Sample
		d.Datamodel, d.Exact = &smp, tm.Datamodel.Exact()
	}
	return d
}

func runStatedbCheck(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 0, 1)
	if err != nil {
		return err
	}
	t, choice, err := statedbTarget(ctx, cmd, "check", "for-release", "for-schema")
	if err != nil {
		return err
	}
	tm, err := statedb.NewTarget(t.Schema, t.Like)
	if err != nil {
		return xerr.Invalid(err)
	}
	ro, err := readOptions(cmd)
	if err != nil {
		return err
	}
	in, err := openStatedbInput(ctx, cmd, "check", a)
	if err != nil {
		return err
	}
	defer in.Close()
	doc := statedbCheckDoc{Path: in.Path, Root: in.Root, Target: newCheckTargetDoc(tm, choice)}
	res, err := statedb.Check(withProgress(cmd, in, in.Size, "checking "+doc.Path), tm, statedb.CheckOptions{Reader: ro})
	if err != nil {
		return xerr.Invalid(fmt.Errorf("%s: %w", doc.Path, err))
	}
	doc.SchemaMajor, doc.SchemaMinor, doc.Loads = res.SchemaMajor, res.SchemaMinor, res.Loads
	doc.Reasons, doc.Unlisted, doc.Notes = res.Reasons, res.Unlisted, res.Notes
	if err := output(cmd).Emit(doc, func(w io.Writer) error { return printStatedbCheck(w, &doc, tm) }); err != nil {
		return err
	}
	if !res.Loads {
		return alreadyReported(xerr.Problems(fmt.Errorf("%s: xapi of %s would not load it (%d reason(s))", doc.Path, tm.Describe(), len(res.Reasons)+res.Unlisted)))
	}
	return nil
}

func printStatedbCheck(w io.Writer, d *statedbCheckDoc, tm *statedb.TargetModel) error {
	how := map[string]string{"release": "from the release table", "schema": "by schema number", "reference": "like " + deref(d.Target.Reference)}[d.Target.From]
	fmt.Fprintf(w, "%s: schema %d.%d, checked for %s (%s)\n", d.Path, d.SchemaMajor, d.SchemaMinor, tm.Describe(), how)
	if dm := d.Target.Datamodel; dm != nil {
		exact := ""
		if !d.Target.Exact {
			exact = fmt.Sprintf(", the nearest below 5.%d", d.Target.SchemaMinor)
		}
		fmt.Fprintf(w, "  datamodel: xen-api sample at 5.%d%s (%s)\n", dm.Schema, exact, dm.How)
	}
	if d.Loads {
		fmt.Fprintf(w, "  loads: xapi of %s would load it\n", tm.Describe())
	} else {
		fmt.Fprintf(w, "  DOES NOT LOAD: %d reason(s) xapi of %s would refuse or break on it\n", len(d.Reasons)+d.Unlisted, tm.Describe())
	}
	// reasons come grouped by code: the rule once, then each reason
	for i, r := range d.Reasons {
		if i == 0 || d.Reasons[i-1].Code != r.Code {
			fmt.Fprintf(w, "  [%s] rule: %s\n", r.Code, r.Rule)
		}
		fmt.Fprintf(w, "    - %s", r.Message)
		if r.First != nil {
			fmt.Fprintf(w, " (first: offset %d, row %d, %s)", r.First.Offset, r.First.Row, r.First.Ref)
		}
		fmt.Fprintln(w)
	}
	if d.Unlisted > 0 {
		fmt.Fprintf(w, "  ... and %d more reason(s) not listed\n", d.Unlisted)
	}
	for _, n := range d.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	return nil
}

func runStatedbPatch(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 0, 1)
	if err != nil {
		return err
	}
	t, _, err := statedbTarget(ctx, cmd, "patch", "to-release", "to-schema")
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
		req   = statedb.PatchRequest{Target: t, In: cmd.String("file"), SetAside: cmd.Bool("set-aside")}
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
		// FILE is the target, locked by its own identity; with --output
		// nothing in it changes (no lock).
		o := target.Options{File: abs}
		if out == "" {
			tgt, err = openForChange(ctx, cmd, o)
		} else {
			tgt, err = target.Open(ctx, o)
		}
		if err != nil {
			return err
		}
		defer tgt.Close()
		req.File, shown = filepath.Base(abs), abs
	default:
		if out == "" {
			tgt, err = openForChange(ctx, cmd, targetOptions(cmd, false))
		} else {
			tgt, err = openTarget(ctx, cmd, false)
		}
		if err != nil {
			return err
		}
		defer tgt.Close()
		shown = tgt.Name()
	}
	ro, err := readOptions(cmd)
	if err != nil {
		return err
	}
	req.Options = statedb.PatchOptions{DropData: cmd.Bool("drop-data"), Reader: ro}
	rp, err := statedb.PlanPatchIn(tgt.Root, shown, req)
	if rp != nil && req.File == "" {
		shown = "/" + rp.Path
	}
	path := ""
	if rp != nil {
		path = rp.Path
	}
	if rp != nil && !o.JSON {
		printStatedbPatch(report, shown, rp)
	}
	if err != nil {
		return err
	}
	// The output is checked for the target as it is written (a failure
	// ends the stream: nothing is committed); a dry run, which writes
	// nothing, and a database already as requested, which is not
	// rewritten, run the same check on what the patch would write.
	checked := &patchCheck{Target: rp.Patch.Model.Describe(), Loads: true, When: "while writing"}
	if cmd.Bool("dry-run") || rp.Patch.Empty() {
		checked.When = "dry run"
		if rp.Patch.Empty() {
			checked.When = "as it is"
		}
		if err := checkPatched(tgt.Root, path, rp); err != nil {
			return err
		}
		if !o.JSON {
			fmt.Fprintf(report, "Checked (%s): xapi of %s would load the patched database.\n", checked.When, checked.Target)
		}
	}
	// The changes an in-place patch makes (or would make: --dry-run), taken
	// before they are applied; --output changes nothing in the root.
	p := []plan.ChangeResult{}
	if o.JSON && out == "" {
		if p, err = journal.Describe(tgt.Root, rp.Plan); err != nil {
			return err
		}
	}
	var res *plan.Result
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
	if (res != nil || wrote != nil) && !o.JSON {
		fmt.Fprintf(report, "Checked (%s): xapi of %s loads the patched database.\n", checked.When, checked.Target)
	}
	if !o.JSON {
		return nil
	}
	doc := statedbPatchDoc{
		Path: shown, Root: tgt.Root.Dir(), Compressed: rp.Compressed,
		ManifestBefore: rp.Patch.ManifestBefore.Map(), ManifestAfter: rp.Patch.ManifestAfter.Map(),
		Patch: rp.Patch, Competitors: rp.Competitors, SetAside: rp.SetAside, DryRun: cmd.Bool("dry-run"), Op: res, Output: wrote,
		Check: checked,
	}
	doc.Plan = p
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
	for _, f := range p.Fill {
		fmt.Fprintf(w, "fill column %s.%s with its default %q in %d row(s) that lack it\n", f.Table, f.Column, f.Default, f.Rows)
	}
	for _, m := range p.Missing {
		fmt.Fprintf(w, "missing column %s.%s: the target fills its default at start\n", m.Table, m.Column)
	}
	for _, l := range p.Lossy {
		fmt.Fprintf(w, "lossy values of %s.%s in %d row(s): %s\n", l.Table, l.Column, l.Rows, l.Why)
	}
	for _, s := range p.Suspected {
		fmt.Fprintf(w, "columns not checked (kept): table %s (%d rows): neither the reference nor the datamodel history shows them\n", s.Table, s.RowsWithData)
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
