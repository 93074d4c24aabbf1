package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/ctxio"
	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/statedb"
	"github.com/xsrescue/xsrescue/target"
)

func newStatedbCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "statedb",
		Usage: "show, compare, check and patch xapi's database (state.db) so that an older xapi starts",
		Description: "xapi keeps its whole database in one XML file (/var/lib/xcp/state.db, /var/xapi/state.db up\n" +
			"to XS 6.2). An older xapi refuses a database a newer one wrote: unknown tables and columns,\n" +
			"the manifest form, the space encoding. These commands stream the file (gzip too), so a\n" +
			"100 MB database needs a few MB of memory; --max-size bounds what they read. What each\n" +
			"release's xapi knows comes from its datamodel (generated from xen-api). See docs/statedb.md.",
		Commands: []*cli.Command{newStatedbShowCommand(e), newStatedbDiffCommand(e), newStatedbCheckCommand(e), newStatedbPatchCommand(e)},
	}
}

// readOptions is --max-size: what the statedb commands read at most.
type readOptions struct{ MaxSize string }

func (o *readOptions) flag() cli.Flag {
	return &cli.StringFlag{Name: "max-size", Value: "4GiB", Destination: &o.MaxSize,
		Usage: "refuse (exit 2) a database whose XML, after gzip, is larger than `SIZE` (bytes, or with K, M, G, T: powers of 1024)"}
}

// reader is the statedb reader options of --max-size.
func (o readOptions) reader() (statedb.Options, error) {
	n, err := parseByteSize(o.MaxSize)
	if err != nil {
		return statedb.Options{}, usagef("--max-size %q: %v", o.MaxSize, err)
	}
	return statedb.Options{MaxSize: n}, nil
}

// statedbShowOptions are the flags of statedb show.
type statedbShowOptions struct {
	targetOptions
	readOptions
}

func newStatedbShowCommand(e *env) *cli.Command {
	var o statedbShowOptions
	return &cli.Command{
		Name:      "show",
		Usage:     "manifest, releases, tables and the side files that decide what xapi loads",
		ArgsUsage: "[FILE]",
		Description: "With FILE (a path on the rescue system) shows that database. With --root/--disk finds the\n" +
			"file xapi would load the way xapi does: etc/xensource/db.conf, /var/lib/xcp and /var/xapi,\n" +
			"ha_metadata.db and gen_metadata.db (highest .generation wins, ties to ha_metadata),\n" +
			"restore_db.db (wins outright); lists every candidate and says which one and why.\n" +
			"Read-only: never writes a byte.\n\n" + exitHelp,
		Flags:  append(o.targetOptions.flags(), o.readOptions.flag()),
		Action: action(0, 1, func(ctx context.Context, a []string) error { return runStatedbShow(ctx, e, o, a) }),
	}
}

