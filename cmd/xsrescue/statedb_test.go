package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/statedb"
)

// statedbRoot is a XenServer root of release rel whose xapi directory holds
// the database db (a carried-over newer one, typically).
func statedbRoot(t *testing.T, rel string, db fixtures.StateDBSpec, extra func(dir string) error) string {
	t.Helper()
	dir := t.TempDir()
	spec := fixtures.RootSpec{Release: rel, Seed: "host1", Populate: func(dir string) error {
		xapiDir := "var/xapi"
		if _, err := os.Lstat(filepath.Join(dir, "var/lib/xcp")); err == nil {
			xapiDir = "var/lib/xcp"
		}
		if err := fixtures.WriteStateDBFile(filepath.Join(dir, xapiDir, "state.db"), db, false); err != nil {
			return err
		}
		if extra != nil {
			return extra(dir)
		}
		return nil
	}}
	if err := fixtures.WriteXenServerRoot(dir, spec); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestStatedbShow(t *testing.T) {
	t.Parallel()
	dir := statedbRoot(t, "7.1", fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 2, Seed: "host1"}, func(dir string) error {
		return fixtures.WriteStateDBFile(filepath.Join(dir, "var/lib/xcp/ha_metadata.db"), fixtures.StateDBSpec{Release: "7.1", Fresh: true, Seed: "host1"}, false)
	})
	before := versionTreeState(t, dir)
	code, out, errOut := runCLI("statedb", "show", "--root", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	sameTree(t, "show --root", before, versionTreeState(t, dir))
	var doc struct {
		Path        string            `json:"path"`
		SchemaMinor int               `json:"schema_minor"`
		Manifest    map[string]string `json:"manifest"`
		Releases    []string          `json:"releases"`
		Tables      []struct {
			Name    string   `json:"name"`
			Rows    int      `json:"rows"`
			Columns []string `json:"columns"`
		} `json:"tables"`
		SideFiles []struct {
			Path       string `json:"path"`
			Role       string `json:"role"`
			Generation *int64 `json:"generation"`
		} `json:"side_files"`
		XapiLoads *string `json:"xapi_loads"`
		Reason    string  `json:"reason"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// the fixture's state.db has generation 1024, the fresh ha_metadata.db 42
	if doc.Path != "/var/lib/xcp/state.db" || doc.XapiLoads == nil || *doc.XapiLoads != doc.Path || !strings.Contains(doc.Reason, "highest .generation") {
		t.Errorf("path %q loads %v reason %q", doc.Path, doc.XapiLoads, doc.Reason)
	}
	if doc.SchemaMinor != 603 || doc.Manifest["schema_minor_vsn"] != "603" || strings.Join(doc.Releases, ",") != "8.2.1" {
		t.Errorf("schema %d manifest %v releases %v", doc.SchemaMinor, doc.Manifest, doc.Releases)
	}
	if len(doc.SideFiles) != 2 || doc.SideFiles[0].Role != "ha_metadata" || *doc.SideFiles[0].Generation != 42 || doc.SideFiles[1].Path != "/var/lib/xcp/state.db" {
		t.Errorf("side files %+v", doc.SideFiles)
	}
	var vm bool
	for _, tb := range doc.Tables {
		if tb.Name == "VM" {
			vm = tb.Rows == 3 && len(tb.Columns) > 70 && tb.Columns[0] == "HVM__boot_params"
		}
	}
	if !vm {
		t.Errorf("VM table wrong: %+v", doc.Tables)
	}

	// a plain gzip file, text output
	gz := filepath.Join(t.TempDir(), "state.db")
	if err := fixtures.WriteStateDBFile(gz, fixtures.StateDBSpec{Release: "5.5", VMs: 1}, true); err != nil {
		t.Fatal(err)
	}
	before = versionTreeState(t, filepath.Dir(gz))
	code, out, errOut = runCLI("statedb", "show", gz)
	if code != 0 || !strings.Contains(out, "gzip-compressed") || !strings.Contains(out, "schema 5.57: written by XenServer 5.5") ||
		!strings.Contains(out, "manifest (old form, 12 pairs)") || !strings.Contains(out, "generation    /") && !strings.Contains(out, "generation") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	sameTree(t, "show FILE", before, versionTreeState(t, filepath.Dir(gz)))
}

func TestStatedbBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, err := fixtures.StateDB(fixtures.StateDBSpec{Release: "6.2", VMs: 1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trunc := write("trunc.db", good[:len(good)/2])
	badEsc := write("esc.db", []byte(strings.Replace(string(good), `name__label="Local storage"`, `name__label="Local&nbsp;storage"`, 1)))
	garbage := write("gz.db", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3})
	okFile := write("ok.db", good)
	tests := []struct {
		argv []string
		code int
		msg  string
	}{
		{[]string{"statedb", "show", trunc}, 2, trunc + ": offset "},
		{[]string{"statedb", "show", badEsc}, 2, `table SR, row 1`},
		{[]string{"statedb", "show", garbage}, 2, "gzip"},
		{[]string{"statedb", "show", filepath.Join(dir, "missing.db")}, 2, "no such file"},
		{[]string{"statedb", "show", okFile, "--root", dir}, 2, "not both"},
		{[]string{"statedb", "diff", okFile}, 2, "expected 2 argument"},
		{[]string{"statedb", "diff", okFile, trunc}, 2, trunc + ": offset"},
		{[]string{"statedb", "patch", okFile, "--to-release", "9.9"}, 2, "not in the release table"},
		{[]string{"statedb", "patch", "--to-release", "5.0"}, 2, "give FILE, --root DIR or --disk DISK"},
		{[]string{"statedb", "patch", okFile}, 2, "exactly one of"},
		{[]string{"statedb", "patch", okFile, "--to-schema", "x"}, 2, "--to-schema"},
		{[]string{"statedb", "patch", okFile, "--to-release", "8.2"}, 3, "newer than the database"},
		{[]string{"statedb", "patch", okFile, "--to-release", "5.5"}, 2, "installation_uuid"},
		{[]string{"statedb", "show", "--bogus"}, 2, "bogus"},
	}
	before := versionTreeState(t, dir)
	for _, tt := range tests {
		code, _, errOut := runCLI(tt.argv...)
		if code != tt.code || !strings.Contains(errOut, tt.msg) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, %q; want %d, %q", tt.argv, code, errOut, tt.code, tt.msg)
		}
	}
	sameTree(t, "errors", before, versionTreeState(t, dir))
}

func TestStatedbDiff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fresh, carried := filepath.Join(dir, "fresh.db"), filepath.Join(dir, "state.db")
	if err := fixtures.WriteStateDBFile(fresh, fixtures.StateDBSpec{Release: "5.0", Fresh: true, Seed: "h"}, false); err != nil {
		t.Fatal(err)
	}
	if err := fixtures.WriteStateDBFile(carried, fixtures.StateDBSpec{Release: "5.5", VMs: 2, Seed: "h"}, true); err != nil {
		t.Fatal(err)
	}
	before := versionTreeState(t, dir)
	code, out, errOut := runCLI("statedb", "diff", carried, fresh, "--rows", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var d statedb.Diff
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if m := d.Manifest["schema_minor_vsn"]; *m.A != "57" || *m.B != "55" {
		t.Errorf("manifest %+v", d.Manifest)
	}
	if strings.Join(d.TablesOnlyInA, ",") != "auth,subject" || len(d.ColumnsOnlyInA["host"]) != 3 {
		t.Errorf("tables %v columns %v", d.TablesOnlyInA, d.ColumnsOnlyInA)
	}
	// same host (seed): host, pool and dom0 share refs and differ in values
	vm := d.RowChanges["VM"]
	if vm == nil || len(vm.Added) != 0 || len(vm.Removed) != 2 || len(vm.Changed) != 0 {
		t.Errorf("VM row changes %+v", vm)
	}
	if h := d.RowChanges["host"]; h == nil || len(h.Changed) != 1 {
		t.Errorf("host row changes %+v", h)
	}
	code, out, _ = runCLI("statedb", "diff", carried, fresh)
	if code != 0 || !strings.Contains(out, "schema_minor_vsn: \"57\" -> \"55\"") || !strings.Contains(out, "tables only in A: auth, subject") ||
		!strings.Contains(out, "host: external_auth_configuration, external_auth_service_name, external_auth_type") {
		t.Errorf("text diff:\n%s", out)
	}
	sameTree(t, "diff", before, versionTreeState(t, dir))
}

// TestStatedbPatchDowngrade is the field case: a 7.1 root (after the
// installer downgrade) holding the 8.2 database, patched like the fresh
// database the 7.1 xapi writes, through the journal, and undone.
func TestStatedbPatchDowngrade(t *testing.T) {
	t.Parallel()
	db := fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 2, Seed: "host1"}
	dir := statedbRoot(t, "7.1", db, func(dir string) error {
		// ha_metadata.db from a later flush: xapi loads it, so --file names
		// state.db and --set-aside renames the winner
		p := filepath.Join(dir, "var/lib/xcp/ha_metadata.db")
		if err := fixtures.WriteStateDBFile(p, db, false); err != nil {
			return err
		}
		return os.WriteFile(p+".generation", []byte("5000"), 0o600)
	})
	ref := filepath.Join(t.TempDir(), "fresh71.db")
	if err := fixtures.WriteStateDBFile(ref, fixtures.StateDBSpec{Release: "7.1", Fresh: true, Seed: "host1"}, false); err != nil {
		t.Fatal(err)
	}
	before := versionTreeState(t, dir)

	code, out, errOut := runCLI("statedb", "patch", "--root", dir, "--file", "/var/lib/xcp/state.db", "--like", ref, "--dry-run")
	if code != 3 || !strings.Contains(errOut, "table Certificate (1 row)") || !strings.Contains(out, "drop table Certificate (1 row)") {
		t.Fatalf("refusal: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI("statedb", "patch", "--root", dir, "--file", "/var/lib/xcp/state.db", "--like", ref, "--drop-data", "--dry-run")
	for _, want := range []string{"schema 5.603 -> 5.108", "~ schema_minor_vsn=603 -> 108", "drop column VM.domain_type",
		"values re-encoded", "WARNING: /var/lib/xcp/ha_metadata.db (ha_metadata) would be loaded instead: pass --set-aside"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("dry run: exit %d, no %q in\n%s\n%s", code, want, out, errOut)
		}
	}
	sameTree(t, "dry run", before, versionTreeState(t, dir))

	code, out, errOut = runCLI("statedb", "patch", "--root", dir, "--file", "/var/lib/xcp/state.db", "--like", ref, "--drop-data", "--set-aside", "--yes", "--json")
	if code != 0 {
		t.Fatalf("patch: exit %d\n%s\n%s", code, out, errOut)
	}
	var doc struct {
		Path          string             `json:"path"`
		ManifestAfter map[string]string  `json:"manifest_after"`
		Competitors   []statedb.SideFile `json:"competitors"`
	}
	m := parseMutation(t, out, &doc)
	if doc.Path != "/var/lib/xcp/state.db" || doc.ManifestAfter["schema_minor_vsn"] != "108" || len(doc.Competitors) != 1 || m.Op == nil || m.Op.ID == 0 {
		t.Fatalf("doc %s", out)
	}
	patched, err := os.ReadFile(filepath.Join(dir, "var/lib/xcp/state.db"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(patched), "Certificate") || strings.Contains(string(patched), "%.") || !strings.Contains(string(patched), "__ctime=") {
		t.Error("patched file still has 8.2 content")
	}
	if g, _ := os.ReadFile(filepath.Join(dir, "var/lib/xcp/state.db.generation")); string(g) != "1024" {
		t.Errorf(".generation %q", g)
	}
	code, out, _ = runCLI("statedb", "show", "--root", dir)
	if code != 0 || !strings.Contains(out, "schema 5.108") || !strings.Contains(out, "xapi loads /var/lib/xcp/state.db") {
		t.Errorf("show after patch:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "var/lib/xcp/ha_metadata.db.generation"+statedb.AsideSuffix)); err != nil {
		t.Error(err)
	}

	code, _, errOut = runCLI(append(m.Op.Undo[1:], "--yes")...)
	if code != 0 {
		t.Fatalf("undo: exit %d %s", code, errOut)
	}
	after := versionTreeState(t, dir)
	for k := range after {
		if strings.HasPrefix(k, "var/lib/xsrescue") {
			delete(after, k)
		}
	}
	sameTree(t, "undo", before, after)
}

// TestStatedbPatchOutput: --output writes the patched database to a new file
// (or stdout) and changes nothing in the root; the bytes are exactly those
// the in-place patch leaves. An existing OUT is refused, never overwritten.
func TestStatedbPatchOutput(t *testing.T) {
	t.Parallel()
	dir := statedbRoot(t, "7.1", fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 3, Seed: "host1"}, nil)
	ref := filepath.Join(t.TempDir(), "fresh71.db")
	if err := fixtures.WriteStateDBFile(ref, fixtures.StateDBSpec{Release: "7.1", Fresh: true, Seed: "host1"}, false); err != nil {
		t.Fatal(err)
	}
	before := versionTreeState(t, dir)
	patch := func(extra ...string) (int, string, string) {
		return runCLI(append([]string{"statedb", "patch", "--root", dir, "--like", ref, "--drop-data"}, extra...)...)
	}
	out := filepath.Join(t.TempDir(), "patched.db")

	// --dry-run --json lists the changes the in-place patch would make.
	code, stdout, errOut := patch("--dry-run", "--json")
	dry := parseMutation(t, stdout, nil)
	if code != 0 || !dry.DryRun || !dry.Changed || len(dry.Changes) == 0 || dry.Changes[0].Action != "write" || dry.Changes[0].Path != "var/lib/xcp/state.db" {
		t.Fatalf("dry run plan: exit %d\n%s%s", code, stdout, errOut)
	}

	if code, _, errOut := patch("--output", out, "--dry-run"); code != 0 || !strings.Contains(errOut, "nothing was written") {
		t.Fatalf("dry run: exit %d %s", code, errOut)
	}
	if _, err := os.Lstat(out); err == nil {
		t.Fatal("--dry-run --output wrote the file")
	}
	code, stdout, errOut = patch("--output", out, "--json")
	if code != 0 {
		t.Fatalf("--output: exit %d\n%s\n%s", code, stdout, errOut)
	}
	var doc struct {
		Output *struct {
			Path       string `json:"path"`
			Bytes      int64  `json:"bytes"`
			SHA256     string `json:"sha256"`
			Generation int64  `json:"generation"`
		} `json:"output"`
	}
	m := parseMutation(t, stdout, &doc)
	sum, err := fixtures.FileSHA256(out)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(out)
	// The output file is the one change, by its absolute path; no op.
	if len(m.Changes) != 1 || m.Changes[0].Path != out || m.Changes[0].AfterSHA256 == nil || *m.Changes[0].AfterSHA256 != sum {
		t.Errorf("changes of --output: %s", stdout)
	}
	if m.Op != nil || doc.Output == nil || doc.Output.Path != out || doc.Output.SHA256 != sum || doc.Output.Bytes != fi.Size() || doc.Output.Generation <= 0 {
		t.Fatalf("doc %s (file sha256 %s)", stdout, sum)
	}
	sameTree(t, "--output", before, versionTreeState(t, dir))

	// The same command again: OUT already holds exactly the patched
	// database, so that is "already as requested" (exit 0, nothing written,
	// changed false): a second Ansible apply is ok.
	code, stdout, errOut = patch("--output", out, "--json")
	if code != 0 || !strings.Contains(errOut+stdout, `"changed": false`) {
		t.Fatalf("OUT already the patched database: exit %d\n%s\n%s", code, stdout, errOut)
	}
	if code, stdout, errOut := patch("--output", out); code != 0 || !strings.Contains(stdout, "Already as requested") {
		t.Fatalf("OUT already the patched database (text): exit %d\n%s\n%s", code, stdout, errOut)
	}
	// An OUT holding anything else is refused, and not changed.
	other := out + ".other"
	testutil.Must(t, os.WriteFile(other, []byte("not the patched database\n"), 0o644))
	if code, _, errOut := patch("--output", other); code != 3 || !strings.Contains(errOut, "holds something else") {
		t.Fatalf("existing OUT: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(other); string(b) != "not the patched database\n" {
		t.Fatal("an existing OUT was changed")
	}
	if again, _ := fixtures.FileSHA256(out); again != sum {
		t.Fatal("an existing OUT was changed")
	}
	code, stdout, errOut = patch("-o", "-")
	if code != 0 || !strings.Contains(errOut, "Wrote the patched database to stdout") || fmt.Sprintf("%x", sha256.Sum256([]byte(stdout))) != sum {
		t.Fatalf("-o -: exit %d, %d bytes\n%s", code, len(stdout), errOut)
	}
	outDir := filepath.Join(t.TempDir(), "is-a-dir")
	testutil.Must(t, os.Mkdir(outDir, 0o755))
	if code, stdout, errOut := patch("--output", outDir); code != 3 || stdout != "" {
		t.Errorf("an OUT that is not a file is refused before the plan is shown: exit %d\n%s%s", code, stdout, errOut)
	}
	for _, bad := range [][]string{{"-o", "-", "--json"}, {"-o", out + ".2", "--set-aside"}, {"-o", filepath.Join(dir, "no/such/dir/x.db")}} {
		if code, _, errOut := patch(bad...); code != 2 {
			t.Errorf("%v: exit %d %s", bad, code, errOut)
		}
	}
	sameTree(t, "--output and its refusals", before, versionTreeState(t, dir))

	if code, _, errOut := patch("--yes"); code != 0 {
		t.Fatalf("in place: exit %d %s", code, errOut)
	}
	if inPlace, _ := fixtures.FileSHA256(filepath.Join(dir, "var/lib/xcp/state.db")); inPlace != sum {
		t.Error("the in-place patch and --output differ")
	}
	if g, _ := os.ReadFile(filepath.Join(dir, "var/lib/xcp/state.db.generation")); string(g) != strconv.FormatInt(doc.Output.Generation, 10) {
		t.Errorf("in place .generation %q, --output said %d", g, doc.Output.Generation)
	}

	// As if the op had been cut short by a crash: the same command must not
	// say "already as requested" (recover would put the old file back), and
	// recover --dry-run lists the op.
	markInterrupted(t, filepath.Join(dir, "var/lib/xsrescue/journal.db"), false)
	if code, stdout, errOut := patch("--yes"); code != 3 || !strings.Contains(errOut, "run xsrescue journal recover first") || strings.Contains(stdout, "already as requested") {
		t.Fatalf("same patch with an interrupted op: exit %d\n%s%s", code, stdout, errOut)
	}
	code, stdout, errOut = runCLI("journal", "recover", "--root", dir, "--dry-run", "--json")
	var rec struct {
		Interrupted []struct {
			ID int64 `json:"id"`
		} `json:"interrupted"`
	}
	if m := parseMutation(t, stdout, &rec); code != 0 || len(rec.Interrupted) != 1 || len(m.Changes) == 0 {
		t.Fatalf("recover --dry-run --json: exit %d\n%s%s", code, stdout, errOut)
	}
}

// TestStatedbPatchToRelease: a 7.1 database on a 5.0 root, patched with the
// release table only: the 12-pair manifest gets the host values from the
// inventory; nothing is dropped, the suspects are listed.
func TestStatedbPatchToRelease(t *testing.T) {
	t.Parallel()
	dir := statedbRoot(t, "5.0", fixtures.StateDBSpec{Release: "7.1", VMs: 1, Seed: "host1"}, func(dir string) error {
		if err := os.WriteFile(filepath.Join(dir, "etc/xensource/pool.conf"), []byte("master"), 0o600); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "etc/xensource/ptoken"), []byte("tok-123\n"), 0o600)
	})
	// what 5.0 does not know holds data: refused, named, nothing changed
	code, _, errOut := runCLI("statedb", "patch", "--root", dir, "--to-release", "5.0", "--yes")
	if code != 3 || !strings.Contains(errOut, "table VM_appliance") && !strings.Contains(errOut, "column VIF.MAC_autogenerated") {
		t.Fatalf("without --drop-data: exit %d %s", code, errOut)
	}
	// --keep-copy: refused unless the copy holds exactly the database,
	// in a dry run too; nothing written
	db := filepath.Join(dir, "var/xapi/state.db")
	orig, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(t.TempDir(), "kept copy.db")
	for _, c := range []struct {
		name string
		copy []byte // nil: no copy
	}{{"missing", nil}, {"short", orig[:len(orig)-1]}, {"one byte off", append([]byte{orig[0] ^ 1}, orig[1:]...)}} {
		os.Remove(kept)
		if c.copy != nil {
			os.WriteFile(kept, c.copy, 0o600)
		}
		for _, dry := range []string{"--dry-run", "--yes"} {
			code, _, errOut := runCLI("statedb", "patch", "--root", dir, "--to-release", "5.0", "--drop-data", "--keep-copy", kept, dry)
			if now, _ := os.ReadFile(db); code != 3 || !strings.Contains(errOut, "--keep-copy "+kept) || !bytes.Equal(now, orig) {
				t.Fatalf("--keep-copy %s %s: exit %d %s", c.name, dry, code, errOut)
			}
		}
	}
	if err := os.WriteFile(kept, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("statedb", "patch", "--root", dir, "--to-release", "5.0", "--drop-data", "--keep-copy", kept, "--yes")
	for _, want := range []string{"+ installation_uuid=" + fixtures.UUID("host1/installation"), "+ pool_token=tok-123", "+ product_version=5.0.0",
		"drop table role", "drop column VIF.MAC_autogenerated", "rows lose __ctime/__mtime", "Checked (while writing): xapi of schema 5.55 (XenServer 5.0) loads the patched database."} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("exit %d, no %q in\n%s\n%s", code, want, out, errOut)
		}
	}
	if code, out, errOut := runCLI("statedb", "check", "--root", dir, "--for-release", "5.0"); code != 0 || !strings.Contains(out, "loads: xapi of schema 5.55 (XenServer 5.0) would load it") {
		t.Errorf("check after the patch: exit %d\n%s\n%s", code, out, errOut)
	}
	// a second run has nothing to do
	code, out, _ = runCLI("statedb", "patch", "--root", dir, "--to-release", "5.0", "--yes")
	if code != 0 || !strings.Contains(out, "Nothing to change") || !strings.Contains(out, "Checked (as it is)") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
	// a plain file without host values cannot get the 12-pair manifest
	plain := filepath.Join(t.TempDir(), "state.db")
	if err := fixtures.WriteStateDBFile(plain, fixtures.StateDBSpec{Release: "6.2", VMs: 1}, false); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI("statedb", "patch", plain, "--to-release", "5.5", "--drop-data", "--yes"); code != 2 || !strings.Contains(errOut, "installation_uuid") {
		t.Errorf("plain old-manifest target: exit %d %s", code, errOut)
	}
	// a root without its inventory: the message names the missing file
	bare := statedbRoot(t, "5.0", fixtures.StateDBSpec{Release: "6.2", VMs: 1}, func(dir string) error {
		return os.Remove(filepath.Join(dir, "etc/xensource-inventory"))
	})
	code, _, errOut = runCLI("statedb", "patch", "--root", bare, "--to-release", "5.5", "--drop-data", "--yes")
	if code != 2 || !strings.Contains(errOut, "installation_uuid is not in the database, and the root has no /etc/xensource-inventory (its INSTALLATION_UUID is needed)") || strings.Contains(errOut, "give --root") {
		t.Errorf("root without inventory: exit %d %s", code, errOut)
	}
}

// TestStatedbDisk: the 5.5 → 5.0 downgrade on a disk image: show and dry
// run leave the image byte-identical; the patch goes through a real mount.
func TestStatedbDisk(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "mounting a partition of an image")
	root := fixtures.RootSpec{Release: "5.0", Populate: func(dir string) error {
		return fixtures.WriteStateDBFile(filepath.Join(dir, "var/xapi/state.db"), fixtures.StateDBSpec{Release: "5.5", VMs: 2, Seed: "statedb-disk"}, false)
	}}
	img, err := fixtures.BuildDisk(t.TempDir(), fixtures.Mini("statedb-disk", "dos", root, nil))
	if err != nil {
		t.Fatal(err)
	}
	sum := func() string {
		s, err := fixtures.FileSHA256(img)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := sum()
	code, out, errOut := runCLI("statedb", "show", "--disk", img, "--json")
	if code != 0 || !strings.Contains(out, `"xapi_loads": "/var/xapi/state.db"`) || !strings.Contains(out, `"schema_minor": 57`) {
		t.Fatalf("show: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI("statedb", "check", "--disk", img, "--for-release", "5.0")
	if code != 4 || !strings.Contains(out, "[schema-mismatch]") || !strings.Contains(out, "- table subject (0 rows) is unknown") {
		t.Fatalf("check: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI("statedb", "patch", "--disk", img, "--to-release", "5.0", "--drop-data", "--dry-run")
	if code != 0 || !strings.Contains(out, "~ schema_minor_vsn=57 -> 55") || !strings.Contains(out, "drop table subject") || !strings.Contains(out, "Checked (dry run)") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	out55 := filepath.Join(t.TempDir(), "state-5.0.db")
	code, out, errOut = runCLI("statedb", "patch", "--disk", img, "--to-release", "5.0", "--drop-data", "--output", out55)
	if code != 0 || !strings.Contains(out, "Wrote the patched database to "+out55) {
		t.Fatalf("--output: exit %d\n%s\n%s", code, out, errOut)
	}
	if sum() != before {
		t.Fatal("show, dry run or --output changed the image")
	}
	if code, out, _ = runCLI("statedb", "show", out55); code != 0 || !strings.Contains(out, "schema 5.55: written by XenServer 5.0") {
		t.Fatalf("the --output copy:\n%s", out)
	}
	code, out, errOut = runCLI("statedb", "patch", "--disk", img, "--to-release", "5.0", "--drop-data", "--yes")
	if code != 0 {
		t.Fatalf("patch: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI("statedb", "show", "--disk", img)
	if code != 0 || !strings.Contains(out, "schema 5.55: written by XenServer 5.0") || !strings.Contains(out, "product_version        5.0.0") {
		t.Errorf("after patch:\n%s", out)
	}
}

// TestStatedbShowCompressMismatch: db.conf compress:true with a plain file is
// reported; the gzip file it expects is read and its form shown.
func TestStatedbShowCompressMismatch(t *testing.T) {
	t.Parallel()
	dir := statedbRoot(t, "7.1", fixtures.StateDBSpec{Release: "7.1", VMs: 1}, func(dir string) error {
		return os.WriteFile(filepath.Join(dir, "etc/xensource/db.conf"), []byte("[/var/lib/xcp/state.db]\nmode:no_limit\nformat:xml\ncompress:true\n"), 0o644)
	})
	code, out, _ := runCLI("statedb", "show", "--root", dir)
	if code != 0 || !strings.Contains(out, "problem: db.conf says compress:true but the file is plain XML") {
		t.Errorf("exit %d\n%s", code, out)
	}
	if err := fixtures.WriteStateDBFile(filepath.Join(dir, "var/lib/xcp/state.db"), fixtures.StateDBSpec{Release: "7.1", VMs: 1}, true); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI("statedb", "show", "--root", dir)
	if code != 0 || strings.Contains(out, "problem:") || !strings.Contains(out, "gzip-compressed") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// TestStatedbPatchFollowsXapi: the patch edits the file xapi loads (the
// second db.conf connection, by .generation), so that `doctor`'s planned
// step takes effect; and it never lowers a .generation, which would hand
// the load to a competitor that was losing before.
func TestStatedbPatchFollowsXapi(t *testing.T) {
	t.Parallel()
	fresh55 := filepath.Join(t.TempDir(), "fresh55.db")
	if err := fixtures.WriteStateDBFile(fresh55, fixtures.StateDBSpec{Release: "5.5", Fresh: true, Seed: "host1"}, false); err != nil {
		t.Fatal(err)
	}
	db71 := fixtures.StateDBSpec{Release: "7.1", VMs: 1, Seed: "host1"}
	setGen := func(p, g string) error { return os.WriteFile(p+statedb.GenSuffix, []byte(g), 0o600) }
	writeDB := func(p string, compress bool, g string) error {
		if err := fixtures.WriteStateDBFile(p, db71, compress); err != nil {
			return err
		}
		return setGen(p, g)
	}
	readGen := func(dir, p string) string {
		g, err := os.ReadFile(filepath.Join(dir, p+statedb.GenSuffix))
		if err != nil {
			t.Fatal(err)
		}
		return string(g)
	}

	t.Run("second db.conf connection", func(t *testing.T) {
		dir := statedbRoot(t, "7.1", fixtures.StateDBSpec{Release: "5.5", Fresh: true, Seed: "host1"}, func(dir string) error {
			conf := "[/var/lib/xcp/state.db]\nmode:write_limit\nformat:xml\n\n[/var/lib/xcp/remote.db]\nmode:no_limit\nformat:xml\ncompress:true\n"
			if err := os.WriteFile(filepath.Join(dir, "etc/xensource/db.conf"), []byte(conf), 0o644); err != nil {
				return err
			}
			if err := writeDB(filepath.Join(dir, "var/lib/xcp/remote.db"), true, "5000"); err != nil {
				return err
			}
			return setGen(filepath.Join(dir, "var/lib/xcp/state.db"), "5")
		})
		code, out, errOut := runCLI("statedb", "patch", "--root", dir, "--like", fresh55, "--drop-data", "--yes", "--json")
		if code != 0 {
			t.Fatalf("patch: exit %d\n%s\n%s", code, out, errOut)
		}
		var doc statedbPatchDoc
		parseMutation(t, out, &doc)
		if doc.Path != "/var/lib/xcp/remote.db" || !doc.Compressed || len(doc.Competitors) != 0 || doc.ManifestAfter["generation_count"] != "5000" {
			t.Errorf("patched %s (compressed %v), competitors %v, manifest %v", doc.Path, doc.Compressed, doc.Competitors, doc.ManifestAfter)
		}
		if g := readGen(dir, "var/lib/xcp/remote.db"); g != "5000" {
			t.Errorf("remote.db.generation %q", g)
		}
		code, out, _ = runCLI("statedb", "show", "--root", dir)
		if code != 0 || !strings.Contains(out, "xapi loads /var/lib/xcp/remote.db") || !strings.Contains(out, "schema 5.57") || strings.Contains(out, "problem:") {
			t.Errorf("show after patch:\n%s", out)
		}
	})

	t.Run("generation kept", func(t *testing.T) {
		dir := statedbRoot(t, "7.1", db71, func(dir string) error {
			if err := writeDB(filepath.Join(dir, "var/lib/xcp/ha_metadata.db"), false, "2000"); err != nil {
				return err
			}
			return setGen(filepath.Join(dir, "var/lib/xcp/state.db"), "5000")
		})
		code, out, errOut := runCLI("statedb", "patch", "--root", dir, "--to-release", "7.0", "--drop-data", "--yes")
		if code != 0 || strings.Contains(out, "WARNING") || !strings.Contains(out, "~ generation_count=") || !strings.Contains(out, "-> 5000") {
			t.Fatalf("patch: exit %d\n%s\n%s", code, out, errOut)
		}
		if g := readGen(dir, "var/lib/xcp/state.db"); g != "5000" {
			t.Errorf("state.db.generation %q, want 5000 kept", g)
		}
		code, out, _ = runCLI("statedb", "show", "--root", dir)
		if code != 0 || !strings.Contains(out, "xapi loads /var/lib/xcp/state.db") || !strings.Contains(out, "schema 5.93") || strings.Contains(out, "problem:") {
			t.Errorf("show after patch:\n%s", out)
		}
	})
}

// TestStatedbShowDuplicateRefs: rows repeating a ref are a problem (xapi
// keeps one row per ref).
func TestStatedbShowDuplicateRefs(t *testing.T) {
	t.Parallel()
	db := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="108"/><pair key="generation_count" value="3"/></manifest>` +
		`<table name="VM"><row ref="OpaqueRef:1" uuid="a"/><row ref="OpaqueRef:1" uuid="b"/></table></database>`
	p := filepath.Join(t.TempDir(), "dup.db")
	if err := os.WriteFile(p, []byte("\xef\xbb\xbf"+db), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("statedb", "show", p)
	if code != 0 || !strings.Contains(out, "problem: table VM: 1 row(s) repeat a ref (OpaqueRef:1)") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestStatedbDiskNoDatabase: an error about a --disk names the image and
// partition, not the private mount point.
func TestStatedbDiskNoDatabase(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "mounting a partition of an image")
	img, err := fixtures.BuildDisk(t.TempDir(), fixtures.Mini("statedb-nodb", "dos", fixtures.RootSpec{Release: "7.1"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{{"statedb", "show", "--disk", img}, {"statedb", "patch", "--disk", img, "--to-release", "7.0", "-n"}} {
		code, _, errOut := runCLI(argv...)
		if code != 2 || !strings.Contains(errOut, img+" partition 1: no xapi database") || strings.Contains(errOut, "xsrescue-mnt") {
			t.Errorf("%v: exit %d %q", argv, code, errOut)
		}
	}
}

// writeNewFile (statedb patch --output, journal export): interrupted, it
// leaves nothing under the name nor beside it; an existing name is refused
// even when it appears while the content is written.
func TestWriteNewFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.db")
	ctx, cancel := context.WithCancel(context.Background())
	e := newEnv(nil, io.Discard, io.Discard)
	_, _, err := e.writeNewFile(ctx, out, func(w io.Writer) error {
		if _, err := w.Write([]byte("first part\n")); err != nil {
			return err
		}
		cancel()
		_, err := w.Write([]byte("second part\n"))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("cancelled write: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	_, _, err = e.writeNewFile(context.Background(), out, func(w io.Writer) error {
		if err := os.WriteFile(out, []byte("someone else's\n"), 0o644); err != nil {
			return err
		}
		_, err := w.Write([]byte("mine\n"))
		return err
	})
	if got, _ := os.ReadFile(out); err == nil || !strings.Contains(err.Error(), "already exists") || string(got) != "someone else's\n" {
		t.Fatalf("a name taken while writing: %v, file %q", err, got)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Fatalf("left behind: %v", left)
	}
}

// A manifest pair with value before key loads in xsrescue but not in xapi:
// show says so.
func TestStatedbShowPairOrder(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "state.db")
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<database><manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="108"/><pair value="9" key="generation_count"/></manifest><table name="VM"><row ref="OpaqueRef:1" name__label="a b"/></table></database>`
	if err := os.WriteFile(db, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("statedb", "show", db)
	if code != 0 || !strings.Contains(out, "problem: manifest pair 3 (generation_count) has value before key") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// statedb patch FILE names FILE in a parse error, not "/NAME" (the file
// inside the directory it opens as the root).
func TestStatedbPatchFileErrorName(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "x.db")
	if err := os.WriteFile(db, []byte(`<?xml version="1.0"?>`+"\n"+`<database><manifest><pair key="schema_major_vsn" value="5"/></manifest></database>`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("statedb", "patch", db, "--to-release", "7.1", "--dry-run")
	if code != 2 || !strings.Contains(errOut, db+": offset 32: manifest: missing key schema_minor_vsn") {
		t.Fatalf("exit %d %s", code, errOut)
	}
}

// Ctrl-C (a cancelled context) is reported as "interrupted", never as Go's
// "context canceled"; the exit code stays 1.
func TestInterruptedMessage(t *testing.T) {
	t.Parallel()
	dir := statedbRoot(t, "7.1", fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 3, Seed: "host1"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var o, e strings.Builder
	code := run(ctx, []string{"xsrescue", "statedb", "patch", "--root", dir, "--to-release", "7.1", "--drop-data", "-o", filepath.Join(t.TempDir(), "out.db")}, strings.NewReader(""), &o, &e)
	if code != 1 || strings.Contains(e.String(), "context canceled") || !strings.Contains(e.String(), "interrupted") {
		t.Fatalf("exit %d: %s", code, e.String())
	}
}
