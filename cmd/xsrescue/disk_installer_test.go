package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// TestDiskInspectRootsAndBackups: with two root-* partitions disk inspect
// says which one each installer generation takes (the last, from 5.6 on);
// every partition carrying .xen-backup-partition is listed, not only the
// one after the root.
func TestDiskInspectRootsAndBackups(t *testing.T) {
	t.Parallel()
	needDiskTools(t)
	c := fixtures.GenerationCases(512)[7] // gen-7.0-two-roots: roots on 1 and 4
	if c.Name != "gen-7.0-two-roots" {
		t.Fatalf("case %s", c.Name)
	}
	c.Disk.Size += 64 * fixtures.MiB
	c.Disk.Partitions = append(c.Disk.Partitions, fixtures.PartSpec{Number: 5, Start: c.Disk.Size - 65*fixtures.MiB, Size: 64 * fixtures.MiB,
		Type: fixtures.GPTBasicData, FS: "ext3", Root: &fixtures.RootSpec{Release: "6.5", Backup: true}})
	img, err := fixtures.BuildDisk(t.TempDir(), c.Disk)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("disk", "inspect", img)
	if code != 0 || !strings.Contains(out, "root partition, by installer generation:") ||
		!strings.Contains(out, "partition 4: the last of 1, 4 with type basic data and an ext label root-*") ||
		!strings.Contains(out, "Backup markers: on partition(s) 5 of this disk") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI("disk", "inspect", img, "--json")
	var doc struct {
		XenServer struct {
			RootPartition    int `json:"root_partition"`
			RootByGeneration []struct {
				Rule      string `json:"rule"`
				Status    string `json:"status"`
				Partition int    `json:"partition"`
			} `json:"root_by_generation"`
			Backups []struct {
				Partition int               `json:"partition"`
				Inventory map[string]string `json:"inventory"`
			} `json:"backups"`
		} `json:"xenserver"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
		t.Fatalf("exit %d %v", code, err)
	}
	x := doc.XenServer
	got := map[string]string{}
	for _, r := range x.RootByGeneration {
		got[r.Rule] = fmt.Sprintf("%s/%d", r.Status, r.Partition)
	}
	want := map[string]string{"partition-1": "unknown/1", "active-label-dos": "none/0", "active-label": "none/0", "label": "found/4"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("rule %s: %s, want %s", k, got[k], v)
		}
	}
	if x.RootPartition != 4 || len(x.Backups) != 1 || x.Backups[0].Partition != 5 || x.Backups[0].Inventory["PRODUCT_VERSION"] != "6.5.0" {
		t.Fatalf("root %d, backups %+v", x.RootPartition, x.Backups)
	}
}

// TestDiskInspect4K: a DOS table of a 4 KiB-sector disk read from an image:
// the sector size is found from the filesystems and said; --sector-size
// 512 reads it the other way.
func TestDiskInspect4K(t *testing.T) {
	t.Parallel()
	needDiskTools(t)
	spec := fixtures.Mini("dos-4k", "dos", fixtures.RootSpec{Release: "5.5"}, &fixtures.RootSpec{Release: "5.0"})
	spec.SectorSize = 4096
	img, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("disk", "inspect", img)
	if code != 0 || !strings.Contains(out, "4096-byte sectors, table dos, layout legacy") || !strings.Contains(out, "DOS table read with 4096-byte sectors") ||
		!strings.Contains(out, "XenServer root: partition 1, XenServer 5.5.0-15119p") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI("disk", "inspect", img, "--sector-size", "512")
	if code != 0 || !strings.Contains(out, "512-byte sectors") || !strings.Contains(out, "No XenServer installation") {
		t.Fatalf("--sector-size 512: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI("disk", "inspect", img, "--sector-size", "1024"); code != 2 || !strings.Contains(errOut, "give 512 or 4096") {
		t.Fatalf("--sector-size 1024: exit %d %s", code, errOut)
	}
}

func needDiskTools(t *testing.T) {
	t.Helper()
	testutil.NeedTools(t, "mke2fs", "debugfs")
}
