package guestfix

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// DefaultInstallOnlyPkgs is yum's built-in installonlypkgs list (yum 2.4 on
// CentOS 4), in effect when yum.conf has no installonlypkgs line.
var DefaultInstallOnlyPkgs = []string{
	"kernel", "kernel-smp", "kernel-devel", "kernel-smp-devel",
	"kernel-largesmp", "kernel-largesmp-devel", "kernel-hugemem", "kernel-hugemem-devel",
}

// XenUInstallOnlyPkgs must be install-only in a domU so that a yum update
// keeps the kernel whose modules the host boots.
var XenUInstallOnlyPkgs = []string{"kernel-xenU", "kernel-xenU-devel"}

type iniKind int

const (
	iniBlank iniKind = iota
	iniComment
	iniSection
	iniOption
	iniContinuation
)

// iniLine is one physical line, kept with its line ending so that the file
// can be written back byte for byte.
type iniLine struct {
	raw     string
	kind    iniKind
	section string // the section the line belongs to
	key     string // iniOption: lower-cased as Python's ConfigParser does
	valueAt int    // iniOption: byte offset of the value in raw
}

// YumConf is a yum.conf (Python ConfigParser syntax) kept line by line.
type YumConf struct {
	lines []iniLine
}

// ParseYumConf reads a yum.conf. name is used in error messages.
func ParseYumConf(r io.Reader, name string) (*YumConf, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &YumConf{}
	section := ""
	for i, raw := range splitLines(data) {
		n := i + 1
		text := strings.TrimRight(raw, "\r\n")
		l := iniLine{raw: raw, section: section}
		trimmed := strings.TrimSpace(text)
		switch {
		case trimmed == "":
			l.kind = iniBlank
		case trimmed[0] == '#' || trimmed[0] == ';' || strings.HasPrefix(strings.ToLower(text), "rem") && (len(text) == 3 || text[3] == ' ' || text[3] == '\t'):
			l.kind = iniComment
		case text[0] == ' ' || text[0] == '\t':
			if len(c.lines) == 0 || !c.continues() {
				return nil, invalidLine(name, n, "indented line %q continues no option", trimmed)
			}
			l.kind = iniContinuation
		case text[0] == '[':
			end := strings.IndexByte(text, ']')
			if end < 0 {
				return nil, invalidLine(name, n, "section header %q has no closing ']'", text)
			}
			section = text[1:end]
			if section == "" {
				return nil, invalidLine(name, n, "empty section name")
			}
			l.kind, l.section = iniSection, section
		default:
			if section == "" {
				return nil, invalidLine(name, n, "option %q before any [section] header", trimmed)
			}
			sep := strings.IndexAny(text, "=:")
			if sep <= 0 || strings.TrimSpace(text[:sep]) == "" {
				return nil, invalidLine(name, n, "expected 'name = value' or '[section]', got %q", text)
			}
			l.kind = iniOption
			l.key = strings.ToLower(strings.TrimSpace(text[:sep]))
			l.valueAt = sep + 1
			for l.valueAt < len(text) && (text[l.valueAt] == ' ' || text[l.valueAt] == '\t') {
				l.valueAt++
			}
		}
		c.lines = append(c.lines, l)
	}
	return c, nil
}

// continues reports whether an indented line may continue the last option:
// Python 2's ConfigParser skips blank and comment lines before it looks at
// indentation, so they do not end a value.
func (c *YumConf) continues() bool {
	for i := len(c.lines) - 1; i >= 0; i-- {
		switch c.lines[i].kind {
		case iniOption, iniContinuation:
			return true
		case iniSection:
			return false
		}
	}
	return false
}

// continuations lists the continuation lines of the option at line i.
func (c *YumConf) continuations(i int) []int {
	var idx []int
	for j := i + 1; j < len(c.lines); j++ {
		switch c.lines[j].kind {
		case iniContinuation:
			idx = append(idx, j)
		case iniOption, iniSection:
			return idx
		}
	}
	return idx
}

