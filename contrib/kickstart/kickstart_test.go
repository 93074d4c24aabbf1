// Package kickstart holds the test of the fleet recipe xsrescue-pre.sh:
// it runs under busybox sh in a chroot that holds only busybox, the
// script and /proc, /sys, /dev, against a fixture disk attached as a loop
// device, fetching the static binary over HTTP as from an install server.
package kickstart

import (
	"context"
	"debug/elf"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// recipe is one run of the recipe and what it left.
type recipe struct {
	code   int
	stdout string
	stderr string
	state  string // the host's directory on the durable storage (host side)
	dev    string // the loop device of the disk
	img    string
}

func TestRecipeUpgrade(t *testing.T) {
	r := runRecipe(t, "XSRESCUE_INSTALLER=5.0", "XSRESCUE_MODE=upgrade")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	answer := read(t, filepath.Join(r.state, "answerfile.xml"))
	want := "<existing-installation>" + filepath.Base(r.dev) + "</existing-installation>"
	if !strings.Contains(answer, `<installation mode="upgrade">`) || !strings.Contains(answer, want) || !strings.Contains(answer, `<source type="local">`) {
		t.Errorf("answer file lacks the upgrade of %s:\n%s", want, answer)
	}
	// doctor's plan ran: the backup imaged to the durable storage, the
	// markers set for the 5.0 installer through the journal there.
	if _, err := os.Stat(filepath.Join(r.state, filepath.Base(r.dev)+"-p2-backup.img")); err != nil {
		t.Errorf("the backup partition was not imaged to the durable storage: %v\n%s", err, r.stderr)
	}
	bin := staticBinary(t)
	if v := productVersion(t, bin, r.dev); v != "5.0.0" {
		t.Errorf("PRODUCT_VERSION after the recipe: %q, want 5.0.0", v)
	}
	undo := strings.Split(strings.TrimSpace(read(t, filepath.Join(r.state, "undo.txt"))), "\n")
	// One shell-quoted line per op, in apply order: op 1 the backup's
	// image (its undo removes the image and its sidecar), op 2 the markers.
	if len(undo) != 2 || !strings.HasPrefix(undo[0], "'rm' '--' ") ||
		!strings.HasPrefix(undo[1], "'xsrescue' 'journal' 'undo' '2' ") || !strings.Contains(undo[1], "'--journal' '/state/host1/journal.db'") {
		t.Fatalf("undo.txt: want the undo lines of the image and of version set's op, on the durable journal; got %q", undo)
	}
	// The undo line as collected, run on the host (the journal path is
	// the chroot's: the same file under the chroot's root).
	var args []string
	for _, w := range strings.Fields(strings.Replace(undo[1], "/state/", filepath.Dir(r.state)+"/", 1))[1:] {
		args = append(args, strings.Trim(w, "'"))
	}
	if out, err := exec.Command(bin, append(args, "--yes")...).CombinedOutput(); err != nil {
		t.Fatalf("the collected undo line: %v\n%s", err, out)
	}
	if v := productVersion(t, bin, r.dev); v != "5.5.0" {
		t.Errorf("PRODUCT_VERSION after the undo: %q, want 5.5.0", v)
	}
}

func TestRecipeRestoreAsGenerator(t *testing.T) {
	// As the installer runs an answerfile generator: XS_STAGE=answerfile,
	// the answer file on stdout and nothing else there.
	// The settings from the kernel command line, as the PXE entry gives them.
	r := runRecipe(t, "XS_STAGE=answerfile", "cmdline:xsrescue_installer=6.2 xsrescue_mode=restore install")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var doc struct {
		XMLName    xml.Name `xml:"restore"`
		BackupDisk string   `xml:"backup-disk"`
	}
	if err := xml.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.BackupDisk == "" ||
		!strings.HasPrefix(r.stdout, "<?xml ") || !strings.HasSuffix(r.stdout, "</restore>\n") {
		t.Fatalf("stdout is not the restore answer file (%v):\n%s", err, r.stdout)
	}
	if _, err := os.Stat(filepath.Join(r.state, "answerfile.xml")); err == nil {
		t.Error("as a generator it wrote answerfile.xml too")
	}
	// Only the restore alternative's steps ran: the backup imaged, the
	// markers untouched.
	if _, err := os.Stat(filepath.Join(r.state, filepath.Base(r.dev)+"-p2-backup.img")); err != nil {
		t.Errorf("the backup partition was not imaged: %v", err)
	}
	if v := productVersion(t, staticBinary(t), r.dev); v != "5.5.0" {
		t.Errorf("restore mode changed the markers: PRODUCT_VERSION %q", v)
	}
}

func TestRecipeRefusal(t *testing.T) {
	// The 5.0 installer has no answer-file restore: xsrescue refuses
	// (exit 3), the recipe stops with that status and writes no answer file.
	r := runRecipe(t, "XSRESCUE_INSTALLER=5.0", "XSRESCUE_MODE=restore")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "FAILED: answerfile restore exited 3") {
		t.Errorf("stderr does not say what failed:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(r.state, "answerfile.xml")); err == nil {
		t.Error("an answer file was written after the refusal")
	}
}

func TestRecipeSettings(t *testing.T) {
	// Missing settings: exit 2 before anything is fetched or run.
	r := runRecipe(t, "XSRESCUE_INSTALLER=", "XSRESCUE_MODE=upgrade")
	if r.code != 2 || !strings.Contains(r.stderr, "XSRESCUE_INSTALLER is not set") {
		t.Fatalf("exit %d, want 2 naming XSRESCUE_INSTALLER\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(r.state, "doctor.json")); err == nil {
		t.Error("doctor ran without the installer version")
	}
}

func TestRecipeStateOnTheDisk(t *testing.T) {
	// The journal on the disk it protects: refused before anything runs.
	r := runRecipe(t, "XSRESCUE_INSTALLER=5.0", "state-on-the-disk")
	if r.code != 2 || !strings.Contains(r.stderr, "the disk being repaired") {
		t.Fatalf("exit %d, want 2 naming the disk being repaired\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(r.state, "doctor.json")); err == nil {
		t.Error("doctor ran with the journal on the disk")
	}
}

func TestRecipeStateInMemory(t *testing.T) {
	r := runRecipe(t, "XSRESCUE_INSTALLER=5.0", "state-in-memory")
	if r.code != 2 || !strings.Contains(r.stderr, "is in memory (tmpfs)") {
		t.Fatalf("exit %d, want 2 saying the storage is in memory\n%s", r.code, r.stderr)
	}
}

// runRecipe builds the chroot and the disk and runs xsrescue-pre.sh in it
// with settings (NAME=VALUE) on top of the test's; "cmdline:WORDS" is
// what the chroot's /proc/cmdline says; "state-on-the-disk" puts the
// durable storage on the disk given to the recipe, "state-in-memory" on a
// tmpfs.
func runRecipe(t *testing.T, settings ...string) *recipe {
	testutil.NeedRoot(t, "chroot, loop devices and mount")
	busybox := staticBusybox(t)
	bin := staticBinary(t)
	dir := t.TempDir()

	img, err := fixtures.BuildDisk(dir, fixtures.Mini("pre", "dos", fixtures.RootSpec{Release: "5.5"}, &fixtures.RootSpec{Release: "5.0"}))
	testutil.Must(t, err)
	out, err := exec.Command("losetup", "--find", "--show", "--partscan", img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })

	// The install server.
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(bin))))
	t.Cleanup(srv.Close)

	// The chroot: busybox, the script, /proc, /sys, /dev, an empty /tmp,
	// and /state standing for the durable storage.
	root := filepath.Join(dir, "root")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "state"} {
		testutil.Must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	copyFile(t, busybox, filepath.Join(root, "bin", "busybox"), 0o755)
	copyFile(t, filepath.Join(repoRoot(t), "contrib", "kickstart", "xsrescue-pre.sh"), filepath.Join(root, "xsrescue-pre.sh"), 0o755)
	if out, err := exec.Command("chroot", root, "/bin/busybox", "--install", "-s", "/bin").CombinedOutput(); err != nil {
		t.Fatalf("busybox --install: %v\n%s", err, out)
	}
	for _, m := range []struct{ src, dst, fstype string }{{"proc", "proc", "proc"}, {"sysfs", "sys", "sysfs"}, {"/dev", "dev", ""}} {
		target := filepath.Join(root, m.dst)
		var err error
		if m.fstype == "" {
			err = unix.Mount(m.src, target, "", unix.MS_BIND, "")
		} else {
			err = unix.Mount(m.src, target, m.fstype, 0, "")
		}
		if err != nil {
			t.Fatalf("mount %s on %s: %v", m.src, target, err)
		}
		t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
	}

	var env []string
	for _, set := range settings {
		if set == "state-in-memory" {
			target := filepath.Join(root, "state")
			testutil.Must(t, unix.Mount("tmpfs", target, "tmpfs", 0, "size=1m"))
			t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
			continue
		}
		if set == "state-on-the-disk" {
			// The durable storage is a filesystem on the very disk given
			// (a whole-disk filesystem: loop devices here get no
			// partitions, the kernel's max_part being 0 in containers).
			disk := filepath.Join(dir, "state.img")
			if out, err := exec.Command("mkfs.ext3", "-q", "-F", disk, "16M").CombinedOutput(); err != nil {
				t.Fatalf("mkfs.ext3: %v\n%s", err, out)
			}
			out, err := exec.Command("losetup", "--find", "--show", disk).Output()
			if err != nil {
				t.Fatalf("losetup: %v", err)
			}
			loop := strings.TrimSpace(string(out))
			t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
			target := filepath.Join(root, "state")
			if out, err := exec.Command("mount", loop, target).CombinedOutput(); err != nil {
				t.Fatalf("mount %s: %v\n%s", loop, err, out)
			}
			t.Cleanup(func() { exec.Command("umount", target).Run() })
			env = append(env, "XSRESCUE_DISK="+loop)
			continue
		}
		words, ok := strings.CutPrefix(set, "cmdline:")
		if !ok {
			env = append(env, set)
			continue
		}
		file := filepath.Join(dir, "cmdline")
		testutil.Must(t, os.WriteFile(file, []byte("BOOT_IMAGE=vmlinuz "+words+"\n"), 0o644))
		target := filepath.Join(root, "proc", "cmdline")
		testutil.Must(t, unix.Mount(file, target, "", unix.MS_BIND, ""))
		t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chroot", root, "/bin/sh", "/xsrescue-pre.sh")
	cmd.Env = append([]string{"PATH=/bin", "XSRESCUE_URL=" + srv.URL + "/xsrescue",
		"XSRESCUE_DISK=" + dev, "XSRESCUE_STATE=/state", "XSRESCUE_HOST=host1"}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("chroot: %v", err)
	}
	state := filepath.Join(root, "state", "host1")
	t.Logf("xsrescue-pre.sh exit %d\n%s", code, stderr.String())
	if log, err := os.ReadFile(filepath.Join(state, "xsrescue.log")); err == nil {
		t.Logf("xsrescue.log:\n%s", log)
	}
	return &recipe{code: code, stdout: stdout.String(), stderr: stderr.String(), state: state, dev: dev, img: img}
}

// productVersion is PRODUCT_VERSION of the disk's root, as version show
// --json reads it.
func productVersion(t *testing.T, bin, dev string) string {
	out, err := exec.Command(bin, "version", "show", "--disk", dev, "--json").Output()
	if err != nil {
		t.Fatalf("version show: %v", err)
	}
	const key = `"PRODUCT_VERSION": "`
	s := string(out)
	i := strings.Index(s, key)
	if i < 0 {
		t.Fatalf("version show: no PRODUCT_VERSION:\n%s", s)
	}
	s = s[i+len(key):]
	return s[:strings.IndexByte(s, '"')]
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  string
)

// staticBinary is xsrescue as scripts/build.sh builds it (static: the
// chroot has no C library), once per test run.
func staticBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "xsrescue-kickstart-")
		if err != nil {
			buildErr = err.Error()
			return
		}
		buildDir = dir
		cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "build.sh"), filepath.Join(dir, "xsrescue"))
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err.Error() + "\n" + string(out)
		}
	})
	if buildErr != "" {
		t.Fatalf("scripts/build.sh: %s", buildErr)
	}
	return filepath.Join(buildDir, "xsrescue")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// staticBusybox is Debian busybox-static's binary: a chroot with nothing
// else needs one without a program interpreter.
func staticBusybox(t *testing.T) string {
	path, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed (scripts/test.sh installs busybox-static)")
	}
	f, err := elf.Open(path)
	testutil.Must(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Skipf("%s is dynamically linked: install busybox-static", path)
		}
	}
	return path
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	b, err := os.ReadFile(src)
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(dst, b, mode))
}

func read(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	testutil.Must(t, err)
	return string(b)
}

func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}