func runStatedbShow(ctx context.Context, e *env, o statedbShowOptions, a []string) error {
	ro, err := o.reader()
	if err != nil {
		return err
	}
	in, err := e.openStatedbInput(ctx, "show", o.targetOptions, a)
	if err != nil {
		return err
	}
	defer in.Close()
	doc := newStatedbShowDoc(in)
	s, err := statedb.ScanOptions(e.readProgress(ctxio.NewReader(ctx, in), doc.Size, "reading "+doc.Path), ro)
	if err != nil {
		return xerr.Invalid(fmt.Errorf("%s: %w", doc.Path, err))
	}
	fillShowDoc(&doc, s)
	return e.emit(doc, func(w io.Writer) error { return printStatedbShow(w, &doc) })
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

func (e *env) openStatedbInput(ctx context.Context, verb string, o targetOptions, a []string) (*statedbInput, error) {
	in := &statedbInput{}
	switch {
	case len(a) == 1 && o.given():
		return nil, usagef("statedb %s: give FILE or --root/--disk, not both", verb)
	case len(a) == 1:
		f, err := infile.Open(a[0], infile.File)
		if err != nil {
			return nil, xerr.Invalid(err)
		}
		in.File, in.Path = f, a[0]
	case !o.given():
		return nil, usagef("statedb %s: give FILE, --root DIR or --disk DISK", verb)
	default:
		if err := e.openLoaded(ctx, in, o); err != nil {
			return nil, err
		}
	}
	if st, err := in.Stat(); err == nil {
		in.Size = st.Size()
	}
	return in, nil
}

// openLoaded opens the file xapi loads inside the target.
func (e *env) openLoaded(ctx context.Context, in *statedbInput, o targetOptions) (err error) {
	if in.tgt, err = e.openTarget(ctx, o.target()); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			in.tgt.Close()
		}
	}()
	if in.Loc, err = statedb.Locate(in.tgt.Root); err != nil {
		return xerr.Invalid(err)
	}
	if in.Loc.Loads == "" {
		return xerr.Invalidf("%s: no xapi database: %s", in.tgt.Name(), in.Loc.Reason)
	}
	if in.Loc.Problem != "" {
		// A FIFO, directory, socket or device where xapi looks: it takes
		// the path all the same and cannot start; nothing to read here.
		return xerr.Problems(fmt.Errorf("%s: %s", in.tgt.Name(), in.Loc.Problem))
	}
	dir := in.tgt.Root.Dir()
	in.Root, in.Path = &dir, "/"+in.Loc.Loads
	in.File, err = in.tgt.Root.Open(in.Loc.Loads)
	return err
}

// statedbDiffOptions are the flags of statedb diff.
type statedbDiffOptions struct {
	Rows bool
	readOptions
}

func newStatedbDiffCommand(e *env) *cli.Command {
	var o statedbDiffOptions
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
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "rows", Destination: &o.Rows, Usage: "also compare rows by ref (three more passes over the files)"}, o.flag()},
		Action: action(2, 2, func(ctx context.Context, a []string) error { return runStatedbDiff(ctx, e, o, a[0], a[1]) }),
	}
}

func runStatedbDiff(ctx context.Context, e *env, o statedbDiffOptions, a, b string) error {
	ro, err := o.reader()
	if err != nil {
		return err
	}
	sa, err := e.scanPath(ctx, a, ro)
	if err != nil {
		return err
	}
	sb, err := e.scanPath(ctx, b, ro)
	if err != nil {
		return err
	}
	d := statedb.Compare(sa, sb)
	if o.Rows {
		if err := statedb.DiffRows(d, openFile(a), openFile(b)); err != nil {
			return xerr.Invalid(err)
		}
	}
	return e.emit(d, func(w io.Writer) error { return printStatedbDiff(w, a, b, d) })
}

func openFile(path string) statedb.Opener {
	return func() (io.ReadCloser, error) { return infile.Open(path, infile.File) }
}

// readProgress shows a progress bar on a terminal (never with --json)
// while a large database is read.
func (e *env) readProgress(r io.Reader, size int64, what string) io.Reader {
	if size < 8<<20 {
		return r
	}
	return e.progress(what, size).Reader(r)
}

