package ansiblemod

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestModuleName(t *testing.T) {
	for _, tc := range []struct {
		argv0, name string
		ok          bool
	}{
		{"/root/.ansible/tmp/ansible-tmp-1/AnsiballZ_xsrescue_version", "xsrescue_version", true},
		{"./xsrescue_facts", "xsrescue_facts", true},
		{"AnsiballZ_xsrescue_partition_image", "xsrescue_partition_image", true},
		{"/usr/sbin/xsrescue", "", false},
		{"AnsiballZ_xsrescue_nosuch", "", false},
		{"xsrescue_version.py", "", false},
	} {
		name, ok := ModuleName(tc.argv0)
		if ok != tc.ok || (ok && name != tc.name) {
			t.Errorf("ModuleName(%q) = %q, %v; want %q, %v", tc.argv0, name, ok, tc.name, tc.ok)
		}
	}
}

// recorder stands in for the command tree: it records each command line
// and answers with the document of the test case.
type recorder struct {
	argvs  [][]string
	answer func(argv []string) (int, string, string)
}

func (r *recorder) run(_ context.Context, argv []string, stdout, stderr io.Writer) int {
	r.argvs = append(r.argvs, argv)
	code, out, errs := r.answer(argv)
	io.WriteString(stdout, out)
	io.WriteString(stderr, errs)
	return code
}

func runWith(t *testing.T, name, args string, r *recorder) *Result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(path, []byte(args), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := Main(context.Background(), name, []string{path}, r.run, &out)
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("result is not JSON: %v\n%s", err, out.String())
	}
	if (code != 0) != res.Failed {
		t.Errorf("exit status %d with failed=%v", code, res.Failed)
	}
	return &res
}

// mutationDoc is a mutation document as every mutating verb prints it.
const mutationDoc = `{"schema_version": 1, "changed": true, "dry_run": false,
 "target": {"disk": "/dev/sda", "partition": 1, "root": null, "path": null},
 "changes": [{"path": "etc/issue", "action": "write", "why": "w",
   "diff": "--- a/etc/issue\n+++ b/etc/issue\n@@ -1,2 +1,2 @@\n-XenServer 5.5\n+XenServer 5.0\n kept\n",
   "before_sha256": "aa", "after_sha256": "bb"},
  {"path": "var/xapi/state.db", "action": "write", "why": "w", "diff": null, "before_sha256": "cc", "after_sha256": "dd"}],
 "op": {"id": 2, "journal": {"path": "/j.db"}, "undo": ["xsrescue", "journal", "undo", "2", "--disk", "/dev/sda"]},
 "ops": [{"id": 1, "undo": ["xsrescue", "journal", "undo", "1"]}, {"id": 2, "undo": ["xsrescue", "journal", "undo", "2", "--disk", "/dev/sda"]}],
 "problems": []}`

func TestMutationDocument(t *testing.T) {
	r := &recorder{answer: func([]string) (int, string, string) { return 0, mutationDoc, "" }}
	res := runWith(t, "xsrescue_statedb", `{"disk": "/dev/sda", "partition": 1, "drop_data": true, "set_aside": false,
		"like": "-ref.db", "database": null, "_ansible_diff": true, "_ansible_verbosity": 3}`, r)
	wantArgv := [][]string{{"xsrescue", "statedb", "patch", "--disk=/dev/sda", "--drop-data", "--like=-ref.db", "--partition=1", "--json", "--dry-run", "--"},
		{"xsrescue", "statedb", "patch", "--disk=/dev/sda", "--drop-data", "--like=-ref.db", "--partition=1", "--json", "--yes", "--"}}
	if diff := cmp.Diff(wantArgv, r.argvs); diff != "" {
		t.Errorf("command lines (-want +got):\n%s", diff)
	}
	if !res.Changed || res.Failed || res.Rc != 0 {
		t.Errorf("want changed, not failed; got %+v", res)
	}
	wantUndo := [][]string{{"xsrescue", "journal", "undo", "2", "--disk", "/dev/sda"}, {"xsrescue", "journal", "undo", "1"}}
	if diff := cmp.Diff(wantUndo, res.Undo); diff != "" {
		t.Errorf("undo, newest first (-want +got):\n%s", diff)
	}
	wantDiff := []Diff{
		{BeforeHeader: "etc/issue (from line 1)", AfterHeader: "etc/issue (from line 1)", Before: "XenServer 5.5\nkept\n", After: "XenServer 5.0\nkept\n"},
		{Prepared: "# write var/xapi/state.db\n#    why: w\n#    before_sha256 cc\n#    after_sha256 dd\n"},
	}
	if diff := cmp.Diff(wantDiff, res.Diff); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.Msg, "xsrescue journal undo 2 --disk /dev/sda; then xsrescue journal undo 1") {
		t.Errorf("msg lacks the undo lines: %q", res.Msg)
	}
}

