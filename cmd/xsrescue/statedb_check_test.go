package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/statedb"
)

func writeDB(t *testing.T, dir, name string, spec fixtures.StateDBSpec) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := fixtures.WriteStateDBFile(p, spec, false); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStatedbCheck: exit 0 when the target loads the database, 4 with
// every reason when it would not, 2 when it cannot be read; read-only.
func TestStatedbCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db82 := writeDB(t, dir, "state-8.2.db", fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 2, Seed: "h"})
	fresh71 := writeDB(t, dir, "fresh-7.1.db", fixtures.StateDBSpec{Release: "7.1", Fresh: true, Seed: "h"})
	before := versionTreeState(t, dir)

	code, out, errOut := runCLI("statedb", "check", db82, "--for-release", "7.1", "--json")
	var doc statedbCheckDoc
	if code != 4 || json.Unmarshal([]byte(out), &doc) != nil {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if doc.Loads || doc.Target.SchemaMinor != 108 || doc.Target.From != "release" || doc.Target.Datamodel == nil || !doc.Target.Exact {
		t.Errorf("doc %+v", doc.Target)
	}
	reasons := map[string]statedb.Reason{}
	for _, r := range doc.Reasons {
		reasons[r.Code+" "+r.Table+"."+r.Column] = r
	}
	// the load failures --to-release 7.1 used to leave behind
	for _, k := range []string{"unknown-table Certificate.", "unknown-table Cluster.", "unknown-column VM.NVRAM", "unknown-column VM.domain_type",
		"unknown-column host.uefi_certificates", "unknown-column pool.uefi_certificates", "unknown-column VDI.cbt_enabled", "undecoded-space VM.name__label"} {
		r, ok := reasons[k]
		if !ok {
			t.Errorf("no reason %s", k)
			continue
		}
		if r.Rule.Commit == "" || r.Rule.File == "" || r.Rule.Function == "" {
			t.Errorf("%s: rule %+v", k, r.Rule)
		}
	}
	if r := reasons["unknown-column VM.NVRAM"]; r.First == nil || r.First.Row != 1 || !strings.HasPrefix(r.First.Ref, "OpaqueRef:") {
		t.Errorf("NVRAM first %+v", r.First)
	}
	if !strings.Contains(errOut, "DOES NOT LOAD: 62 reasons") {
		t.Errorf("stderr %q", errOut)
	}
	// text: grouped by rule
	code, out, _ = runCLI("statedb", "check", db82, "--like", fresh71)
	if code != 4 || !strings.Contains(out, "DOES NOT LOAD") || !strings.Contains(out, "[unknown-table] rule: xen-api 277c852834") || !strings.Contains(out, "like "+fresh71) {
		t.Errorf("text: exit %d\n%s", code, out)
	}
	// show names releases as the release table does, as check does
	if code, out, _ := runCLI("statedb", "show", db82); code != 0 || !strings.Contains(out, "schema 5.603: written by Citrix Hypervisor 8.2 CU1") {
		t.Errorf("show:\n%s", out)
	}
	// its own release loads it
	if code, out, errOut := runCLI("statedb", "check", fresh71, "--for-release", "7.1"); code != 0 || !strings.Contains(out, "loads: xapi of schema 5.108 (XenServer 7.1) would load it") {
		t.Errorf("own release: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := runCLI("statedb", "check", db82, "--for-schema", "5.603"); code != 0 {
		t.Errorf("--for-schema 5.603: exit %d %s", code, errOut)
	}
	// usage and bad input
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{db82}, 2, "give exactly one of --like REF.db, --for-release R, --for-schema 5.N"},
		{[]string{db82, "--for-release", "7.1", "--for-schema", "5.93"}, 2, "exactly one"},
		{[]string{db82, "--for-release", "9.9"}, 2, "not in the release table"},
		{[]string{db82, "--for-release", "oxford"}, 2, "the schema of XenServer 5.6 SP2 is not known"},
		{[]string{db82, "--for-schema", "5.x"}, 2, "expected 5.N"},
		{[]string{"--for-release", "7.1"}, 2, "give FILE, --root DIR or --disk DISK"},
		{[]string{filepath.Join(dir, "nope.db"), "--for-release", "7.1"}, 2, "no such file"},
		{[]string{fresh71 + ".generation", "--for-release", "7.1"}, 2, "offset 0: unexpected text"},
		{[]string{db82, "--for-release", "7.1", "--max-size", "1K"}, 2, "more than 1024 bytes of XML (raise it with --max-size)"},
		{[]string{db82, "--for-release", "7.1", "--max-size", "lots"}, 2, "--max-size"},
	} {
		code, _, errOut := runCLI(append([]string{"statedb", "check"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	sameTree(t, "check", before, versionTreeState(t, dir))
}

// TestStatedbCheckRoot: with --root, the file xapi loads is checked.
func TestStatedbCheckRoot(t *testing.T) {
	t.Parallel()
	dir := statedbRoot(t, "5.5", fixtures.StateDBSpec{Release: "5.5", VMs: 1, Seed: "h"}, nil)
	before := versionTreeState(t, dir)
	code, out, errOut := runCLI("statedb", "check", "--root", dir, "--for-release", "5.5", "--json")
	var doc statedbCheckDoc
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || !doc.Loads || doc.Root == nil || !strings.HasSuffix(doc.Path, "/state.db") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI("statedb", "check", "--root", dir, "--for-release", "5.0")
	if code != 4 || !strings.Contains(out, "[schema-mismatch]") || !strings.Contains(out, "table subject (0 rows) is unknown") {
		t.Errorf("5.0: exit %d\n%s", code, out)
	}
	sameTree(t, "check --root", before, versionTreeState(t, dir))
}

// TestStatedbPatchLikeEmptyTable: a reference whose table is empty says
// nothing of its columns; the history does (8.2's Bond.auto_update_mac is
// unknown to 7.1 even like a 7.1 database without bonds).
func TestStatedbPatchLikeEmptyTable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := writeDB(t, dir, "state.db", fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 1, Seed: "h"})
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	bond := `<table name="Bond"><row ref="OpaqueRef:bond1" __ctime="3" __mtime="3" _ref="OpaqueRef:bond1" uuid="` + fixtures.UUID("bond") +
		`" auto_update_mac="true" lacp_aggregation_key="" links_up="1" master="OpaqueRef:NULL" mode="balance-slb" other_config="()" primary_slave="OpaqueRef:NULL" properties="()" slaves="()"/></table>`
	if err := os.WriteFile(db, bytes.Replace(raw, []byte(`<table name="Bond"/>`), []byte(bond), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh71 := writeDB(t, t.TempDir(), "fresh.db", fixtures.StateDBSpec{Release: "7.1", Fresh: true, Seed: "h"})
	code, out, errOut := runCLI("statedb", "patch", db, "--like", fresh71, "--drop-data", "--dry-run", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var doc statedbPatchDoc
	parseMutation(t, out, &doc)
	found := false
	for _, c := range doc.Patch.DropColumns {
		found = found || c.Table == "Bond" && c.Column == "auto_update_mac" && c.RowsWithData == 1
	}
	if !found || doc.Check == nil || !doc.Check.Loads || doc.Check.When != "dry run" {
		t.Errorf("drop columns %+v, check %+v", doc.Patch.DropColumns, doc.Check)
	}
	code, _, errOut = runCLI("statedb", "patch", db, "--like", fresh71, "--yes")
	if code != 3 || !strings.Contains(errOut, "column Bond.auto_update_mac (1 row with a value)") {
		t.Errorf("without --drop-data: exit %d %s", code, errOut)
	}
}

// TestStatedbPatchSelfCheck: a database the patch cannot make loadable (a
// malformed set) is refused by the check of its own output: exit 3 naming
// the reason, the op rolled back, the file byte-identical; a dry run says
// the same without writing anything.
func TestStatedbPatchSelfCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := writeDB(t, dir, "state.db", fixtures.StateDBSpec{Release: "7.1", VMs: 1, Seed: "h"})
	raw, _ := os.ReadFile(db)
	bad := regexp.MustCompile(`tags="[^"]*"`).ReplaceAll(raw, []byte(`tags="('web' tier)"`))
	if err := os.WriteFile(db, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	before := versionTreeState(t, dir)
	code, out, errOut := runCLI("statedb", "patch", db, "--to-release", "7.0", "--drop-data", "--dry-run")
	if code != 3 || !strings.Contains(errOut, "would not load in xapi of schema 5.93 (XenServer 7.0)") || !strings.Contains(errOut, "bad-set-map: VM.tags") {
		t.Errorf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	sameTree(t, "dry run", before, versionTreeState(t, dir))
	journal := filepath.Join(t.TempDir(), "j.db")
	code, _, errOut = runCLI("statedb", "patch", db, "--to-release", "7.0", "--drop-data", "--yes", "--journal", journal)
	if code != 3 || !strings.Contains(errOut, "rolled-back") || !strings.Contains(errOut, "bad-set-map: VM.tags") {
		t.Errorf("apply: exit %d %s", code, errOut)
	}
	if got, _ := os.ReadFile(db); !bytes.Equal(got, bad) {
		t.Error("the database changed")
	}
	out71 := filepath.Join(t.TempDir(), "out.db")
	code, _, errOut = runCLI("statedb", "patch", db, "--to-release", "7.0", "--drop-data", "--output", out71)
	if _, err := os.Stat(out71); code != 3 || err == nil {
		t.Errorf("--output: exit %d %s (file left: %v)", code, errOut, err == nil)
	}
	// already at the target schema: nothing to write, and still not loadable
	code, _, errOut = runCLI("statedb", "patch", db, "--to-release", "7.1", "--yes")
	if code != 3 || !strings.Contains(errOut, "bad-set-map: VM.tags") {
		t.Errorf("as it is: exit %d %s", code, errOut)
	}
}

// TestStatedbBombChild runs the command line given in
// $XSRESCUE_CHILD_ARGS in a process of its own and writes its peak RSS
// (VmHWM, of this process only: the rusage of a child also counts the
// parent's pages it was forked with) to $XSRESCUE_CHILD_HWM.
func TestStatedbBombChild(t *testing.T) {
	args := os.Getenv("XSRESCUE_CHILD_ARGS")
	if args == "" {
		t.Skip("run by TestStatedbGzipBomb")
	}
	code := run(context.Background(), append([]string{"xsrescue"}, strings.Split(args, "\x1f")...), os.Stdin, os.Stdout, os.Stderr)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	hwm := regexp.MustCompile(`VmHWM:\s*(\d+) kB`).FindSubmatch(status)
	if hwm == nil || os.WriteFile(os.Getenv("XSRESCUE_CHILD_HWM"), hwm[1], 0o644) != nil {
		t.Fatal("VmHWM not found or not written")
	}
	os.Exit(code)
}

// TestStatedbGzipBomb: a small gzip file that expands to a 150 MB database
// of 3 million rows in one table, three times the rows whose refs are
// looked for duplicates (statedb.MaxRefHashes), is shown and checked under
// 96 MiB peak RSS: about 70 MiB whatever the rows. A ref hash kept for
// every row costs 40 MiB more here (110 MiB; xsrescue of issue 13 held
// more per row: 1.4 GB for 900 MB). --max-size below its size refuses it
// with exit 2.
func TestStatedbGzipBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 150 MB")
	}
	p := filepath.Join(t.TempDir(), "bomb.db")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err := fixtures.WriteStateDBRows(zw, 3*statedb.MaxRefHashes); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	hwmFile := filepath.Join(t.TempDir(), "hwm")
	child := func(args ...string) (int, string, int64) {
		os.Remove(hwmFile)
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestStatedbBombChild$")
		cmd.Env = append(os.Environ(), "XSRESCUE_CHILD_ARGS="+strings.Join(args, "\x1f"), "XSRESCUE_CHILD_HWM="+hwmFile)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil && cmd.ProcessState == nil {
			t.Fatal(err)
		}
		kb, err := os.ReadFile(hwmFile)
		if err != nil {
			t.Fatalf("the child wrote no peak RSS: %v\n%.2000s", err, stdout.String()+stderr.String())
		}
		n, _ := strconv.ParseInt(string(kb), 10, 64)
		return cmd.ProcessState.ExitCode(), stdout.String() + stderr.String(), n << 10
	}
	for _, args := range [][]string{{"statedb", "show", p, "--json"}, {"statedb", "check", p, "--for-release", "8.2", "--json"}} {
		code, out, rss := child(args...)
		t.Logf("%s: exit %d, peak RSS %d MiB", args[1], code, rss>>20)
		if code != 0 && code != 4 {
			t.Errorf("%s: exit %d\n%.2000s", args[1], code, out)
		}
		if !strings.Contains(out, "duplicate refs are looked for in") && args[1] == "show" {
			t.Errorf("show does not say the refs were looked for in part only:\n%.2000s", out)
		}
		if rss > 96<<20 {
			t.Errorf("%s: peak RSS %d MiB, over 96 MiB", args[1], rss>>20)
		}
	}
	if code, out, _ := child("statedb", "show", p, "--max-size", "50M"); code != 2 || !strings.Contains(out, "more than 52428800 bytes of XML") {
		t.Errorf("--max-size: exit %d\n%.2000s", code, out)
	}
}

// TestStatedbNotAFile: a FIFO or directory where xapi looks for its
// database is what xapi would take (and hang or fail on): show and check
// say so with exit 4, and never open a FIFO (which would block).
func TestStatedbNotAFile(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"fifo", "directory"} {
		dir := t.TempDir()
		db := filepath.Join(dir, "var/lib/xcp/state.db")
		testutil.Must(t, os.MkdirAll(filepath.Dir(db), 0o755))
		if kind == "fifo" {
			testutil.Must(t, syscall.Mkfifo(db, 0o600))
		} else {
			testutil.Must(t, os.Mkdir(db, 0o755))
		}
		for _, argv := range [][]string{{"statedb", "show", "--root", dir}, {"statedb", "check", "--root", dir, "--for-release", "7.1", "--json"}} {
			code, stdout, stderr := runCLI(argv...)
			if code != 4 || !strings.Contains(stderr, "is a "+kind+", not a database file, yet xapi takes it") {
				t.Errorf("%s: %v: exit %d\n%s\n%s", kind, argv, code, stdout, stderr)
			}
		}
	}
}

// TestStatedbUndecodable: a VM name typed in a Latin-1 locale is a byte
// xapi's XML parser cannot decode, and a character reference to a
// character XML forbids stops it the same way (xmlm p_charref:
// Illegal_char_ref): check says DOES NOT LOAD (exit 4) with the offset,
// row and attribute; show, diff and patch refuse it (exit 2) and write
// nothing.
func TestStatedbUndecodable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, insert string
		at           int // offset of the fault in insert
		msg, fn      string
	}{
		{"latin1", "caf\xe9 ", 3, "invalid UTF-8: e9 20", "uchar_utf8"},
		{"charref FFFE", "a&#xFFFE;", 1, `character reference "&#xFFFE;" is U+FFFE`, "p_charref"},
		{"charref 1", "&#1;", 0, `character reference "&#1;" is U+0001`, "p_charref"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := writeDB(t, dir, "state.db", fixtures.StateDBSpec{Release: "8.2", VMs: 1, Seed: "u"})
			b, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			at := bytes.Index(b, []byte(`name__label="`))
			if at < 0 {
				t.Fatal("no name__label in the fixture")
			}
			at += len(`name__label="`)
			b = append(b[:at:at], append([]byte(tt.insert), b[at:]...)...)
			if err := os.WriteFile(db, b, 0o600); err != nil {
				t.Fatal(err)
			}
			off := strconv.Itoa(at + tt.at)
			before := versionTreeState(t, dir)

			code, out, errOut := runCLI("statedb", "check", db, "--for-release", "8.2", "--json")
			var doc statedbCheckDoc
			if code != 4 || json.Unmarshal([]byte(out), &doc) != nil || doc.Loads || len(doc.Reasons) != 1 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			if r := doc.Reasons[0]; r.Code != "undecodable" || r.Column != "name__label" || r.First == nil || strconv.FormatInt(r.First.Offset, 10) != off ||
				!strings.Contains(r.Message, tt.msg) || !strings.Contains(r.Rule.Function, tt.fn) {
				t.Errorf("reason %+v", r)
			}
			code, out, _ = runCLI("statedb", "check", db, "--for-release", "8.2")
			if code != 4 || !strings.Contains(out, "DOES NOT LOAD: 1 reason") || !strings.Contains(out, "first: offset "+off) {
				t.Errorf("text: exit %d\n%s", code, out)
			}
			for _, args := range [][]string{
				{"show", db},
				{"diff", db, db},
				{"patch", db, "--to-release", "8.2", "--output", filepath.Join(dir, "out.db")},
				{"patch", db, "--to-release", "8.2", "--yes"},
			} {
				code, _, errOut := runCLI(append([]string{"statedb"}, args...)...)
				if code != 2 || !strings.Contains(errOut, "offset "+off) || !strings.Contains(errOut, "attribute name__label: "+tt.msg) || !strings.Contains(errOut, "xapi does not load this database") {
					t.Errorf("%v: exit %d %q", args, code, errOut)
				}
			}
			sameTree(t, "undecodable", before, versionTreeState(t, dir))
		})
	}
}
