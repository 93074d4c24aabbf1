package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/answerfile"
	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

func TestAnswerfileUpgrade(t *testing.T) {
	t.Parallel()
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
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	if m := parseMutation(t, stdout, &doc); m.Changed || len(m.Changes) != 0 {
		t.Errorf("an answer file on stdout changed something: %s", stdout)
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
	t.Parallel()
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
		if code != 0 {
			t.Fatalf("%v: exit %d %s", argv, code, stderr)
		}
		parseMutation(t, stdout, &doc)
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

var updateAnswerfile = flag.Bool("update-answerfile", false, "rewrite testdata/answerfile/*")

// golden compares got with testdata/answerfile/name (rewritten with
// -update-answerfile).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "answerfile", name)
	if *updateAnswerfile {
		testutil.Must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		testutil.Must(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s (-golden +got):\n%s", name, d)
	}
}

// buildRead builds spec and returns the image with its fingerprint (its
// data extents, holes skipped), to prove at the end that the command only
// read it.
func buildRead(t *testing.T, spec fixtures.DiskSpec) (img, sum string) {
	t.Helper()
	needDiskTools(t)
	img, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return img, fingerprint(t, img)
}

func unchanged(t *testing.T, img, sum string) {
	t.Helper()
	if fingerprint(t, img) != sum {
		t.Errorf("%s changed", img)
	}
}

type restoreJSON struct {
	Partition  int    `json:"partition"`
	BackupDisk string `json:"backup_disk"`
	DiskFrom   string `json:"disk_from"`
	Verdicts   []struct {
		Installer, Status string
	} `json:"verdicts"`
	Backups []struct {
		Partition int
		Match     string
	} `json:"backups"`
	Installer *string `json:"installer"`
	Verdict   *struct {
		Status, Backup, Reason string
		Others                 []int
	} `json:"verdict"`
	File    *string `json:"file"`
	XML     *string `json:"xml"`
	Written bool    `json:"written"`
	DryRun  bool    `json:"dry_run"`
	Error   *struct {
		Message  string `json:"message"`
		ExitCode int    `json:"exit_code"`
	} `json:"error"`
}

func restoreDocOf(t *testing.T, wantCode int, argv ...string) restoreJSON {
	t.Helper()
	code, stdout, stderr := runCLI(append([]string{"answerfile", "restore", "--json"}, argv...)...)
	if code != wantCode {
		t.Fatalf("%v: exit %d (want %d)\n%s%s", argv, code, wantCode, stdout, stderr)
	}
	var doc restoreJSON
	m := parseMutation(t, stdout, &doc)
	doc.DryRun = m.DryRun
	if m.Error != nil {
		doc.Error = &struct {
			Message  string `json:"message"`
			ExitCode int    `json:"exit_code"`
		}{m.Error.Message, m.Error.ExitCode}
	}
	return doc
}

// TestAnswerfileRestoreXS55: the 5.5 host whose backup holds 5.0. Only the
// 6.2 and 6.5 installers would restore it from an answer file: 5.x have no
// answer-file restore, 6.0/6.1 a stub, 7.x and later skip a backup without
// PLATFORM_VERSION; 5.6 SP2 is unknown. Every refusal is exit 3, the disk
// is only read.
func TestAnswerfileRestoreXS55(t *testing.T) {
	t.Parallel()
	img, sum := buildRead(t, fixtures.XS55FailedDowngrade())
	code, stdout, stderr := runCLI("answerfile", "restore", "--disk", img)
	if code != 0 {
		t.Fatalf("report: exit %d\n%s%s", code, stdout, stderr)
	}
	golden(t, "restore-xs55.txt", strings.ReplaceAll(stdout, img, "$IMG"))
	if !strings.Contains(stderr, "<backup-disk> is disk/by-id/scsi-SATA_ST3500418AS_9VM155XS, its PRIMARY_DISK /dev/disk/by-id/scsi-SATA_ST3500418AS_9VM155XS without /dev/") {
		t.Errorf("stderr does not say where the name comes from:\n%s", stderr)
	}

	code, stdout, stderr = runCLI("answerfile", "restore", "--disk", img, "--for-installer", "6.2")
	if code != 0 {
		t.Fatalf("6.2: exit %d\n%s", code, stderr)
	}
	golden(t, "restore-xs55.xml", stdout)
	if r, err := answerfile.ParseRestore(strings.NewReader(stdout)); err != nil || r.BackupDisk != "disk/by-id/scsi-SATA_ST3500418AS_9VM155XS" {
		t.Errorf("parsed %+v %v", r, err)
	}
	if !strings.Contains(stderr, "the 6.2.0 installer: restore: restores the backup on partition 2") || !strings.Contains(stderr, "is an image: the installer restores onto the disk PRIMARY_DISK") {
		t.Errorf("6.2 stderr:\n%s", stderr)
	}

	for _, tc := range []struct{ installer, msg string }{
		{"8.2", "the installer does not find the backup on partition 2: the backup's inventory lacks PLATFORM_VERSION"},
		{"7.1", "lacks PLATFORM_VERSION"},
		{"5.0", "this installer has no answer-file restore"},
		{"5.5", "this installer has no answer-file restore"},
		{"6.1", "FIXME add restore support"},
		{"5.6.199", "unknown: XenServer 5.6 SP2"},
	} {
		code, stdout, stderr := runCLI("answerfile", "restore", "--disk", img, "--for-installer", tc.installer)
		if code != 3 || stdout != "" || !strings.Contains(stderr, "installer would not restore the backup on partition 2 of "+img) || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%s: exit %d, want 3 with %q\n%s%s", tc.installer, code, tc.msg, stdout, stderr)
		}
	}
	doc := restoreDocOf(t, 3, "--disk", img, "--for-installer", "8.0")
	if doc.Error == nil || doc.Error.ExitCode != 3 || doc.Verdict == nil || doc.Verdict.Status != "no" || doc.XML != nil || doc.Written || len(doc.Verdicts) != 22 {
		t.Errorf("8.0 --json: %+v", doc)
	}
	if code, _, stderr := runCLI("answerfile", "restore", "--disk", img, "--for-installer", "4.1"); code != 2 || !strings.Contains(stderr, "--for-installer: unknown installer version") {
		t.Errorf("4.1: exit %d %s", code, stderr)
	}
	unchanged(t, img, sum)
}

// TestAnswerfileRestoreTo: --to follows the rules of every answer file:
// written once, "already as requested" for the same bytes, never over a
// different file, nothing on --dry-run; it needs --for-installer.
func TestAnswerfileRestoreTo(t *testing.T) {
	t.Parallel()
	img, sum := buildRead(t, fixtures.XS71OldGPT())
	dir := t.TempDir()
	to := filepath.Join(dir, "restore.xml")
	if code, _, stderr := runCLI("answerfile", "restore", "--disk", img, "--output", to); code != 2 || !strings.Contains(stderr, "--output needs --for-installer V") {
		t.Errorf("--output without --for-installer: exit %d %s", code, stderr)
	}
	// --to is the old name: it still works, says it is deprecated, and
	// with --output beside it is a usage error naming both.
	if code, _, stderr := runCLI("answerfile", "restore", "--disk", img, "--to", to); code != 2 || !strings.Contains(stderr, "--to is deprecated, use --output") {
		t.Errorf("--to: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCLI("answerfile", "restore", "--disk", img, "--for-installer", "7.1", "--to", to, "-o", to); code != 2 || !strings.Contains(stderr, "--output and --to are the same flag") {
		t.Errorf("--to with -o: exit %d %s", code, stderr)
	}
	code, stdout, stderr := runCLI("answerfile", "restore", "--disk", img, "--for-installer", "7.1", "--to", to, "--dry-run")
	if _, err := os.Lstat(to); code != 0 || err == nil || !strings.Contains(stdout, "<backup-disk>disk/by-id/scsi-SATA_ST3500418AS_9VM1XSRC</backup-disk>") || !strings.Contains(stderr, "dry run: nothing was written") {
		t.Errorf("--dry-run: exit %d (file: %v)\n%s%s", code, err, stdout, stderr)
	}
	doc := restoreDocOf(t, 0, "--disk", img, "--for-installer", "7.1", "--to", to)
	if !doc.Written || doc.File == nil || *doc.File != to || doc.Verdict.Status != "restore" || doc.DiskFrom != "inventory" {
		t.Errorf("--to: %+v", doc)
	}
	b, err := os.ReadFile(to)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "restore-xs71.xml", string(b))
	if doc.XML == nil || *doc.XML != string(b) {
		t.Errorf("xml %v is not the file", doc.XML)
	}
	code, stdout, stderr = runCLI("answerfile", "restore", "--disk", img, "--for-installer", "6.5", "--to", to)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "already as requested") {
		t.Errorf("again: exit %d\n%s%s", code, stdout, stderr)
	}
	// The 8.x installers skip this 6.5 backup (older than 7.0).
	if code, _, stderr := runCLI("answerfile", "restore", "--disk", img, "--for-installer", "8.4", "--to", filepath.Join(dir, "x.xml")); code != 3 || !strings.Contains(stderr, `PLATFORM_VERSION "1.9.0-90233c" is outside [2.1.0, 3.4.0]`) {
		t.Errorf("8.4: exit %d %s", code, stderr)
	}
	if _, err := os.Lstat(filepath.Join(dir, "x.xml")); err == nil {
		t.Error("a refusal wrote the file")
	}
	code, _, stderr = runCLI("answerfile", "restore", "--disk", img, "--for-installer", "7.1", "--as", "sdb", "--allow-multiple", "--to", to)
	if code != 3 {
		t.Errorf("--as sdb onto the by-id file: exit %d %s", code, stderr)
	}
	doc = restoreDocOf(t, 3, "--disk", img, "--for-installer", "7.1", "--as", "sda")
	if doc.Verdict.Backup != "unknown" || !strings.Contains(doc.Verdict.Reason, "different names") || doc.BackupDisk != "sda" || doc.DiskFrom != "as" {
		t.Errorf("--as sda: %+v", doc)
	}
	code, _, stderr = runCLI("answerfile", "restore", "--disk", img, "--for-installer", "7.1", "--as", "disk/by-id/scsi-SATA_ST3500418AS_9VM1XSRC", "--to", to)
	if code != 0 || !strings.Contains(stderr, "already as requested") {
		t.Errorf("--as the same name: exit %d %s", code, stderr)
	}
	if again, _ := os.ReadFile(to); string(again) != string(b) {
		t.Error("the file changed")
	}
	unchanged(t, img, sum)
}

