package guestfix_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/guestfix"
)

// TestConsoleAsPAMAndInit: serial-console and dbus-user verdicts follow
// what pam_securetty, sysvinit and dbus-daemon do with the guest's files
// (docs/guest.md cites the code), and fix leaves the file in the state
// they accept, every other byte kept.
func TestConsoleAsPAMAndInit(t *testing.T) {
	t.Parallel()
	const getty = ":respawn:/sbin/agetty ttyS0 38400 vt100-nav\n"
	tests := []struct {
		name     string
		rule     string
		spec     func(*fixtures.GuestSpec)
		finding  string // "id severity"
		file     string // file the fix edits ("": none)
		old, new string // a part of file before and after the fix
	}{
		{"securetty exact", "serial-console", nil, "serial-console/securetty ok", "", "", ""},
		{"securetty trailing blank", "serial-console", func(s *fixtures.GuestSpec) { s.SecurettyS0 = "ttyS0 " }, "serial-console/securetty broken",
			"etc/securetty", "tty11\nttyS0 \n", "tty11\nttyS0 \nttyS0\n"},
		{"securetty CRLF", "serial-console", func(s *fixtures.GuestSpec) { s.SecurettyS0 = "ttyS0\r" }, "serial-console/securetty broken",
			"etc/securetty", "tty11\nttyS0\r\n", "tty11\nttyS0\r\nttyS0\n"},
		{"securetty leading blank", "serial-console", func(s *fixtures.GuestSpec) { s.SecurettyS0 = " ttyS0" }, "serial-console/securetty broken",
			"etc/securetty", "tty11\n ttyS0\n", "tty11\n ttyS0\nttyS0\n"},
		{"securetty /dev/ttyS0", "serial-console", func(s *fixtures.GuestSpec) { s.SecurettyS0 = "/dev/ttyS0" }, "serial-console/securetty warn",
			"etc/securetty", "tty11\n/dev/ttyS0\n", "tty11\n/dev/ttyS0\nttyS0\n"},
		{"securetty world-writable", "serial-console", func(s *fixtures.GuestSpec) { s.SecurettyMode = 0o666 }, "serial-console/securetty broken", "", "", ""},
		{"getty in runlevel 1 only, initdefault 3", "serial-console", func(s *fixtures.GuestSpec) { s.SerialGettyLevels = "1" }, "serial-console/inittab broken",
			"etc/inittab", "\nS0:1" + getty, "\nS0:12345" + getty},
		{"getty in 234, initdefault 5", "serial-console", func(s *fixtures.GuestSpec) { s.SerialGettyLevels, s.InitDefault = "234", "5" }, "serial-console/inittab broken",
			"etc/inittab", "\nS0:234" + getty, "\nS0:2345" + getty},
		{"getty in 23, extra says 4 over initdefault 3", "serial-console", func(s *fixtures.GuestSpec) { s.SerialGettyLevels, s.Extra = "23", "ro 4" }, "serial-console/inittab broken",
			"etc/inittab", "\nS0:23" + getty, "\nS0:2345" + getty},
		{"getty in 2345, extra says 3", "serial-console", func(s *fixtures.GuestSpec) { s.Extra = "3" }, "serial-console/inittab ok", "", "", ""},
		{"empty runlevels field is every level", "serial-console", func(s *fixtures.GuestSpec) { s.SerialGettyLevels = "" }, "serial-console/inittab ok", "", "", ""},
		{"no initdefault: init asks on the console", "serial-console", func(s *fixtures.GuestSpec) { s.InitDefault = "-" }, "serial-console/inittab warn", "", "", ""},
		{"single user from extra", "serial-console", func(s *fixtures.GuestSpec) { s.SerialGettyLevels, s.Extra = "2345", "single" }, "serial-console/inittab warn", "", "", ""},
		{"no getty, initdefault 5 within 2345", "serial-console", func(s *fixtures.GuestSpec) { s.SerialConsole, s.InitDefault = false, "5" }, "serial-console/inittab warn",
			"etc/inittab", "\n1:2345:respawn:/sbin/mingetty tty1\n", "\nS0:2345" + getty + "1:2345:respawn:/sbin/mingetty tty1\n"},
		{"no getty, initdefault 7", "serial-console", func(s *fixtures.GuestSpec) { s.SerialConsole, s.InitDefault = false, "7" }, "serial-console/inittab warn",
			"etc/inittab", "\n1:2345:respawn:/sbin/mingetty tty1\n", "\nS0:23457" + getty + "1:2345:respawn:/sbin/mingetty tty1\n"},
		{"dbus account with uid 82", "dbus-user", func(s *fixtures.GuestSpec) { s.DBusUID = 82 }, "dbus-user ok", "", "", ""},
		{"dbus uid 82, uid 81 held by avahi", "dbus-user", func(s *fixtures.GuestSpec) { s.DBusUID, s.UID81 = 82, "avahi" }, "dbus-user ok", "", "", ""},
		{"no dbus account, uid 81 held by avahi", "dbus-user", func(s *fixtures.GuestSpec) { s.DBusUser, s.UID81 = false, "avahi" }, "dbus-user broken", "", "", ""},
		{"no dbus account", "dbus-user", func(s *fixtures.GuestSpec) { s.DBusUser = false }, "dbus-user broken",
			"etc/passwd", "haldaemon:x:68:68:HAL daemon:/:/sbin/nologin\n", "haldaemon:x:68:68:HAL daemon:/:/sbin/nologin\ndbus:x:81:81:System message bus:/:/sbin/nologin\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := guestCase{name: tc.name, spec: fixtures.CentOS45Guest(), domain: true}
			if tc.spec != nil {
				tc.spec(&c.spec)
			}
			dir, _, opts := setup(t, c)
			opts.Only = []string{tc.rule}
			if got := findingOf(t, dir, opts, tc.finding); got != tc.finding {
				t.Fatalf("finding %q, want %q", got, tc.finding)
			}
			before, after, planned := fixFile(t, dir, opts, tc.file)
			if !planned {
				return
			}
			if !strings.Contains(before, tc.old) {
				t.Fatalf("fixture %s lacks %q:\n%s", tc.file, tc.old, before)
			}
			if d := cmp.Diff(strings.Replace(before, tc.old, tc.new, 1), after); d != "" {
				t.Errorf("%s after the fix (-want +got):\n%s", tc.file, d)
			}
			id, _, _ := strings.Cut(tc.finding, " ")
			if got := findingOf(t, dir, opts, id+" ok"); got != id+" ok" {
				t.Errorf("after the fix: %q, want ok", got)
			}
		})
	}
}

