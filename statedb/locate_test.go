package statedb_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/statedb"
	"github.com/xsrescue/xsrescue/target"
)

// locate runs Locate on the root dir.
func locate(t *testing.T, dir string) *statedb.Location {
	t.Helper()
	root, err := target.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	loc, err := statedb.Locate(root)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestLocate(t *testing.T) {
	t.Parallel()
	type file struct {
		path string
		gen  string // "" : no .generation file
	}
	tests := []struct {
		name    string
		release string
		dbconf  *string
		files   []file
		loads   string
		reason  string
		roles   []string
	}{
		{name: "7.1: /var/xapi is a link to /var/lib/xcp", release: "7.1",
			files: []file{{"var/lib/xcp/state.db", "1036"}},
			loads: "var/lib/xcp/state.db", reason: "the only existing database", roles: []string{"db.conf"}},
		{name: "5.5 keeps it in /var/xapi", release: "5.5",
			files: []file{{"var/xapi/state.db", "1036"}},
			loads: "var/xapi/state.db", reason: "the only existing", roles: []string{"db.conf"}},
		{name: "ha_metadata wins a tie", release: "7.1",
			files: []file{{"var/lib/xcp/state.db", "50"}, {"var/lib/xcp/ha_metadata.db", "50"}},
			loads: "var/lib/xcp/ha_metadata.db", reason: "highest .generation, earlier entry on a tie", roles: []string{"ha_metadata", "db.conf"}},
		{name: "higher generation wins", release: "7.1",
			files: []file{{"var/lib/xcp/state.db", "51"}, {"var/lib/xcp/ha_metadata.db", "50"}, {"var/lib/xcp/gen_metadata.db", ""}},
			loads: "var/lib/xcp/state.db", reason: "/var/lib/xcp/gen_metadata.db generation none (counts as 0)", roles: []string{"ha_metadata", "gen_metadata", "db.conf"}},
		{name: "restore_db wins outright", release: "8.2.1",
			files: []file{{"var/lib/xcp/state.db", "99"}, {"var/lib/xcp/restore_db.db", "1"}},
			loads: "var/lib/xcp/restore_db.db", reason: "restore_db.db exists", roles: []string{"restore", "db.conf"}},
		{name: "no db.conf: both default paths compete", release: "5.5", dbconf: new(string),
			files: []file{{"var/xapi/state.db", "7"}, {"var/lib/xcp/state.db", "3"}},
			loads: "var/xapi/state.db", reason: "/var/lib/xcp/state.db generation 3, /var/xapi/state.db generation 7", roles: []string{"db.conf", "db.conf"}},
		{name: "no db.conf: XS <= 6.2 layout", release: "5.5", dbconf: new(string),
			files: []file{{"var/xapi/state.db", ""}},
			loads: "var/xapi/state.db", reason: "xapi's default paths (no db.conf)", roles: []string{"db.conf"}},
		{name: "db.conf names one path: the other is stale", release: "5.5",
			files: []file{{"var/xapi/state.db", "3"}, {"var/lib/xcp/state.db", "9"}},
			loads: "var/xapi/state.db", reason: "the only existing database among ha_metadata.db, gen_metadata.db and the db.conf connections", roles: []string{"db.conf", "stale"}},
		{name: "no database", release: "7.1",
			reason: "no database file exists: xapi would create a fresh one at /var/lib/xcp/state.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			spec := fixtures.RootSpec{Release: tt.release}
			if err := fixtures.WriteXenServerRoot(dir, spec); err != nil {
				t.Fatal(err)
			}
			if tt.dbconf != nil {
				if err := os.Remove(filepath.Join(dir, "etc/xensource/db.conf")); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tt.files {
				p := filepath.Join(dir, f.path)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := fixtures.WriteStateDBFile(p, fixtures.StateDBSpec{Release: tt.release, VMs: 1}, false); err != nil {
					t.Fatal(err)
				}
				if f.gen == "" {
					os.Remove(p + ".generation")
				} else if err := os.WriteFile(p+".generation", []byte(f.gen), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			loc := locate(t, dir)
			if loc.Loads != tt.loads || !strings.Contains(loc.Reason, tt.reason) {
				t.Errorf("loads %q (%s), want %q (%s)", loc.Loads, loc.Reason, tt.loads, tt.reason)
			}
			var roles []string
			for _, f := range loc.Files {
				roles = append(roles, f.Role)
			}
			if strings.Join(roles, ",") != strings.Join(tt.roles, ",") {
				t.Errorf("roles %v, want %v (%+v)", roles, tt.roles, loc.Files)
			}
		})
	}
}

func TestParseDBConf(t *testing.T) {
	t.Parallel()
	c, err := statedb.ParseDBConf([]byte("[/var/lib/xcp/state.db]\nmode:no_limit\nformat:xml\ncompress:true\n\n[/var/lib/xcp/other.db]\nmode:write_limit\n"), "db.conf")
	if err != nil || len(c) != 2 || !c[0].Compress || c[1].Compress || c[0].Params["format"] != "xml" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"mode:no_limit\n", "[relative/state.db]\n", "[/a]\ngarbage\n"} {
		if _, err := statedb.ParseDBConf([]byte(bad), "db.conf"); err == nil || !strings.Contains(err.Error(), "db.conf line") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestHostKeys: each host pair of the old manifest comes from one file of
// the root; a pair the root cannot give names that file and what it lacks
// (acceptance report #18: "give --root" when --root was given).
func TestHostKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := fixtures.WriteXenServerRoot(dir, fixtures.RootSpec{Release: "5.5", Seed: "hk"}); err != nil {
		t.Fatal(err)
	}
	r, err := target.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/xensource/pool.conf", "master\n")
	write("etc/xensource/ptoken", "tok\n")
	vals, missing, err := statedb.HostKeys(r)
	if err != nil || len(missing) != 0 || vals["installation_uuid"] != fixtures.UUID("hk/installation") || vals["pool_conf"] != "master" || vals["pool_token"] != "tok" {
		t.Fatalf("complete root: %q missing %q %v", vals, missing, err)
	}
	write("etc/xensource-inventory", "PRODUCT_VERSION='5.5.0'\nINSTALLATION_UUID='i'\n")
	if err := os.Remove(filepath.Join(dir, "etc/xensource/ptoken")); err != nil {
		t.Fatal(err)
	}
	_, missing, _ = statedb.HostKeys(r)
	if missing["control_domain_uuid"] != "/etc/xensource-inventory has no CONTROL_DOMAIN_UUID" || missing["pool_token"] != "the root has no /etc/xensource/ptoken (its content is needed)" || len(missing) != 2 {
		t.Fatalf("missing %q", missing)
	}
	if err := os.Remove(filepath.Join(dir, "etc/xensource-inventory")); err != nil {
		t.Fatal(err)
	}
	_, missing, _ = statedb.HostKeys(r)
	if missing["installation_uuid"] != "the root has no /etc/xensource-inventory (its INSTALLATION_UUID is needed)" {
		t.Fatalf("missing %q", missing)
	}
}

// TestPatchTargetAndCompetitors: a patch edits the file xapi loads (the
// second db.conf connection here, by .generation); a file loses to a
// candidate with a higher generation, or an equal one earlier in xapi's
// order; restore_db.db always competes and is never the patch target.
func TestPatchTargetAndCompetitors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := fixtures.WriteXenServerRoot(dir, fixtures.RootSpec{Release: "7.1"}); err != nil {
		t.Fatal(err)
	}
	conf := "[/var/lib/xcp/state.db]\nmode:write_limit\n\n[/var/lib/xcp/remote.db]\ncompress:true\n"
	if err := os.WriteFile(filepath.Join(dir, statedb.DBConfPath), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name, gen string) {
		p := filepath.Join(dir, "var/lib/xcp", name)
		if err := fixtures.WriteStateDBFile(p, fixtures.StateDBSpec{Release: "7.1", VMs: 1}, false); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p+statedb.GenSuffix, []byte(gen), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("state.db", "5")
	write("remote.db", "20")
	write("ha_metadata.db", "12")
	loc := locate(t, dir)
	paths := func(fs []statedb.SideFile) string {
		var s []string
		for _, f := range fs {
			s = append(s, f.Path)
		}
		return strings.Join(s, ",")
	}
	if got := loc.PatchTarget(); got != "var/lib/xcp/remote.db" {
		t.Errorf("patch target %q, want the file xapi loads", got)
	}
	for _, tt := range []struct {
		path string
		gen  int64
		want string
	}{
		{"var/lib/xcp/remote.db", 20, ""},
		{"var/lib/xcp/remote.db", 12, "var/lib/xcp/ha_metadata.db"}, // tie: ha_metadata comes first
		{"var/lib/xcp/state.db", 20, ""},                            // tie: state.db comes before remote.db
		{"var/lib/xcp/state.db", 12, "var/lib/xcp/ha_metadata.db,var/lib/xcp/remote.db"},
		{"var/lib/xcp/other.db", 99, "var/lib/xcp/ha_metadata.db,var/lib/xcp/state.db,var/lib/xcp/remote.db"}, // never loaded
	} {
		if got := paths(loc.Competitors(tt.path, tt.gen)); got != tt.want {
			t.Errorf("Competitors(%s, %d) = %q, want %q", tt.path, tt.gen, got, tt.want)
		}
	}
	write("restore_db.db", "1")
	loc = locate(t, dir)
	if loc.Loads != "var/lib/xcp/restore_db.db" || loc.PatchTarget() != "var/lib/xcp/state.db" {
		t.Errorf("with restore_db.db: loads %q, patch target %q", loc.Loads, loc.PatchTarget())
	}
	if got := paths(loc.Competitors("var/lib/xcp/state.db", 99)); got != "var/lib/xcp/restore_db.db" {
		t.Errorf("restore_db.db competitors %q", got)
	}
}

// TestLocateNotAFile: a FIFO, directory or socket at a database path is
// not "no database": xapi's Sys.file_exists is true for it, so xapi takes
// it and then hangs (FIFO) or fails (directory, socket). Locate names it,
// never opens it, and says what xapi does.
func TestLocateNotAFile(t *testing.T) {
	for _, tt := range []struct {
		typ  string
		make func(p string) error
		want string
	}{
		{"fifo", func(p string) error { return unix.Mkfifo(p, 0o644) }, "xapi hangs at start"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, "reading it fails (EISDIR)"},
		{"socket", func(p string) error {
			l, err := net.Listen("unix", p)
			if err == nil {
				l.(*net.UnixListener).SetUnlinkOnClose(false)
				l.Close()
			}
			return err
		}, "opening it fails (ENXIO)"},
	} {
		t.Run(tt.typ, func(t *testing.T) {
			dir := t.TempDir()
			if err := fixtures.WriteXenServerRoot(dir, fixtures.RootSpec{Release: "7.1"}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "var/lib/xcp/state.db")
			os.Remove(p)
			if err := tt.make(p); err != nil {
				t.Fatal(err)
			}
			done := make(chan *statedb.Location, 1)
			go func() { done <- locate(t, dir) }()
			var loc *statedb.Location
			select {
			case loc = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Locate hangs")
			}
			if loc.Loads != "var/lib/xcp/state.db" || !strings.Contains(loc.Problem, "is a "+tt.typ+", not a database file") ||
				!strings.Contains(loc.Problem, tt.want) || strings.Contains(loc.Reason, "fresh") {
				t.Errorf("loads %q, problem %q, reason %q", loc.Loads, loc.Problem, loc.Reason)
			}
			if f := loc.Loaded(); f == nil || f.Type != tt.typ {
				t.Errorf("loaded %+v, want type %s", f, tt.typ)
			}
		})
	}
}