// twoBackups is a GPT disk: root 8.2 (1), its backup holding 7.6 (2), the
// SR (3), and a second backup (4) holding other.
func twoBackups(name string, root, backup, other fixtures.RootSpec) fixtures.DiskSpec {
	s := fixtures.Mini(name, "gpt", root, &backup)
	start := s.Partitions[2].Start + s.Partitions[2].Size
	other.Backup = true
	s.Partitions = append(s.Partitions, fixtures.PartSpec{Number: 4, Start: start, Size: 64 * fixtures.MiB, Type: fixtures.GPTBasicData, FS: "ext3", Root: &other})
	s.Size += 64 * fixtures.MiB
	return s
}

// TestAnswerfileRestoreTwoBackups: two partitions carry the marker. With
// the same PRIMARY_DISK the installers that find both abort ("Multiple
// backups were found"): refused unless --allow-multiple; 8.x skip the
// 6.5 one (too old), so for them the file is good. With different kernel
// names <backup-disk> tells them apart.
func TestAnswerfileRestoreTwoBackups(t *testing.T) {
	t.Parallel()
	img, sum := buildRead(t, twoBackups("afr-same", fixtures.RootSpec{Release: "8.2"}, fixtures.RootSpec{Release: "7.6"}, fixtures.RootSpec{Release: "6.5"}))
	code, stdout, stderr := runCLI("answerfile", "restore", "--disk", img)
	if code != 0 {
		t.Fatalf("report: exit %d %s", code, stderr)
	}
	golden(t, "restore-two.txt", strings.ReplaceAll(stdout, img, "$IMG"))

	doc := restoreDocOf(t, 0, "--disk", img, "--for-installer", "8.2")
	if doc.Partition != 2 || doc.Verdict.Status != "restore" || len(doc.Backups) != 2 || doc.Backups[1].Match != "yes" {
		t.Errorf("8.2: %+v", doc)
	}
	code, _, stderr = runCLI("answerfile", "restore", "--disk", img, "--for-installer", "7.1")
	if code != 3 || !strings.Contains(stderr, "the backups on partitions 2, 4 match <backup-disk> too") || !strings.Contains(stderr, "Multiple backups were found. Unable to deduce which backup to restore from.") || !strings.Contains(stderr, "--allow-multiple writes it anyway") {
		t.Errorf("7.1: exit %d %s", code, stderr)
	}
	code, stdout, stderr = runCLI("answerfile", "restore", "--disk", img, "--for-installer", "7.1", "--allow-multiple")
	if code != 0 || !strings.Contains(stdout, "<restore>") || !strings.Contains(stderr, "the 7.1.0 installer: aborts:") {
		t.Errorf("7.1 --allow-multiple: exit %d\n%s%s", code, stdout, stderr)
	}
	doc = restoreDocOf(t, 3, "--disk", img, "--for-installer", "8.2", "--partition", "4")
	if doc.Verdict.Status != "no" || !strings.Contains(doc.Verdict.Reason, "this answer file selects the backup on partition(s) 2 instead") {
		t.Errorf("8.2 --partition 4: %+v", doc.Verdict)
	}
	if code, _, stderr := runCLI("answerfile", "restore", "--disk", img, "--for-installer", "8.2", "--partition", "4", "--allow-multiple"); code != 3 || strings.Contains(stderr, "--allow-multiple writes") {
		t.Errorf("--allow-multiple does not make the wrong backup right: exit %d %s", code, stderr)
	}
	unchanged(t, img, sum)

	img, sum = buildRead(t, twoBackups("afr-apart", fixtures.RootSpec{Release: "8.2", PrimaryDisk: "/dev/sda"},
		fixtures.RootSpec{Release: "7.6", PrimaryDisk: "/dev/sda"}, fixtures.RootSpec{Release: "7.6", PrimaryDisk: "/dev/sdb"}))
	for _, tc := range []struct {
		part, name string
	}{{"", "sda"}, {"4", "sdb"}} {
		argv := []string{"--disk", img, "--for-installer", "8.2"}
		if tc.part != "" {
			argv = append(argv, "--partition", tc.part)
		}
		doc := restoreDocOf(t, 0, argv...)
		if doc.BackupDisk != tc.name || doc.Verdict.Status != "restore" || doc.XML == nil || !strings.Contains(*doc.XML, "<backup-disk>"+tc.name+"</backup-disk>") {
			t.Errorf("%v: %+v", argv, doc)
		}
	}
	unchanged(t, img, sum)
}