func TestCheckModeAndRefusal(t *testing.T) {
	for _, tc := range []struct {
		name, args string
		code       int
		stdout     string
		stderr     string
		argv       []string
		changed    bool
		failed     bool
		rc         int
		msg        string
	}{
		{"check mode plans", `{"state": "undone", "op": 7, "root": "/mnt", "_ansible_check_mode": true}`,
			0, "", "dry run: nothing was changed\n",
			[]string{"xsrescue", "journal", "undo", "--root=/mnt", "--json", "--dry-run", "--", "7"}, true, false, 0, "check mode"},
		{"undone already", `{"state": "undone", "op": 7, "root": "/mnt", "force": true}`,
			0, `{"op": {"id": 7, "status": "undone"}}`, "",
			[]string{"xsrescue", "journal", "show", "--root=/mnt", "--json", "--", "7"}, false, false, 0, "op 7 is undone already"},
		{"legacy empty plan", `{"state": "recovered", "root": "/mnt", "_ansible_check_mode": true}`,
			0, `{"op": null, "undo": ""}`, "",
			[]string{"xsrescue", "journal", "recover", "--root=/mnt", "--json", "--dry-run", "--"}, false, false, 0, "already as requested"},
		{"legacy plan counted", `{"state": "undone", "op": 1, "root": "/mnt", "_ansible_check_mode": true}`,
			0, `{"op": null}`, "dry run: nothing was changed (3 change(s) planned on /mnt)\n",
			[]string{"xsrescue", "journal", "undo", "--root=/mnt", "--json", "--dry-run", "--", "1"}, true, false, 0, "3 change(s)"},
		{"refused", `{"to": "5.6.0", "root": "/mnt"}`,
			3, `{"error": {"message": "refusing: newer", "exit_code": 3}}`, "xsrescue: refusing: newer\n",
			[]string{"xsrescue", "version", "set", "--root=/mnt", "--to=5.6.0", "--json", "--yes", "--"}, false, true, 3, "refusing: newer"},
		{"problems remain", `{"for_installer": "8.2", "root": "/mnt"}`,
			4, `{"op": {"op": 3, "undo": "xsrescue journal undo 3 --root '/mnt/a b'"}}`, "xsrescue: the firstboot gate still fails\n",
			[]string{"xsrescue", "version", "set", "--for-installer=8.2", "--root=/mnt", "--json", "--yes", "--"}, true, true, 4, "firstboot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{answer: func([]string) (int, string, string) { return tc.code, tc.stdout, tc.stderr }}
			name := "xsrescue_journal"
			if strings.Contains(tc.args, `"to`) || strings.Contains(tc.args, "for_installer") {
				name = "xsrescue_version"
			}
			res := runWith(t, name, tc.args, r)
			want := [][]string{tc.argv}
			if strings.Contains(tc.args, `"undone"`) && tc.argv[2] != "show" {
				// journal show first: is the op undone already?
				want = [][]string{{"xsrescue", "journal", "show", "--root=/mnt", "--json", "--", tc.argv[len(tc.argv)-1]}, tc.argv}
			}
			if diff := cmp.Diff(want, r.argvs); diff != "" {
				t.Errorf("command lines (-want +got):\n%s", diff)
			}
			if res.Changed != tc.changed || res.Failed != tc.failed || res.Rc != tc.rc || !strings.Contains(res.Msg, tc.msg) {
				t.Errorf("got changed %v failed %v rc %d msg %q; want %v %v %d %q", res.Changed, res.Failed, res.Rc, res.Msg, tc.changed, tc.failed, tc.rc, tc.msg)
			}
			if tc.rc == 4 {
				if diff := cmp.Diff([][]string{{"xsrescue", "journal", "undo", "3", "--root", "/mnt/a b"}}, res.Undo); diff != "" {
					t.Errorf("a failure after an apply keeps the undo (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestBadArguments(t *testing.T) {
	for _, tc := range []struct{ name, module, args, msg string }{
		{"not JSON", "xsrescue_version", `{"to": `, "not a JSON object"},
		{"a list", "xsrescue_version", `[1]`, "not a JSON object"},
		{"reserved", "xsrescue_version", `{"yes": true}`, "option yes is not accepted"},
		{"dry run", "xsrescue_version", `{"dry_run": true}`, "check mode"},
		{"flag syntax", "xsrescue_version", `{"to=1 --allow-raise": "x"}`, "not an option name"},
		{"object value", "xsrescue_version", `{"to": {"a": 1}}`, "option to: a map"},
		{"state missing", "xsrescue_journal", `{"op": 1}`, "option state is required: one of recovered, undone"},
		{"state unknown", "xsrescue_partition_image", `{"state": "gone"}`, `"gone" is not one of restored, saved`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{answer: func([]string) (int, string, string) { t.Fatal("no command may run"); return 0, "", "" }}
			res := runWith(t, tc.module, tc.args, r)
			if !res.Failed || res.Rc != 2 || !strings.Contains(res.Msg, tc.msg) {
				t.Errorf("want failed, rc 2, msg containing %q; got %+v", tc.msg, res)
			}
		})
	}
	var out bytes.Buffer
	if code := Main(context.Background(), "xsrescue_facts", nil, nil, &out); code != 1 || !strings.Contains(out.String(), "ARGS.json") {
		t.Errorf("no arguments file: exit %d, %s", code, out.String())
	}
}

func TestUnifiedDiffs(t *testing.T) {
	plan := "explain line\n# 1. write etc/issue\n--- a/etc/issue\n+++ b/etc/issue\n@@ -3,2 +3,2 @@\n kept\n-old\n\\ No newline at end of file\n+new\n# 2. write etc/motd\n--- a/etc/motd\n+++ b/etc/motd\n@@ -1 +1,2 @@\n-a\n+a\n+b\n@@ -9 +10 @@\n-x\n+y\n\\ No newline at end of file\ndry run line\n"
	want := []Diff{
		{BeforeHeader: "etc/issue (from line 3)", AfterHeader: "etc/issue (from line 3)", Before: "kept\nold", After: "kept\nnew\n"},
		{BeforeHeader: "etc/motd (from line 1)", AfterHeader: "etc/motd (from line 1)", Before: "a\n", After: "a\nb\n"},
		{BeforeHeader: "etc/motd (from line 9)", AfterHeader: "etc/motd (from line 10)", Before: "x\n", After: "y"},
	}
	if diff := cmp.Diff(want, unifiedDiffs(plan, "")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := unifiedDiffs("no diff here\n", "x"); len(got) != 0 {
		t.Errorf("text without hunks: %+v", got)
	}
}

func TestCommandLines(t *testing.T) {
	for _, tc := range []struct {
		module, args string
		want         []string
	}{
		{"xsrescue_zone", `{"command": "set-sticky", "name": "solaris", "sticky": false, "zone_root": "/z/root"}`,
			[]string{"xsrescue", "zone", "set-sticky", "--zone-root=/z/root", "--json", "--yes", "--", "solaris", "false"}},
		{"xsrescue_zone", `{"command": "restore-etc", "zone_root": "/z/root", "snapshot": "rpool/z@s", "paths": ["etc", "var/pkg"]}`,
			[]string{"xsrescue", "zone", "restore-etc", "--paths=etc", "--paths=var/pkg", "--snapshot=rpool/z@s", "--zone-root=/z/root", "--json", "--yes", "--"}},
		{"xsrescue_partition_image", `{"state": "saved", "disk": "/dev/sda", "role": "backup", "to": "/mnt/b.img", "compress": true}`,
			[]string{"xsrescue", "disk", "save-partition", "--compress", "--role=backup", "--to=/mnt/b.img", "--json", "--yes", "--", "/dev/sda"}},
		{"xsrescue_partition_image", `{"state": "restored", "disk": "-weird", "partition": 2, "from": "/mnt/b.img"}`,
			[]string{"xsrescue", "disk", "restore-partition", "--from=/mnt/b.img", "--partition=2", "--json", "--yes", "--", "-weird"}},
		{"xsrescue_guest", `{"root": "/g", "only": ["tls"], "host_kernel": "2.6.18"}`,
			[]string{"xsrescue", "guest", "fix", "--host-kernel=2.6.18", "--only=tls", "--root=/g", "--json", "--yes", "--"}},
		{"xsrescue_odm", `{"odm": "/o", "dev": "/d", "major": [43, "44"], "out": "/out", "wait": "30s"}`,
			[]string{"xsrescue", "odm", "purge", "--dev=/d", "--major=43", "--major=44", "--odm=/o", "--out=/out", "--wait=30s", "--json", "--yes", "--"}},
	} {
		r := &recorder{answer: func([]string) (int, string, string) { return 0, `{"op": null}`, "" }}
		runWith(t, tc.module, tc.args, r)
		if diff := cmp.Diff([][]string{tc.want}, r.argvs); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", tc.module, tc.args, diff)
		}
	}
}

func TestFacts(t *testing.T) {
	r := &recorder{answer: func(argv []string) (int, string, string) {
		if argv[1] == "doctor" {
			return 4, `{"findings": [], "plan": []}`, ""
		}
		return 0, `{"table": "dos"}`, ""
	}}
	res := runWith(t, "xsrescue_facts", `{"disk": "/dev/sda", "sector_size": 4096, "installer": "5.0", "_ansible_check_mode": true}`, r)
	want := [][]string{
		{"xsrescue", "disk", "inspect", "--json", "--sector-size=4096", "--", "/dev/sda"},
		{"xsrescue", "doctor", "--disk=/dev/sda", "--installer=5.0", "--json"},
	}
	if diff := cmp.Diff(want, r.argvs); diff != "" {
		t.Errorf("command lines (-want +got):\n%s", diff)
	}
	facts, _ := res.Facts["xsrescue"].(map[string]any)
	if res.Failed || res.Changed || res.Rc != 4 || facts["problems"] != true || facts["disk"] == nil || facts["doctor"] == nil {
		t.Errorf("doctor's 4 is the answer, not a failure: %+v", res)
	}
}
