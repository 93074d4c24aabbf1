package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
)

// TestDiskInspectGPTGolden: on a GPT disk the TYPE column shows sgdisk's
// short codes (0700 for the installer's root and backup, 8E00 for the SR)
// while --json keeps the GUID in "type" and adds "type_code"; against
// testdata/disk_inspect_gpt_cli.* (XSRESCUE_UPDATE_GOLDEN=1 rewrites them).
func TestDiskInspectGPTGolden(t *testing.T) {
	t.Parallel()
	img, err := fixtures.BuildDisk(t.TempDir(), fixtures.Mini("cligpt", "gpt", fixtures.RootSpec{Release: "7.0.0"}, &fixtures.RootSpec{Release: "6.5.0"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		golden string
		argv   []string
	}{
		{"disk_inspect_gpt_cli.txt", []string{"disk", "inspect", img}},
		{"disk_inspect_gpt_cli.json", []string{"disk", "inspect", img, "--json"}},
	} {
		code, stdout, stderr := runCLI(tt.argv...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.argv, code, stderr)
		}
		assertGolden(t, filepath.Join("testdata", tt.golden), strings.ReplaceAll(stdout, img, "cligpt.img"))
	}
}

// A GPT type sgdisk does not know stays a GUID in the table, and its
// type_code is null.
func TestDiskInspectUnknownGPTType(t *testing.T) {
	t.Parallel()
	const unknown = "12345678-9ABC-DEF0-1234-56789ABCDEF0"
	img, err := fixtures.BuildDisk(t.TempDir(), fixtures.DiskSpec{Name: "odd", Size: 4 * fixtures.MiB, Table: "gpt",
		Partitions: []fixtures.PartSpec{
			{Number: 1, Start: fixtures.MiB, Size: fixtures.MiB, Type: unknown, Name: "odd"},
			{Number: 2, Start: 2 * fixtures.MiB, Size: fixtures.MiB, Type: fixtures.GPTBIOSBoot},
		}})
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("disk", "inspect", img)
	if code != 0 || !strings.Contains(stdout, "  "+unknown+" (odd)  ") || !strings.Contains(stdout, "  EF02  ") {
		t.Errorf("exit %d:\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI("disk", "inspect", img, "--json")
	var doc struct {
		Partitions []struct {
			Type     string  `json:"type"`
			TypeCode *string `json:"type_code"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); code != 0 || err != nil || len(doc.Partitions) != 2 {
		t.Fatalf("exit %d %v: %s%s", code, err, stdout, stderr)
	}
	if p := doc.Partitions[0]; p.Type != unknown || p.TypeCode != nil {
		t.Errorf("unknown type: %+v", p)
	}
	if p := doc.Partitions[1]; p.Type != fixtures.GPTBIOSBoot || p.TypeCode == nil || *p.TypeCode != "EF02" {
		t.Errorf("BIOS boot: %+v", p)
	}
}
