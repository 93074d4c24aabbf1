package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// validateAs checks out against docs/schema/KIND.schema.json and fails t
// when it does not match (checkDocument reports the same at the end of the
// run; this names the subtest).
func validateAs(t *testing.T, kind, out string) {
	t.Helper()
	if err := loadSchemas(); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if err := schemas.compiled[kind].Validate(inst); err != nil {
		t.Errorf("does not match docs/schema/%s.schema.json: %v\n%s", kind, err, out)
	}
}

// TestSchemaAcceptsRealOutputs: the documents the schemas were first
// written without — an op holding a rename or an external record, an
// inventory that cannot be read, a check against a reference database,
// a diff whose tables are not those of one sample — match their schema.
// Each case first checks that the output really has the feature, so that
// it cannot pass on a document without it.
func TestSchemaAcceptsRealOutputs(t *testing.T) {
	t.Parallel()
	t.Run("journal show of a rename", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		for p, body := range map[string]string{"lib/tls/libc.so": "x\n", "etc/securetty": "console\n"} {
			if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if code, out, errOut := runCLI("guest", "fix", "--root", root, "--only", "tls", "--yes", "--json"); code != 0 {
			t.Fatalf("guest fix: exit %d\n%s\n%s", code, out, errOut)
		}
		code, out, errOut := runCLI("journal", "show", "1", "--root", root, "--json")
		if code != 0 {
			t.Fatalf("journal show: exit %d\n%s", code, errOut)
		}
		type change struct {
			Kind    string  `json:"kind"`
			NewPath *string `json:"new_path"`
		}
		var doc struct {
			Op struct {
				Changes []change `json:"changes"`
			} `json:"op"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(doc.Op.Changes, func(c change) bool {
			return c.Kind == "rename" && c.NewPath != nil && *c.NewPath == "lib/tls.disabled"
		}) {
			t.Fatalf("no rename to lib/tls.disabled in\n%s", out)
		}
		validateAs(t, "journal-show", out)
	})

	t.Run("journal show of an external op", func(t *testing.T) {
		t.Parallel()
		img := cliImage(t)
		dir := t.TempDir()
		jpath := filepath.Join(dir, "journal.db")
		if code, out, errOut := runCLI("disk", "save-partition", img, "--role", "backup", "-o", filepath.Join(dir, "b.img"), "--journal", jpath, "--yes", "--json"); code != 0 {
			t.Fatalf("save-partition: exit %d\n%s\n%s", code, out, errOut)
		}
		code, out, errOut := runCLI("journal", "show", "1", "--journal", jpath, "--json")
		if code != 0 {
			t.Fatalf("journal show: exit %d\n%s", code, errOut)
		}
		if !strings.Contains(out, `"external": {`) || !strings.Contains(out, `"type": "partition-image"`) {
			t.Fatalf("no external record in\n%s", out)
		}
		validateAs(t, "journal-show", out)
	})

	t.Run("disk inspect with an unreadable inventory", func(t *testing.T) {
		t.Parallel()
		testutil.NeedTools(t, "mke2fs", "debugfs")
		loop := func(dir string) error {
			inv := filepath.Join(dir, "etc", "xensource-inventory")
			if err := os.Remove(inv); err != nil {
				return err
			}
			return os.Symlink("/etc/xensource-inventory", inv)
		}
		img, err := fixtures.BuildDisk(t.TempDir(), fixtures.Mini("schema-loop", "dos", fixtures.RootSpec{Release: "5.5", Populate: loop}, &fixtures.RootSpec{Release: "5.0"}))
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI("disk", "inspect", img, "--json")
		if code != 0 {
			t.Fatalf("disk inspect: exit %d\n%s", code, errOut)
		}
		var doc struct {
			XenServer struct {
				Inventory      map[string]string `json:"inventory"`
				InventoryError *string           `json:"inventory_error"`
			} `json:"xenserver"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.XenServer.InventoryError == nil || doc.XenServer.Inventory != nil {
			t.Fatalf("the inventory is not reported unreadable in\n%s", out)
		}
		validateAs(t, "disk-inspect", out)
	})

	t.Run("statedb check --like and statedb diff", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		db82 := writeDB(t, dir, "state-8.2.db", fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 2, Seed: "h"})
		fresh71 := writeDB(t, dir, "fresh-7.1.db", fixtures.StateDBSpec{Release: "7.1", Fresh: true, Seed: "h"})

		code, out, errOut := runCLI("statedb", "check", db82, "--like", fresh71, "--json")
		var check statedbCheckDoc
		if code != 4 || json.Unmarshal([]byte(out), &check) != nil {
			t.Fatalf("statedb check: exit %d\n%s\n%s", code, out, errOut)
		}
		if check.Target.From != "reference" || check.Target.Reference == nil || *check.Target.Reference != fresh71 {
			t.Errorf("target %+v", check.Target)
		}
		validateAs(t, "statedb-check", out)

		code, out, errOut = runCLI("statedb", "diff", db82, fresh71, "--rows", "--json")
		var diff struct {
			OnlyInA map[string][]string `json:"columns_only_in_a"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &diff) != nil {
			t.Fatalf("statedb diff: exit %d\n%s\n%s", code, out, errOut)
		}
		if _, ok := diff.OnlyInA["VM"]; !ok {
			t.Errorf("8.2 has VM columns 7.1 lacks (NVRAM, VUSBs, ...); columns_only_in_a %v", diff.OnlyInA)
		}
		validateAs(t, "statedb-diff", out)
	})
}
