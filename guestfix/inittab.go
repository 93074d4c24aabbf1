package guestfix

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// SerialGetty is the inittab entry that gives a xenU guest a login on its
// serial console.
const SerialGetty = "S0:2345:respawn:/sbin/agetty ttyS0 38400 vt100-nav"

// inittabActions are the actions sysvinit 2.85 (CentOS 4) knows; init
// ignores an entry with any other action.
var inittabActions = map[string]bool{
	"respawn": true, "wait": true, "once": true, "boot": true, "bootwait": true,
	"off": true, "ondemand": true, "initdefault": true, "sysinit": true,
	"powerwait": true, "powerfail": true, "powerokwait": true, "powerfailnow": true,
	"ctrlaltdel": true, "kbrequest": true,
}

// InittabEntry is one id:runlevels:action:process line.
type InittabEntry struct {
	Line      int // 1-based
	ID        string
	Runlevels string
	Action    string
	Process   string
}

// Inittab is /etc/inittab kept line by line.
type Inittab struct {
	lines   []string // with their line endings
	Entries []InittabEntry
}

// ParseInittab reads an inittab. name is used in error messages.
func ParseInittab(r io.Reader, name string) (*Inittab, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t := &Inittab{lines: splitLines(data)}
	for i, raw := range t.lines {
		n := i + 1
		text := strings.TrimSpace(raw)
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.SplitN(text, ":", 4)
		if len(f) != 4 {
			return nil, invalidLine(name, n, "expected id:runlevels:action:process, got %q", text)
		}
		e := InittabEntry{Line: n, ID: f[0], Runlevels: f[1], Action: f[2], Process: f[3]}
		if len(e.ID) > 4 {
			return nil, invalidLine(name, n, "id %q is longer than 4 characters", e.ID)
		}
		if !inittabActions[e.Action] {
			return nil, invalidLine(name, n, "unknown action %q", e.Action)
		}
		t.Entries = append(t.Entries, e)
	}
	return t, nil
}

// Bytes is the file as it would be written.
func (t *Inittab) Bytes() []byte {
	var b bytes.Buffer
	for _, l := range t.lines {
		b.WriteString(l)
	}
	return b.Bytes()
}

// Entry returns the entry with the given id.
func (t *Inittab) Entry(id string) (InittabEntry, bool) {
	for _, e := range t.Entries {
		if e.ID == id {
			return e, true
		}
	}
	return InittabEntry{}, false
}

// GettiesOn returns the respawned entries that run a getty on tty (for
// example ttyS0).
func (t *Inittab) GettiesOn(tty string) []InittabEntry {
	var out []InittabEntry
	for _, e := range t.Entries {
		if e.Action != "respawn" || !strings.Contains(e.Process, "getty") {
			continue
		}
		for _, arg := range strings.Fields(e.Process) {
			if arg == tty || arg == "/dev/"+tty {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// InsertBefore inserts line before the entry with id before, or at the end
// when there is no such entry, and returns the 1-based line it now has.
func (t *Inittab) InsertBefore(before, line string) int {
	eol := "\n"
	if len(t.lines) > 0 && strings.HasSuffix(t.lines[0], "\r\n") {
		eol = "\r\n"
	}
	at := len(t.lines)
	if e, ok := t.Entry(before); ok {
		at = e.Line - 1
	} else if at > 0 && !strings.HasSuffix(t.lines[at-1], "\n") {
		t.lines[at-1] += eol
	}
	t.lines = append(t.lines[:at], append([]string{line + eol}, t.lines[at:]...)...)
	for i := range t.Entries {
		if t.Entries[i].Line > at {
			t.Entries[i].Line++
		}
	}
	f := strings.SplitN(line, ":", 4)
	t.Entries = append(t.Entries, InittabEntry{Line: at + 1, ID: f[0], Runlevels: f[1], Action: f[2], Process: f[3]})
	return at + 1
}

// allRunlevels is the runlevels field sysvinit gives an entry whose field
// is empty (read_inittab: strcpy(ch->rlevel, "0123456789")).
const allRunlevels = "0123456789"

// Levels is the runlevels the entry runs in: its field, or every numeric
// runlevel when the field is empty. init starts an entry in runlevel r
// when r is in this field (start_if_needed: strchr(ch->rlevel, runlevel)).
func (e InittabEntry) Levels() string {
	if e.Runlevels == "" {
		return allRunlevels
	}
	return e.Runlevels
}

// DefaultRunlevel is the runlevel init enters at boot when the kernel
// command line names none, as sysvinit's get_init_default computes it:
// from the first initdefault entry, the highest character of its runlevels
// field (an empty field is 0123456789), upper-cased. ok is false when init
// would ask for a runlevel on the console instead (no initdefault entry,
// or a level that is not 0-9 or S); e is the entry read.
func (t *Inittab) DefaultRunlevel() (level byte, e InittabEntry, ok bool) {
	for _, e := range t.Entries {
		if e.Action != "initdefault" {
			continue
		}
		lvl := byte(0)
		for _, c := range []byte(e.Levels()) {
			lvl = max(lvl, c)
		}
		if lvl >= 'a' && lvl <= 'z' {
			lvl -= 'a' - 'A'
		}
		return lvl, e, lvl != 0 && strings.IndexByte("0123456789S", lvl) >= 0
	}
	return 0, InittabEntry{}, false
}

// CmdlineRunlevel is the runlevel the kernel command line args give init,
// which overrides initdefault: sysvinit's main takes "single" or "-s" as
// S and a one-character argument in 0-9, s, S as that level; the last one
// wins. The kernel hands init the arguments it does not use itself.
func CmdlineRunlevel(args []string) (byte, bool) {
	lvl := byte(0)
	for _, a := range args {
		switch {
		case a == "single" || a == "-s":
			lvl = 'S'
		case len(a) == 1 && strings.IndexByte("0123456789sS", a[0]) >= 0:
			lvl = a[0]
		}
	}
	if lvl == 's' {
		lvl = 'S'
	}
	return lvl, lvl != 0
}

// SetRunlevels rewrites the runlevels field of the entry on line n (as
// read) to levels; every other byte of the file stays.
func (t *Inittab) SetRunlevels(n int, levels string) {
	raw := t.lines[n-1]
	i := strings.IndexByte(raw, ':')
	j := i + 1 + strings.IndexByte(raw[i+1:], ':')
	t.lines[n-1] = raw[:i+1] + levels + raw[j:]
	for k := range t.Entries {
		if t.Entries[k].Line == n {
			t.Entries[k].Runlevels = levels
		}
	}
}
