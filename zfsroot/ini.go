package zfsroot

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// iniFile is a Python ConfigParser file kept line by line, so that an edit
// changes exactly the lines it means to and everything else stays
// byte-identical (comments, order, unknown keys, continuation lines).
type iniFile struct {
	name  string
	orig  []byte
	lines []iniLine
}

type iniLine struct {
	raw     string // including its newline, if any
	section string // the section this line belongs to ("" before the first)
	header  bool   // a [section] line
	key     string // for key lines
	value   string // for key lines, continuation lines joined with "\n"
	sepAt   int    // index in raw where the value starts
}

func parseINI(data []byte, name string) (*iniFile, error) {
	f := &iniFile{name: name, orig: data}
	section := ""
	last := -1 // index of the last key line, for continuations
	for n, raw := range strings.SplitAfter(string(data), "\n") {
		if raw == "" {
			continue
		}
		text := strings.TrimRight(raw, "\r\n")
		l := iniLine{raw: raw, section: section}
		trimmed := strings.TrimSpace(text)
		switch {
		case trimmed == "" || text[0] == '#' || text[0] == ';' || strings.HasPrefix(strings.ToLower(text), "rem "):
			if trimmed == "" {
				last = -1
			}
		case text[0] == ' ' || text[0] == '\t':
			if last < 0 {
				return nil, xerr.Invalidf("%s line %d: continuation line outside a value: %q", name, n+1, text)
			}
			f.lines[last].value += "\n" + trimmed
		case text[0] == '[':
			end := strings.IndexByte(text, ']')
			if end < 0 {
				return nil, xerr.Invalidf("%s line %d: unterminated section header %q", name, n+1, text)
			}
			section = text[1:end]
			l.section, l.header = section, true
			last = -1
		default:
			i := strings.IndexAny(text, "=:")
			if i <= 0 {
				return nil, xerr.Invalidf("%s line %d: not a section, key or comment: %q", name, n+1, text)
			}
			if section == "" {
				return nil, xerr.Invalidf("%s line %d: key %q before the first [section]", name, n+1, strings.TrimSpace(text[:i]))
			}
			l.key = strings.TrimSpace(text[:i])
			l.sepAt = i + 1
			for l.sepAt < len(text) && (text[l.sepAt] == ' ' || text[l.sepAt] == '\t') {
				l.sepAt++
			}
			l.value = strings.TrimSpace(text[l.sepAt:])
			last = len(f.lines)
		}
		f.lines = append(f.lines, l)
	}
	return f, nil
}

func (f *iniFile) bytes() []byte {
	var b bytes.Buffer
	for _, l := range f.lines {
		b.WriteString(l.raw)
	}
	return b.Bytes()
}

// sections lists section names in file order.
func (f *iniFile) sections() []string {
	var s []string
	for _, l := range f.lines {
		if l.header {
			s = append(s, l.section)
		}
	}
	return s
}

// get returns a key's value; ConfigParser lower-cases option names.
func (f *iniFile) get(section, key string) (string, bool) {
	for _, l := range f.lines {
		if l.section == section && l.key != "" && strings.EqualFold(l.key, key) {
			return l.value, true
		}
	}
	return "", false
}

// set replaces the value of an existing single-line key in place, keeping
// the key's spelling and separator; or, when the key is absent, inserts
// "key = value" after the section's last key line.
func (f *iniFile) set(section, key, value string) {
	lastKey := -1
	for i, l := range f.lines {
		if l.section != section || l.header {
			continue
		}
		if l.key != "" {
			lastKey = i
		}
		if l.key != "" && strings.EqualFold(l.key, key) {
			if l.value == value {
				return
			}
			nl := l.raw[len(strings.TrimRight(l.raw, "\r\n")):]
			l.raw = l.raw[:l.sepAt] + value + nl
			l.value = value
			f.lines[i] = l
			f.dropContinuations(i)
			return
		}
	}
	at := lastKey + 1
	if lastKey < 0 {
		for i, l := range f.lines {
			if l.header && l.section == section {
				at = i + 1
			}
		}
	}
	for at < len(f.lines) && isContinuation(f.lines[at]) {
		at++
	}
	nl := "\n"
	if at > 0 && strings.HasSuffix(f.lines[at-1].raw, "\r\n") {
		nl = "\r\n"
	}
	if at > 0 && !strings.HasSuffix(f.lines[at-1].raw, "\n") {
		f.lines[at-1].raw += nl
	}
	raw := key + " = " + value + nl
	line := iniLine{raw: raw, section: section, key: key, value: value, sepAt: len(key) + 3}
	f.lines = slices.Insert(f.lines, at, line)
}

func isContinuation(l iniLine) bool {
	return !l.header && l.key == "" && l.raw != "" && (l.raw[0] == ' ' || l.raw[0] == '\t') && strings.TrimSpace(l.raw) != ""
}

func (f *iniFile) dropContinuations(i int) {
	j := i + 1
	for j < len(f.lines) && isContinuation(f.lines[j]) {
		j++
	}
	f.lines = append(f.lines[:i+1], f.lines[j:]...)
}

// removeSection deletes a section's header, keys, continuations and the
// blank lines that end it; comment lines that follow its keys are kept,
// since they introduce whatever comes next.
func (f *iniFile) removeSection(section string) {
	f.lines = slices.DeleteFunc(f.lines, func(l iniLine) bool {
		comment := !l.header && l.key == "" && !isContinuation(l) && strings.TrimSpace(l.raw) != ""
		return l.section == section && !comment
	})
}

// pyList parses a Python list literal of strings as pkg writes them:
// ['a', 'b'], [u'a'], [] (2011+ ast.literal_eval; 2009/2010 split on ", ").
func pyList(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "None" || s == "" {
		return nil, nil
	}
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("not a list literal: %q", s)
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	if body == "" {
		return []string{}, nil
	}
	var items []string
	for body != "" {
		body = strings.TrimPrefix(body, "u")
		if len(body) < 2 || (body[0] != '\'' && body[0] != '"') {
			return nil, fmt.Errorf("list item is not a quoted string in %q", s)
		}
		end := strings.IndexByte(body[1:], body[0])
		if end < 0 {
			return nil, fmt.Errorf("unterminated string in %q", s)
		}
		items = append(items, body[1:1+end])
		body = strings.TrimSpace(body[2+end:])
		if body != "" {
			if body[0] != ',' {
				return nil, fmt.Errorf("expected ',' in %q", s)
			}
			body = strings.TrimSpace(body[1:])
		}
	}
	return items, nil
}

// formatPyList writes items in the style of model (quote character, u
// prefix), as Python's repr of a list does: ['a', 'b'].
func formatPyList(items []string, model string) string {
	quote, prefix := "'", ""
	m := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(model), "["))
	if strings.HasPrefix(m, "u") {
		prefix, m = "u", m[1:]
	}
	if strings.HasPrefix(m, `"`) {
		quote = `"`
	}
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = prefix + quote + it + quote
	}
	return "[" + strings.Join(q, ", ") + "]"
}
