// Package versionfile reads and rewrites the version markers of an offline
// XenServer root (etc/xensource-inventory, redhat-release, centos-release,
// system-release, os-release, issue) and says, per installer generation,
// whether that installer would offer to upgrade or restore the disk and why.
// Facts and their sources: docs/version.md.
package versionfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
)

// InventoryPath is where every XenServer release keeps its inventory.
const InventoryPath = "etc/xensource-inventory"

// MaxInventorySize bounds what is read of an inventory. Real ones are under
// 2 KiB; the installer reads any size (readKeyValueFile: f.readlines()), so
// the bound is generous, and one line may be as long as the file.
const MaxInventorySize = 16 << 20

// MaxLineLength bounds one inventory line: the file's bound.
const MaxLineLength = MaxInventorySize

// ErrSyntax is wrapped by every inventory syntax error, so callers can branch
// on "the file is malformed" without parsing messages.
var ErrSyntax = errors.New("malformed inventory")

// Entry is one line of an inventory. Blank and comment lines have no Key;
// Raw is the line exactly as read, without its newline.
type Entry struct {
	Key    string
	Value  string // what the installer sees: leading and trailing single quotes stripped
	Quoted bool   // the value was written starting with '
	Raw    string
	// Problem is set for a line that readKeyValueFile reads but a shell
	// sourcing the file (and a careful editor) would not: a carriage
	// return at its end, a NUL byte, no '=', a key that is not a shell
	// name, unbalanced single quotes. Key and Value are still the
	// installer's reading (the value keeps the "\r" or the NUL).
	Problem string
}

// Inventory is an etc/xensource-inventory kept line by line, so that writing
// it back without changes gives the same bytes.
type Inventory struct {
	Name       string // file name used in error messages
	Entries    []Entry
	NoFinalEOL bool // the last line had no trailing newline
}

// ParseInventory reads an inventory line by line, each line as the
// installer's readKeyValueFile reads it (parseLine), and keeps every byte
// so that Bytes gives the file back. Only a line over MaxLineLength is an
// *xerr.SyntaxError naming name and the line (xsrescue's bound; the
// installer reads any size). A line a shell sourcing the file or a careful
// editor would not accept — a carriage return or NUL byte, no '=', a key
// that is not a shell name, an odd number of single quotes — is read as
// the installer reads it, with the line's Problem set (Problems).
func ParseInventory(r io.Reader, name string) (*Inventory, error) {
	inv := &Inventory{Name: name}
	br := bufio.NewReaderSize(r, 4096)
	for lineNo := 1; ; lineNo++ {
		line, eol, err := readLine(br)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				return nil, &xerr.SyntaxError{File: name, Line: lineNo, Msg: fmt.Sprintf("line longer than %d bytes", MaxLineLength), Err: ErrSyntax}
			}
			return nil, fmt.Errorf("%s line %d: %w", name, lineNo, err)
		}
		if !eol && line == "" {
			break // end of file after a final newline (or an empty file)
		}
		inv.Entries = append(inv.Entries, parseLine(line))
		if !eol {
			inv.NoFinalEOL = true
			break
		}
	}
	return inv, nil
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its "\n"; eol reports whether the
// newline was there. It never holds more than MaxLineLength bytes.
func readLine(br *bufio.Reader) (line string, eol bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLineLength+1 {
			return "", false, errLineTooLong
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return string(buf[:len(buf)-1]), true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return string(buf), false, nil
		default:
			return "", false, err
		}
	}
}

// parseLine returns the entry for one line as readKeyValueFile reads it
// (partition.KeyValueLine, the one inventory reading). That function takes
// every line and never raises on its content (host-installer util.py, the
// same body in every generation xsrescue models, all run by Python 2), so
// no line is an error: what a shell sourcing the file (the running host's
// init scripts) or a careful editor would not accept is the entry's Problem,
// saying what the installer makes of it. Key is the installer's key when it
// is a shell name — every key an installer looks up is one —, else "".
func parseLine(line string) Entry {
	e := Entry{Raw: line}
	trimmed := strings.TrimSpace(line)
	comment := trimmed == "" || strings.HasPrefix(trimmed, "#")
	key, val := partition.KeyValueLine(line)
	if validKey(key) {
		// A comment line never has one: its key holds the '#' or is
		// blank.
		e.Key, e.Value = key, val
		e.Quoted = strings.HasPrefix(line[min(len(key)+1, len(line)):], "'")
	}
	var why []string
	switch i := strings.IndexByte(line, 0); {
	case strings.HasSuffix(line, "\r"):
		// The installer strips only "\n": the value keeps "'\r", and a
		// version or name compared from it no longer matches.
		why = append(why, "carriage return at end of line (DOS line ending): readKeyValueFile keeps it in the value")
	case i >= 0:
		why = append(why, fmt.Sprintf("NUL byte at column %d: readKeyValueFile keeps it in the value", i+1))
	}
	switch {
	case comment:
	case !strings.Contains(line, "="):
		// Python's l[:l.find("=")] with find() == -1 is the line but its
		// last byte, and the value the whole line.
		why = append(why, fmt.Sprintf("no '=' in %q: readKeyValueFile reads it as the key %q%s", clip(line), clip(key), keyUse(e)))
	case e.Key == "":
		why = append(why, fmt.Sprintf("key %q is not a shell variable name: readKeyValueFile keeps it under that name, which no installer looks up", clip(key)))
	case strings.Count(line[len(key)+1:], "'")%2 != 0:
		why = append(why, fmt.Sprintf("unbalanced single quotes (a shell sourcing the file stops here): readKeyValueFile strips the quotes at both ends and reads %s=%q", key, clip(val)))
	}
	e.Problem = strings.Join(why, "; ")
	return e
}