// TestAnswerfileRestoreNothing: no partition carries the marker (an
// unformatted backup partition, or one without .xen-backup-partition), a
// partition that is not a backup, one that does not exist.
func TestAnswerfileRestoreNothing(t *testing.T) {
	t.Parallel()
	dell, sum := buildRead(t, fixtures.XS62Dell())
	code, stdout, stderr := runCLI("answerfile", "restore", "--disk", dell, "--for-installer", "6.2")
	if code != 3 || stdout != "" || !strings.Contains(stderr, "no partition of "+dell+" carries .xen-backup-partition: no installer offers a Restore (partition 3, after the root, has no marker") {
		t.Errorf("xs62-dell: exit %d %s", code, stderr)
	}
	unchanged(t, dell, sum)

	spec := fixtures.Mini("afr-nomarker", "dos", fixtures.RootSpec{Release: "7.1"}, nil)
	spec.Partitions[1].FS, spec.Partitions[1].Root = "ext3", &fixtures.RootSpec{Release: "6.5"}
	img, sum := buildRead(t, spec)
	for _, tc := range []struct {
		argv []string
		code int
		msg  string
	}{
		{nil, 3, "partition 2, after the root, has no marker"},
		{[]string{"--partition", "2"}, 3, "partition 2 of " + img + " carries no .xen-backup-partition"},
		{[]string{"--partition", "1"}, 3, "partition 1 of " + img + " carries no .xen-backup-partition"},
		{[]string{"--partition", "9"}, 2, img + " has no partition 9"},
		{[]string{"--partition", "-1"}, 2, "--partition -1"},
	} {
		code, _, stderr := runCLI(append([]string{"answerfile", "restore", "--disk", img}, tc.argv...)...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, want %d with %q: %s", tc.argv, code, tc.code, tc.msg, stderr)
		}
	}
	unchanged(t, img, sum)
}

