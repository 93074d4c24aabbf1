package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/answerfile"
	"github.com/xsrescue/xsrescue/fixtures"
)

func TestAnswerfileUpgrade(t *testing.T) {
	to := filepath.Join(t.TempDir(), "answer.xml")
	code, _, stderr := runCLI("answerfile", "upgrade", "--disk", "/dev/sdb", "--source", "http://repo.example.com/xs50/",
		"--post-install-script", "http://repo.example.com/post.sh", "--to", to)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(to)
	if err != nil {
		t.Fatal(err)
	}
	u, err := answerfile.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := answerfile.Upgrade{Disk: "sdb", SourceType: "url", Source: "http://repo.example.com/xs50/", PostInstallScript: "http://repo.example.com/post.sh"}
	if *u != want {
		t.Errorf("parsed %+v, want %+v", *u, want)
	}
	if n := strings.Count(string(b), "<existing-installation>sdb</existing-installation>"); n != 1 {
		t.Errorf("existing-installation %d times in\n%s", n, b)
	}

	// Never overwrites; a re-run that would write the same bytes is already
	// as requested.
	if code, _, errOut := runCLI("answerfile", "upgrade", "--disk", "sda", "--source", "local", "--to", to); code != 3 || !strings.Contains(errOut, to+" exists with other content") {
		t.Errorf("existing --to: exit %d, want 3 (%s)", code, errOut)
	}
	code, _, stderr = runCLI("answerfile", "upgrade", "--disk", "/dev/sdb", "--source", "http://repo.example.com/xs50/",
		"--post-install-script", "http://repo.example.com/post.sh", "--to", to)
	if code != 0 || !strings.Contains(stderr, "already as requested") {
		t.Errorf("same --to again: exit %d, want 0 (%s)", code, stderr)
	}
	if again, _ := os.ReadFile(to); !bytes.Equal(again, b) {
		t.Error("a re-run changed the file")
	}

	code, stdout, _ := runCLI("answerfile", "upgrade", "--disk", "/dev/sda", "--as", "disk/by-id/ata-X", "--source", "filer:/xs/", "--json")
	var doc struct {
		Disk       string `json:"disk"`
		SourceType string `json:"source_type"`
		XML        string `json:"xml"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, stdout)
	}
	if doc.Disk != "disk/by-id/ata-X" || doc.SourceType != "nfs" || !strings.Contains(doc.XML, "<existing-installation>disk/by-id/ata-X</existing-installation>") {
		t.Errorf("json %+v", doc)
	}

	code, stdout, _ = runCLI("answerfile", "upgrade", "--disk", "sda", "--source", "local")
	if code != 0 || !strings.HasPrefix(stdout, "<?xml") || !strings.Contains(stdout, `<source type="local">`) {
		t.Errorf("stdout: exit %d\n%s", code, stdout)
	}

	for _, bad := range [][]string{
		{"--disk", "sda", "--source", "gopher://x/"},
		{"--disk", "../etc", "--source", "local"},
		{"--disk", "sda", "--source", "local", "--post-install-script", "nope"},
	} {
		if code, _, _ := runCLI(append([]string{"answerfile", "upgrade"}, bad...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

func TestAnswerfileImageNeedsName(t *testing.T) {
	code, _, errOut := runCLI("answerfile", "upgrade", "--disk", "/srv/images/host.img", "--source", "local")
	if code != 2 || !strings.Contains(errOut, "--as NAME") {
		t.Errorf("image without --as: exit %d %s", code, errOut)
	}
	// An image in the current directory has no slash in its name, but the
	// installer can no more see it.
	t.Chdir(t.TempDir())
	if err := os.WriteFile("xs55.img", make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("answerfile", "upgrade", "--disk", "xs55.img", "--source", "local")
	if code != 2 || !strings.Contains(errOut, "add --as NAME") || out != "" {
		t.Errorf("xs55.img without --as: exit %d %s%s", code, out, errOut)
	}
	code, out, _ = runCLI("answerfile", "upgrade", "--disk", "/srv/images/host.img", "--as", "disk/by-id/scsi-X", "--source", "local")
	if code != 0 || !strings.Contains(out, "<existing-installation>disk/by-id/scsi-X</existing-installation>") {
		t.Errorf("image with --as: exit %d\n%s", code, out)
	}
}

// TestAnswerfileImagePrimaryDisk: for a disk image the disk is named as the
// image's own inventory records it (PRIMARY_DISK without /dev/), said on
// stderr, and the image is only read; --as overrides; an inventory without
// PRIMARY_DISK keeps the refusal asking for --as.
func TestAnswerfileImagePrimaryDisk(t *testing.T) {
	dir := t.TempDir()
	build := func(name string, root fixtures.RootSpec) string {
		img, err := fixtures.BuildDisk(dir, fixtures.Mini(name, "dos", root, nil))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	byID := build("byid", fixtures.RootSpec{Release: "5.5"})
	sda := build("sda", fixtures.RootSpec{Release: "7.0.0", PrimaryDisk: "/dev/sda"})
	none := build("none", fixtures.RootSpec{Release: "5.5", Populate: func(root string) error {
		inv := filepath.Join(root, "etc/xensource-inventory")
		b, err := os.ReadFile(inv)
		if err != nil {
			return err
		}
		var kept []string
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if !strings.HasPrefix(l, "PRIMARY_DISK=") {
				kept = append(kept, l)
			}
		}
		return os.WriteFile(inv, []byte(strings.Join(kept, "")), 0o644)
	}})
	sum, err := fixtures.FileSHA256(byID)
	if err != nil {
		t.Fatal(err)
	}
	byIDName := strings.TrimPrefix(fixtures.DefaultPrimaryDisk, "/dev/")
	for _, tt := range []struct {
		img, as, want, from string
	}{
		{byID, "", byIDName, "inventory"},
		{sda, "", "sda", "inventory"},
		{byID, "disk/by-id/ata-OTHER", "disk/by-id/ata-OTHER", "as"},
		{none, "sdb", "sdb", "as"},
	} {
		argv := []string{"answerfile", "upgrade", "--disk", tt.img, "--source", "local", "--json"}
		if tt.as != "" {
			argv = append(argv, "--as", tt.as)
		}
		code, stdout, stderr := runCLI(argv...)
		var doc struct {
			Disk     string `json:"disk"`
			DiskFrom string `json:"disk_from"`
			XML      string `json:"xml"`
		}
		if err := json.Unmarshal([]byte(stdout), &doc); code != 0 || err != nil {
			t.Fatalf("%v: exit %d %v %s", argv, code, err, stderr)
		}
		if doc.Disk != tt.want || doc.DiskFrom != tt.from || !strings.Contains(doc.XML, "<existing-installation>"+tt.want+"</existing-installation>") {
			t.Errorf("%v: %+v", argv, doc)
		}
		said := strings.Contains(stderr, "inventory's PRIMARY_DISK")
		if said != (tt.from == "inventory") {
			t.Errorf("%v: stderr %q", argv, stderr)
		}
	}
	code, stdout, stderr := runCLI("answerfile", "upgrade", "--disk", byID, "--source", "local")
	if code != 0 || !strings.Contains(stdout, "<existing-installation>"+byIDName+"</existing-installation>") ||
		!strings.Contains(stderr, "the disk is named "+byIDName+", as its inventory's PRIMARY_DISK "+fixtures.DefaultPrimaryDisk+" records it on the host (--as NAME overrides)") {
		t.Errorf("text: exit %d\n%s%s", code, stdout, stderr)
	}
	if after, err := fixtures.FileSHA256(byID); err != nil || after != sum {
		t.Errorf("the image changed (%v)", err)
	}
	code, stdout, stderr = runCLI("answerfile", "upgrade", "--disk", none, "--source", "local")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "root partition 1 has no PRIMARY_DISK") || !strings.Contains(stderr, "add --as NAME") {
		t.Errorf("no PRIMARY_DISK: exit %d\n%s%s", code, stdout, stderr)
	}
}