// scanPath summarises the database FILE path.
func (e *env) scanPath(ctx context.Context, path string, ro statedb.Options) (*statedb.Summary, error) {
	f, err := infile.Open(path, infile.File)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	s, err := statedb.ScanOptions(e.readProgress(ctxio.NewReader(ctx, f), size, "reading "+path), ro)
	if err != nil {
		return nil, xerr.Invalid(fmt.Errorf("%s: %w", path, err))
	}
	return s, nil
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

// xapiTarget names the xapi a check or patch is for: --like, or the
// release or schema flags of the command (--to-* for patch, --for-* for
// check).
type xapiTarget struct {
	Like, Release, Schema string
	relFlag, schemaFlag   string
}

func (t *xapiTarget) flags(relFlag, schemaFlag string) (rel, schema, like cli.Flag) {
	t.relFlag, t.schemaFlag = relFlag, schemaFlag
	return &cli.StringFlag{Name: relFlag, Destination: &t.Release, Usage: "target release `R` (product version or codename, e.g. 5.0, george, 7.1)"},
		&cli.StringFlag{Name: schemaFlag, Destination: &t.Schema, Usage: "target schema `5.N` (e.g. 5.55, or 109 for a 7.1 CU)"},
		&cli.StringFlag{Name: "like", Destination: &t.Like, Usage: "a database `REF.db` written by the target xapi (gzip accepted)"}
}

// choose builds the target: exactly one of --like, the release and the
// schema.
func (t xapiTarget) choose(ctx context.Context, e *env, verb string, ro statedb.Options) (statedb.Target, targetChoice, error) {
	var st statedb.Target
	var c targetChoice
	n := 0
	for _, s := range []string{t.Like, t.Release, t.Schema} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return st, c, usagef("statedb %s: give exactly one of --like REF.db, --%s R, --%s 5.N", verb, t.relFlag, t.schemaFlag)
	}
	switch {
	case t.Like != "":
		s, err := e.scanPath(ctx, t.Like, ro)
		if err != nil {
			return st, c, err
		}
		st.Like, c.From, c.Reference = s, "reference", &t.Like
	case t.Release != "":
		r, ok := release.Lookup(t.Release)
		if !ok {
			return st, c, xerr.Invalidf("--%s %q: not in the release table (xsrescue knows 4.0 to 8.4, XCP-ng 8.3, by version or codename)", t.relFlag, t.Release)
		}
		if !r.SchemaKnown() {
			return st, c, xerr.Invalidf("--%s %q: the schema of %s is not known (xapi has no constant for it); give --like a database its xapi wrote, or --%s", t.relFlag, t.Release, r.Name, t.schemaFlag)
		}
		st.Schema, c.From, c.Release = r.Schema, "release", &t.Release
	default:
		v := strings.TrimPrefix(t.Schema, strconv.Itoa(release.SchemaMajor)+".")
		m, err := strconv.Atoi(v)
		if err != nil || m <= 0 {
			return st, c, xerr.Invalidf("--%s %q: expected 5.N (e.g. 5.55)", t.schemaFlag, t.Schema)
		}
		st.Schema, c.From = m, "schema"
	}
	return st, c, nil
}

// statedbCheckOptions are the flags of statedb check.
type statedbCheckOptions struct {
	targetOptions
	xapiTarget
	readOptions
}

func newStatedbCheckCommand(e *env) *cli.Command {
	var o statedbCheckOptions
	rel, schema, like := o.xapiTarget.flags("for-release", "for-schema")
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
		Flags:  append(o.targetOptions.flags(), rel, schema, like, o.readOptions.flag()),
		Action: action(0, 1, func(ctx context.Context, a []string) error { return runStatedbCheck(ctx, e, o, a) }),
	}
}

