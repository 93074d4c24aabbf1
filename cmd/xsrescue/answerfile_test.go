package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/answerfile"
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