// Bytes is the file as it would be written.
func (c *YumConf) Bytes() []byte {
	var b bytes.Buffer
	for _, l := range c.lines {
		b.WriteString(l.raw)
	}
	return b.Bytes()
}

// find returns the index of the last line defining key in section (the one
// ConfigParser keeps), or -1.
func (c *YumConf) find(section, key string) int {
	at := -1
	for i, l := range c.lines {
		if l.kind == iniOption && l.section == section && l.key == strings.ToLower(key) {
			at = i
		}
	}
	return at
}

// Get returns the value of key in section, continuation lines joined with
// newlines as ConfigParser does, and the 1-based line where it is defined.
func (c *YumConf) Get(section, key string) (value string, line int, ok bool) {
	i := c.find(section, key)
	if i < 0 {
		return "", 0, false
	}
	parts := []string{strings.TrimSpace(strings.TrimRight(c.lines[i].raw, "\r\n")[c.lines[i].valueAt:])}
	for _, j := range c.continuations(i) {
		parts = append(parts, strings.TrimSpace(c.lines[j].raw))
	}
	return strings.Join(parts, "\n"), i + 1, true
}

// Set sets key in section to value. An existing definition is rewritten in
// place (its continuation lines folded into the one line, the text before the
// value kept); a new one goes after the section's last option. A missing
// section is added at the top of the file.
func (c *YumConf) Set(section, key, value string) {
	eol := c.lineEnding()
	if i := c.find(section, key); i >= 0 {
		l := c.lines[i]
		text := strings.TrimRight(l.raw, "\r\n")
		l.raw = text[:l.valueAt] + value + l.raw[len(text):]
		drop := map[int]bool{}
		for _, j := range c.continuations(i) {
			drop[j] = true
		}
		kept := make([]iniLine, 0, len(c.lines))
		for j, old := range c.lines {
			switch {
			case j == i:
				kept = append(kept, l)
			case !drop[j]:
				kept = append(kept, old)
			}
		}
		c.lines = kept
		return
	}
	line := iniLine{raw: key + "=" + value + eol, kind: iniOption, section: section, key: strings.ToLower(key), valueAt: len(key) + 1}
	at := -1
	for i, l := range c.lines {
		if l.section == section && (l.kind == iniSection || l.kind == iniOption || l.kind == iniContinuation) {
			at = i + 1
		}
	}
	if at < 0 {
		c.lines = append([]iniLine{{raw: "[" + section + "]" + eol, kind: iniSection, section: section}, line}, c.lines...)
		return
	}
	if at == len(c.lines) && at > 0 && !strings.HasSuffix(c.lines[at-1].raw, "\n") {
		c.lines[at-1].raw += eol
	}
	c.lines = append(c.lines[:at], append([]iniLine{line}, c.lines[at:]...)...)
}

func (c *YumConf) lineEnding() string {
	if len(c.lines) > 0 && strings.HasSuffix(c.lines[0].raw, "\r\n") {
		return "\r\n"
	}
	return "\n"
}

// InstallOnlyPkgs is the effective installonlypkgs list and whether the line
// is present (absent: yum's default list).
func (c *YumConf) InstallOnlyPkgs() (pkgs []string, line int, present bool) {
	v, line, ok := c.Get("main", "installonlypkgs")
	if !ok {
		return append([]string(nil), DefaultInstallOnlyPkgs...), 0, false
	}
	// yum's ListOption: commas and newlines separate like spaces.
	return strings.Fields(strings.NewReplacer(",", " ", "\n", " ").Replace(v)), line, true
}

// splitLines splits data after each '\n', keeping the line endings; the last
// line may have none.
func splitLines(data []byte) []string {
	var lines []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lines = append(lines, string(data))
			break
		}
		lines = append(lines, string(data[:i+1]))
		data = data[i+1:]
	}
	return lines
}