// TestAnswerfileRestoreBlockDevice: on a block device xsrescue compares the
// backup's PRIMARY_DISK with the device, on this system: the same device
// (said), a name this system does not have, another device (a warning for
// a kernel name; the disk/by-id refusal is in the answerfile tests). The
// device is only read.
func TestAnswerfileRestoreBlockDevice(t *testing.T) {
	t.Parallel()
	needRootMount(t)
	testutil.NeedTools(t, "losetup")
	attach := func(img, dev string) string {
		t.Helper()
		argv := []string{"--read-only", "--find", "--show", img}
		if dev != "" {
			argv = []string{"--read-only", dev, img}
		}
		out, err := exec.Command("losetup", argv...).CombinedOutput()
		if err != nil {
			if dev != "" {
				t.Skipf("%s was taken meanwhile: %s", dev, out)
			}
			t.Fatalf("losetup: %v: %s", err, out)
		}
		if dev == "" {
			dev = strings.TrimSpace(string(out))
		}
		t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
		return dev
	}
	out, err := exec.Command("losetup", "--find").Output()
	if err != nil {
		t.Fatal(err)
	}
	free := strings.TrimSpace(string(out))
	spec := func(name, primary string) fixtures.DiskSpec {
		return fixtures.Mini(name, "gpt", fixtures.RootSpec{Release: "8.2", PrimaryDisk: primary}, &fixtures.RootSpec{Release: "7.6", PrimaryDisk: primary})
	}
	img, sum := buildRead(t, spec("afr-loop-same", free))
	dev := attach(img, free)
	before := testutil.FileSHA256(t, dev)
	code, stdout, stderr := runCLI("answerfile", "restore", "--disk", dev, "--for-installer", "8.2")
	if code != 0 || !strings.Contains(stdout, "<backup-disk>"+strings.TrimPrefix(dev, "/dev/")+"</backup-disk>") ||
		!strings.Contains(stderr, "PRIMARY_DISK "+dev+" is "+dev+" on this system: the installer restores onto this disk") {
		t.Errorf("same device: exit %d\n%s%s", code, stdout, stderr)
	}

	absent, _ := buildRead(t, spec("afr-loop-absent", "/dev/disk/by-id/scsi-XSRESCUE_NOT_HERE"))
	code, _, stderr = runCLI("answerfile", "restore", "--disk", attach(absent, ""), "--for-installer", "8.2")
	if code != 0 || !strings.Contains(stderr, "warning: PRIMARY_DISK /dev/disk/by-id/scsi-XSRESCUE_NOT_HERE does not exist on this system") {
		t.Errorf("absent: exit %d %s", code, stderr)
	}

	other, _ := buildRead(t, spec("afr-loop-other", dev))
	otherDev := attach(other, "")
	doc := restoreDocOf(t, 0, "--disk", otherDev, "--for-installer", "8.2")
	code, _, stderr = runCLI("answerfile", "restore", "--disk", otherDev, "--for-installer", "8.2")
	if code != 0 || doc.BackupDisk != strings.TrimPrefix(dev, "/dev/") ||
		!strings.Contains(stderr, "warning: the backup's PRIMARY_DISK "+dev+" is another device on this system ("+dev+"), not "+otherDev) {
		t.Errorf("other device: exit %d %+v %s", code, doc, stderr)
	}
	if testutil.FileSHA256(t, dev) != before {
		t.Error("the device changed")
	}
	unchanged(t, img, sum)
}
