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

// GettyOn returns the respawned entry that runs a getty on tty (for example
// ttyS0), or false.
func (t *Inittab) GettyOn(tty string) (InittabEntry, bool) {
	for _, e := range t.Entries {
		if e.Action != "respawn" || !strings.Contains(e.Process, "getty") {
			continue
		}
		for _, arg := range strings.Fields(e.Process) {
			if arg == tty || arg == "/dev/"+tty {
				return e, true
			}
		}
	}
	return InittabEntry{}, false
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