// keyUse completes the note on a line without '=': whether its key is one
// an installer could look up.
func keyUse(e Entry) string {
	if e.Key == "" {
		return ", which no installer looks up"
	}
	return fmt.Sprintf(" with the value %q", clip(e.Value))
}

// Problems lists the lines read with a Problem, as "line N (KEY): why".
// Line numbers count from 1; every entry is one line.
func (inv *Inventory) Problems() []string {
	var out []string
	for i, e := range inv.Entries {
		switch {
		case e.Problem != "" && e.Key != "":
			out = append(out, fmt.Sprintf("line %d (%s): %s", i+1, e.Key, e.Problem))
		case e.Problem != "":
			out = append(out, fmt.Sprintf("line %d: %s", i+1, e.Problem))
		}
	}
	return out
}

// HasCR: some line ends in a carriage return.
func (inv *Inventory) HasCR() bool {
	for _, e := range inv.Entries {
		if strings.HasSuffix(e.Raw, "\r") {
			return true
		}
	}
	return false
}

func validKey(k string) bool { return partition.ShellName(k) }

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// Bytes is the inventory as it would be written.
func (inv *Inventory) Bytes() []byte {
	var b bytes.Buffer
	for i, e := range inv.Entries {
		b.WriteString(e.Raw)
		if i < len(inv.Entries)-1 || !inv.NoFinalEOL {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Get returns the value of key and whether it is present. With a key given
// twice the last one wins, as when the file is sourced by a shell.
func (inv *Inventory) Get(key string) (string, bool) {
	for i := len(inv.Entries) - 1; i >= 0; i-- {
		if inv.Entries[i].Key == key {
			return inv.Entries[i].Value, true
		}
	}
	return "", false
}

// Value returns the value of key, "" when absent.
func (inv *Inventory) Value(key string) string {
	v, _ := inv.Get(key)
	return v
}

// Map returns every key with its (last) value.
func (inv *Inventory) Map() map[string]string {
	m := make(map[string]string, len(inv.Entries))
	for _, e := range inv.Entries {
		if e.Key != "" {
			m[e.Key] = e.Value
		}
	}
	return m
}

// Clone returns an independent copy.
func (inv *Inventory) Clone() *Inventory {
	c := *inv
	c.Entries = append([]Entry(nil), inv.Entries...)
	return &c
}

// ErrUnsafeValue is returned by Set for a value that cannot be written as
// KEY='value' and read back the same by both the installer and a shell.
var ErrUnsafeValue = errors.New("value cannot be written shell-safe as '…'")

// Set gives key the value, rewriting only that key's line(s) as KEY='value'
// and appending the key at the end when absent. Every other byte is kept.
func (inv *Inventory) Set(key, value string) error {
	if !validKey(key) {
		return fmt.Errorf("%s: key %q is not a shell variable name", inv.Name, key)
	}
	if err := CheckValue(value); err != nil {
		return fmt.Errorf("%s: %s=%q: %w", inv.Name, key, value, err)
	}
	raw := key + "='" + value + "'"
	found := false
	for i, e := range inv.Entries {
		if e.Key == key {
			inv.Entries[i] = Entry{Key: key, Value: value, Quoted: true, Raw: raw}
			found = true
		}
	}
	if !found {
		if inv.NoFinalEOL && len(inv.Entries) > 0 {
			inv.NoFinalEOL = false // the appended line needs the old last line ended
		}
		inv.Entries = append(inv.Entries, Entry{Key: key, Value: value, Quoted: true, Raw: raw})
	}
	return nil
}

// CheckValue reports whether value can be written as '…': no single quote
// (it would end the quoting), no control characters (the installer reads
// line by line and strips only quotes).
func CheckValue(value string) error {
	for _, c := range value {
		if c == '\'' || c < 0x20 || c == 0x7f {
			return ErrUnsafeValue
		}
	}
	return nil
}