// fixFile plans the fix, and when file is not "" applies it through the
// journal and returns file's content before and after. With file "" it
// fails the test when anything is planned.
func fixFile(t *testing.T, dir string, opts guestfix.Options, file string) (before, after string, planned bool) {
	t.Helper()
	fix, err := guestfix.Plan(openRoot(t, dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	if file == "" {
		if !fix.Guest.Empty() {
			t.Fatalf("planned %d change(s), want none: %+v", len(fix.Guest.Changes), fix.Guest.Changes)
		}
		return "", "", false
	}
	read := func() string {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	before = read()
	apply(t, dir, filepath.Join(t.TempDir(), "j.db"), fix.Guest)
	return before, read(), true
}

// findingBy is the first finding whose id is id (or, when id ends in "/",
// whose rule is id without it).
func findingBy(t *testing.T, dir string, opts guestfix.Options, id string) guestfix.Finding {
	t.Helper()
	rep, err := guestfix.Check(openRoot(t, dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.ID == id || f.Rule+"/" == id {
			return f
		}
	}
	return guestfix.Finding{ID: "none"}
}

// findingOf is the "id severity" of the finding with want's id, with its
// evidence when that is not want.
func findingOf(t *testing.T, dir string, opts guestfix.Options, want string) string {
	t.Helper()
	id, _, _ := strings.Cut(want, " ")
	f := findingBy(t, dir, opts, id)
	got := f.ID + " " + string(f.Severity)
	if got != want {
		got += " (" + f.Evidence + ")"
	}
	return got
}

func TestSecureTTY(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"ttyS0\n": true, "ttyS0": true, "console\nttyS0\n": true, "ttyS0\x00junk\n": true,
		"ttyS0 \n": false, "ttyS0\r\n": false, " ttyS0\n": false, "ttyS01\n": false, "/dev/ttyS0\n": false, "": false,
		// fgets reads 254 bytes at a time: the rest of a long line is a line.
		strings.Repeat("x", 254) + "ttyS0\n": true, strings.Repeat("x", 253) + "ttyS0\n": false,
	} {
		if got, _ := guestfix.SecureTTY([]byte(in), "ttyS0"); got != want {
			t.Errorf("SecureTTY(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestSecurettyLink: pam_securetty stat()s and opens etc/securetty, so a
// symlink is followed (inside the guest) and the file it leads to is
// judged; a dangling link or a loop fails stat(), which lets root in. A fix
// edits through the link only to a file named securetty.
func TestSecurettyLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		prepare  func(t *testing.T, dir string)
		severity guestfix.Severity
		evidence string
		change   bool // a fix appends ttyS0 through the link
	}{
		{"relative link to a regular file with ttyS0", func(t *testing.T, dir string) {
			write(t, dir, "etc/securetty.real", "console\nttyS0\n")
			relink(t, dir, "etc/securetty", "securetty.real")
		}, guestfix.OK, "etc/securetty.real (via etc/securetty) lists ttyS0", false},
		{"link to another name without ttyS0", func(t *testing.T, dir string) {
			write(t, dir, "etc/securetty.real", "console\n")
			relink(t, dir, "etc/securetty", "securetty.real")
		}, guestfix.Warn, "etc/securetty.real (via etc/securetty) lacks ttyS0: root cannot log in on the Xen console; add an exact ttyS0 line to etc/securetty.real by hand (not edited through a symlink to a file of another name)", false},
		{"link to etc/shadow", func(t *testing.T, dir string) { relink(t, dir, "etc/securetty", "/etc/shadow") },
			guestfix.Warn, "etc/shadow (via etc/securetty) lacks ttyS0", false},
		{"link to a securetty elsewhere", func(t *testing.T, dir string) {
			write(t, dir, "usr/etc/securetty", "console\n")
			relink(t, dir, "etc/securetty", "../usr/etc/securetty")
		}, guestfix.Warn, "usr/etc/securetty (via etc/securetty) lacks ttyS0: root cannot log in on the Xen console", true},
		{"dangling link", func(t *testing.T, dir string) { relink(t, dir, "etc/securetty", "securetty.gone") },
			guestfix.OK, "etc/securetty is a dangling symlink (to etc/securetty.gone): pam_securetty's stat() fails, so it lets root log in on every tty", false},
		{"link loop", func(t *testing.T, dir string) {
			relink(t, dir, "etc/securetty", "securetty2")
			relink(t, dir, "etc/securetty2", "securetty")
		}, guestfix.OK, "etc/securetty is a symlink loop: pam_securetty's stat() fails, so it lets root log in on every tty", false},
		{"link to a directory", func(t *testing.T, dir string) { relink(t, dir, "etc/securetty", "/etc") },
			guestfix.Broken, "etc (via etc/securetty) is not a regular file (a directory, mode drwxr-xr-x): pam_securetty refuses root on every tty; not read, not edited", false},
		{"link to a world-writable file", func(t *testing.T, dir string) {
			write(t, dir, "etc/securetty.real", "ttyS0\n")
			if err := os.Chmod(filepath.Join(dir, "etc/securetty.real"), 0o666); err != nil {
				t.Fatal(err)
			}
			relink(t, dir, "etc/securetty", "securetty.real")
		}, guestfix.Broken, "etc/securetty.real (via etc/securetty) is world-writable (mode 0666)", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, _, opts := setup(t, cases[0])
			tc.prepare(t, dir)
			opts.Only = []string{"serial-console"}
			p, err := guestfix.Plan(openRoot(t, dir), opts)
			if err != nil && tc.severity != guestfix.Broken {
				t.Fatal(err)
			}
			rep, err := guestfix.Check(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			var got *guestfix.Finding
			for i, f := range rep.Findings {
				if f.ID == "serial-console/securetty" {
					got = &rep.Findings[i]
				}
			}
			if got == nil || got.Severity != tc.severity || !strings.Contains(got.Evidence, tc.evidence) {
				t.Fatalf("finding %+v, want %s containing %q", got, tc.severity, tc.evidence)
			}
			if p == nil {
				return
			}
			changed := false
			for _, c := range p.Guest.Changes {
				if c.Path == "etc/securetty" {
					changed = true
				} else if strings.Contains(c.Path, "securetty") || c.Path == "etc/shadow" {
					t.Errorf("fix plans %s %s", c.Kind, c.Path)
				}
			}
			if changed != tc.change {
				t.Errorf("fix changes etc/securetty: %v, want %v", changed, tc.change)
			}
		})
	}
}