func runStatedbCheck(ctx context.Context, e *env, o statedbCheckOptions, a []string) error {
	ro, err := o.reader()
	if err != nil {
		return err
	}
	t, choice, err := o.choose(ctx, e, "check", ro)
	if err != nil {
		return err
	}
	tm, err := statedb.NewTarget(t.Schema, t.Like)
	if err != nil {
		return xerr.Invalid(err)
	}
	in, err := e.openStatedbInput(ctx, "check", o.targetOptions, a)
	if err != nil {
		return err
	}
	defer in.Close()
	doc := statedbCheckDoc{Path: in.Path, Root: in.Root, Target: newCheckTargetDoc(tm, choice)}
	res, err := statedb.Check(e.readProgress(in, in.Size, "checking "+doc.Path), tm, statedb.CheckOptions{Reader: ro})
	if err != nil {
		return xerr.Invalid(fmt.Errorf("%s: %w", doc.Path, err))
	}
	doc.SchemaMajor, doc.SchemaMinor, doc.Loads, doc.ValuesChange = res.SchemaMajor, res.SchemaMinor, res.Loads, res.ValuesChange
	doc.Reasons, doc.Unlisted, doc.UnlistedRefusing, doc.Notes = res.Reasons, res.Unlisted, res.UnlistedRefusing, res.Notes
	doc.headline = res.Headline()
	if m := e.mountedRW(); m != nil {
		// loads stays what the disk's bytes say; the answer is not that.
		doc.headline = fmt.Sprintf("UNKNOWN: partition %d is mounted read-write on %s, so the file on the disk may be stale; the disk's bytes say: %s", m.Partition, m.Point, doc.headline)
	}
	if err := e.emit(doc, func(w io.Writer) error { return printStatedbCheck(w, &doc, tm) }); err != nil || !res.Problems() {
		return err
	}
	return xerr.Problems(fmt.Errorf("%s: xapi of %s: %s", doc.Path, tm.Describe(), doc.headline))
}

// statedbPatchOptions are the flags of statedb patch.
type statedbPatchOptions struct {
	targetOptions
	xapiTarget
	readOptions
	DropData, SetAside bool
	File               string // --file: inside the root
	Output             string // --output: a new file, or - for stdout
	KeepCopy           string // --keep-copy: the copy that must exist first
}

func newStatedbPatchCommand(e *env) *cli.Command {
	var o statedbPatchOptions
	rel, schema, like := o.xapiTarget.flags("to-release", "to-schema")
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
			"FILE patches a plain file (its directory is the journal's root, so the op can be undone too:\n" +
			"the journal is DIR/var/lib/xsrescue/journal.db beside it, and stays after an undo, unless\n" +
			"--journal names another place).\n\n" +
			"--output OUT writes the patched database to the new file OUT (or to stdout with -) and changes\n" +
			"nothing else: the database, its .generation and the side files stay as they are, so there is\n" +
			"nothing to journal. Nothing is overwritten: an OUT that already holds exactly the patched\n" +
			"database is already as requested (exit 0), any other existing OUT is refused (exit 3). Use it\n" +
			"to inspect the result first, to patch from read-only media, or to keep the original elsewhere.\n\n" +
			"WARNING: the target xapi loses what is dropped. Dropping a table with rows or a column with\n" +
			"values is refused unless --drop-data; the refusal lists what would be lost. Run with\n" +
			"--dry-run first; the op can be undone byte for byte with xsrescue journal undo.\n\n" +
			"--keep-copy FILE refuses (exit 3, nothing written, also in a dry run) unless FILE holds exactly\n" +
			"the database about to be changed: a script that copied it out first cannot drop data when the\n" +
			"copy failed. doctor's plans give it after the step that makes the copy.\n\n" + exitHelp,
		Flags: append(o.targetOptions.flags(), like, rel, schema,
			&cli.BoolFlag{Name: "drop-data", Destination: &o.DropData, Usage: "allow dropping tables with rows and columns with values"},
			&cli.BoolFlag{Name: "set-aside", Destination: &o.SetAside, Usage: "rename the files xapi would load instead of the patched one (through the journal)"},
			&cli.StringFlag{Name: "file", Destination: &o.File, Usage: "with --root/--disk: patch `PATH` inside the root instead of the file xapi loads"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &o.Output, Usage: "write the patched database to the new file `OUT` (- for stdout) instead of in place"},
			&cli.StringFlag{Name: "keep-copy", Destination: &o.KeepCopy, Usage: "refuse (exit 3) unless `FILE` holds exactly the database the patch changes (a copy made beforehand)"},
			o.readOptions.flag(),
		),
		Action: action(0, 1, func(ctx context.Context, a []string) error { return runStatedbPatch(ctx, e, o, a) }),
	}
}
