package zfsroot

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// pyDialect is how one pkg(5) era's Python ConfigParser reads a file. The
// rules are those of Python 2.6/2.7 ConfigParser._read and Python 3
// configparser._read (docs/zfs.md, "How each pkg reads its configuration").
type pyDialect struct {
	// py3: configparser with strict=True: a repeated section or key is an
	// error, no inline comments, comment lines may be indented, blank lines
	// inside a value are kept, an indented key line is a key.
	py3 bool
	// unicode: the file is decoded as UTF-8 through codecs (Solaris 11 and
	// later pkg): lines end at every str.splitlines boundary and strip()
	// and isspace() know Unicode whitespace.
	unicode bool
	// lower: the default optionxform, which lower-cases keys (snv_134 pkg
	// reading disabled_auth); otherwise keys are case-sensitive.
	lower bool
}

type lineKind uint8

const (
	lineOther        lineKind = iota // blank, comment, "rem"
	lineHeader                       // [section]
	lineKey                          // key = value
	lineCont                         // continuation of the previous key's value
	lineBlankInValue                 // py3: a blank line that belongs to the value above
)

// iniLine is one physical line, kept byte for byte, with what the dialect
// made of it.
type iniLine struct {
	raw     string // including its line break
	n       int    // 1-based line number
	kind    lineKind
	section string // the section the line belongs to; a header's own name
	key     string // lineKey, lineCont, lineBlankInValue: the key (after optionxform)
	sepAt   int    // lineKey: where the value starts in raw
}

// iniFile is a Python ConfigParser file kept line by line, so that an edit
// changes exactly the lines it means to, and read the way one dialect
// reads it.
type iniFile struct {
	name    string
	orig    []byte
	dialect pyDialect
	lines   []iniLine

	// What ConfigParser holds after reading: sections in order of first
	// appearance (DEFAULT excluded), and per section the keys with their
	// final values.
	order    []string
	sections map[string]*pySection
	defaults *pySection
	// repeats are keys and sections given more than once: Python 2 merges
	// sections and keeps the last value; Python 3 (strict) refuses them.
	repeats []repeat
}

type pySection struct {
	name  string
	line  int // first header line
	keys  map[string]*pyValue
	order []string
}

type pyValue struct {
	value string
	line  int   // the line of the occurrence that wins (the last one)
	lines []int // every line that sets the key, in order
}

type repeat struct {
	section, key string // key "" for a repeated section
	line, first  int
}

func (r repeat) String() string {
	if r.key == "" {
		return fmt.Sprintf("line %d: section [%s] repeats line %d", r.line, r.section, r.first)
	}
	return fmt.Sprintf("line %d: key %q of [%s] repeats line %d", r.line, r.key, r.section, r.first)
}

// get is the value ConfigParser's get returns (DEFAULT included).
func (f *iniFile) get(section, key string) (*pyValue, bool) {
	key = f.xform(key)
	if s := f.sections[section]; s != nil {
		if v, ok := s.keys[key]; ok {
			return v, true
		}
	}
	if f.defaults != nil {
		if v, ok := f.defaults.keys[key]; ok {
			return v, true
		}
	}
	return nil, false
}

// items is every key of a section as ConfigParser.items lists them: the
// section's keys, then DEFAULT keys it does not override.
func (f *iniFile) items(section string) []string {
	var keys []string
	if s := f.sections[section]; s != nil {
		keys = append(keys, s.order...)
	}
	if f.defaults != nil {
		for _, k := range f.defaults.order {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

func (f *iniFile) xform(key string) string {
	if f.dialect.lower {
		return pyLower(key, f.dialect.unicode)
	}
	return key
}

// pyLower is str.lower(): ASCII only for Python 2 byte strings.
func pyLower(s string, unicodeStr bool) string {
	if unicodeStr {
		return strings.ToLower(s)
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// isSpace is Python's str.isspace for one character: ASCII whitespace for
// Python 2 byte strings, Unicode whitespace (which includes \x1c-\x1f)
// for unicode strings.
func isSpace(r rune, unicodeStr bool) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return unicodeStr && (unicode.IsSpace(r) || (0x1c <= r && r <= 0x1f))
}

func pyStrip(s string, unicodeStr bool) string {
	return strings.TrimFunc(s, func(r rune) bool { return isSpace(r, unicodeStr) })
}

// reSpace is \s of Python's re: Python 2 compiles ConfigParser's patterns
// without re.UNICODE (ASCII only), Python 3 patterns on str are Unicode.
func reSpace(r rune, py3 bool) bool { return isSpace(r, py3) }

// splitLines cuts data the way the dialect's file object hands out lines:
// at "\n" for Python 2 byte strings, at every str.splitlines boundary for
// text decoded through codecs.
func splitLines(data string, unicodeStr bool) []string {
	if !unicodeStr {
		return strings.SplitAfter(data, "\n")
	}
	var lines []string
	start := 0
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRuneInString(data[i:])
		end := -1
		switch r {
		case '\r':
			end = i + 1
			if i+1 < len(data) && data[i+1] == '\n' {
				end = i + 2
			}
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			end = i + size
		}
		if end < 0 {
			i += size
			continue
		}
		lines = append(lines, data[start:end])
		start, i = end, end
	}
	return append(lines, data[start:])
}

// lineBreak is the line break at the end of raw ("" for a last line
// without one).
func lineBreak(raw string, unicodeStr bool) string {
	body := trimBreak(raw, unicodeStr)
	return raw[len(body):]
}

func trimBreak(raw string, unicodeStr bool) string {
	if strings.HasSuffix(raw, "\r\n") {
		return raw[:len(raw)-2]
	}
	if strings.HasSuffix(raw, "\n") {
		return raw[:len(raw)-1]
	}
	if !unicodeStr {
		return raw
	}
	r, size := utf8.DecodeLastRuneInString(raw)
	switch r {
	case '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return raw[:len(raw)-size]
	}
	return raw
}

// unreadable is a file the dialect's ConfigParser cannot read at all
// (MissingSectionHeaderError, ParsingError, UnicodeDecodeError): pkg
// stops reading the image, so the image loaders report it as a problem
// that no edit cures (Image.Problems), not as bad input.
type unreadable struct {
	file string
	line int
	msg  string // after "FILE line N: "
}

func (e *unreadable) Error() string { return fmt.Sprintf("%s line %d: %s", e.file, e.line, e.msg) }

func unreadableAt(file string, line int, format string, args ...any) error {
	return xerr.Invalid(&unreadable{file: file, line: line, msg: fmt.Sprintf(format, args...)})
}

// parseINI reads data as the dialect does. A file the dialect cannot read
// at all (no section header before a key, a line that is neither, bytes
// that are not UTF-8 where the file is decoded) is an *unreadable,
// marked invalid input, naming the file and line. Repeated sections and keys are merged as
// Python 2 does and listed in repeats; Python 3's refusal of them is for
// the caller to report.
func parseINI(data []byte, name string, d pyDialect) (*iniFile, error) {
	f := &iniFile{name: name, orig: data, dialect: d, sections: map[string]*pySection{}}
	if d.unicode && !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, size := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, unreadableAt(name, bytes.Count(data[:off], []byte("\n"))+1, "offset %d: not UTF-8 (pkg reads the file as UTF-8 and fails: UnicodeDecodeError)", off)
	}
	var (
		cur      *pySection // nil before the first header
		sectName string
		curKey   string // the key continuations append to ("" : none)
		parts    = map[*pyValue][]string{}
		indent   int // py3 indent_level
		bad      []int
		seenSect = map[string]int{}
		seenKey  = map[[2]string]int{}
	)
	raws := splitLines(string(data), d.unicode)
	for i, raw := range raws {
		if raw == "" {
			continue
		}
		n := i + 1
		l := iniLine{raw: raw, n: n, section: sectName}
		body := trimBreak(raw, d.unicode)
		if d.py3 {
			l.kind, l.key = lineOther, ""
			stripped := pyStrip(body, true)
			if strings.HasPrefix(stripped, "#") || strings.HasPrefix(stripped, ";") {
				f.lines = append(f.lines, l)
				continue
			}
			if stripped == "" {
				if cur != nil && curKey != "" {
					v := cur.keys[curKey]
					parts[v] = append(parts[v], "")
					l.kind, l.key = lineBlankInValue, curKey
				}
				f.lines = append(f.lines, l)
				continue
			}
			level := strings.IndexFunc(body, func(r rune) bool { return !isSpace(r, true) })
			if cur != nil && curKey != "" && level > indent {
				v := cur.keys[curKey]
				parts[v] = append(parts[v], stripped)
				l.kind, l.key = lineCont, curKey
				f.lines = append(f.lines, l)
				continue
			}
			indent = level
			if h, ok := sectionHeader(stripped); ok {
				cur, sectName, curKey = f.enter(h, n, seenSect), h, ""
				l.kind, l.section = lineHeader, h
				f.lines = append(f.lines, l)
				continue
			}
			if cur == nil {
				return nil, unreadableAt(name, n, "%q before the first [section] (MissingSectionHeaderError)", body)
			}
			k, sep, ok := optionLine(stripped, true)
			if !ok || pyStrip(k, true) == "" {
				bad = append(bad, n)
				f.lines = append(f.lines, l)
				continue
			}
			key := f.xform(strings.TrimRightFunc(k, func(r rune) bool { return isSpace(r, true) }))
			v := f.addKey(cur, sectName, key, n, seenKey)
			parts[v] = []string{pyStrip(stripped[sep:], true)}
			curKey = key
			l.kind, l.key, l.sepAt = lineKey, key, len(body)-len(strings.TrimLeftFunc(body, func(r rune) bool { return isSpace(r, true) }))+sep
			l.sepAt += len(stripped[sep:]) - len(strings.TrimLeftFunc(stripped[sep:], func(r rune) bool { return isSpace(r, true) }))
			f.lines = append(f.lines, l)
			continue
		}
		// Python 2 ConfigParser._read.
		if pyStrip(body, d.unicode) == "" || strings.HasPrefix(raw, "#") || strings.HasPrefix(raw, ";") || isRem(raw, d.unicode) {
			f.lines = append(f.lines, l)
			continue
		}
		first, _ := utf8.DecodeRuneInString(raw)
		if isSpace(first, d.unicode) && cur != nil && curKey != "" {
			if v := pyStrip(body, d.unicode); v != "" {
				val := cur.keys[curKey]
				parts[val] = append(parts[val], v)
			}
			l.kind, l.key = lineCont, curKey
			f.lines = append(f.lines, l)
			continue
		}
		if h, ok := sectionHeader(raw); ok {
			cur, sectName, curKey = f.enter(h, n, seenSect), h, ""
			l.kind, l.section = lineHeader, h
			f.lines = append(f.lines, l)
			continue
		}
		if cur == nil {
			return nil, unreadableAt(name, n, "%q before the first [section] (MissingSectionHeaderError)", body)
		}
		k, sep, ok := optionLine(raw, false)
		if !ok {
			bad = append(bad, n)
			f.lines = append(f.lines, l)
			continue
		}
		key := f.xform(strings.TrimRightFunc(k, func(r rune) bool { return isSpace(r, d.unicode) }))

		// The value: after the separator and the regex's \s*, up to the
		// end of the line (a trailing "\n" excluded, "$" matches before
		// it); an inline comment is a ';' that follows whitespace — only
		// the first ';' is looked at, and at position 0 Python's
		// optval[-1] is the value's last character.
		for sep < len(body) && reSpace(rune(body[sep]), false) {
			sep++
		}
		optval := strings.TrimSuffix(raw[sep:], "\n")
		if p := strings.IndexByte(optval, ';'); p >= 0 {
			prev, _ := utf8.DecodeLastRuneInString(optval[:p])
			if p == 0 {
				prev, _ = utf8.DecodeLastRuneInString(optval)
			}
			if isSpace(prev, d.unicode) {
				optval = optval[:p]
			}
		}
		optval = pyStrip(optval, d.unicode)
		if optval == `""` {
			optval = ""
		}
		v := f.addKey(cur, sectName, key, n, seenKey)
		parts[v] = []string{optval}
		curKey = key
		l.kind, l.key, l.sepAt = lineKey, key, sep
		f.lines = append(f.lines, l)
	}
	if len(bad) > 0 {
		return nil, unreadableAt(name, bad[0], "neither a [section], a key = value nor a comment (ParsingError; lines %s)", joinInts(bad))
	}
	for v, p := range parts {
		s := strings.Join(p, "\n")
		if d.py3 {
			s = strings.TrimRightFunc(s, func(r rune) bool { return isSpace(r, true) })
		}
		v.value = s
	}
	return f, nil
}

func joinInts(n []int) string {
	s := make([]string, len(n))
	for i, v := range n {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}

// isRem: Python 2 skips a line whose first word is "rem" (any case) when
// it starts with r or R.
func isRem(raw string, unicodeStr bool) bool {
	if raw[0] != 'r' && raw[0] != 'R' {
		return false
	}
	word, _, _ := strings.Cut(strings.TrimFunc(raw, func(r rune) bool { return isSpace(r, unicodeStr) }), " ")
	if i := strings.IndexFunc(word, func(r rune) bool { return isSpace(r, unicodeStr) }); i >= 0 {
		word = word[:i]
	}
	return pyLower(word, unicodeStr) == "rem"
}

// sectionHeader is SECTCRE.match: "[" then at least one character other
// than "]" up to the first "]"; the rest of the line is ignored.
func sectionHeader(s string) (string, bool) {
	if !strings.HasPrefix(s, "[") {
		return "", false
	}
	end := strings.IndexByte(s[1:], ']')
	if end <= 0 {
		return "", false
	}
	return s[1 : 1+end], true
}

// optionLine is OPTCRE.match: the key is everything before the first '='
// or ':' (Python 2 also wants its first character not to be whitespace,
// '=' or ':'); sep is the index just after the separator.
func optionLine(s string, py3 bool) (key string, sep int, ok bool) {
	i := strings.IndexAny(s, "=:")
	if i < 0 {
		return "", 0, false
	}
	if !py3 {
		r, _ := utf8.DecodeRuneInString(s)
		if i == 0 || reSpace(r, false) {
			return "", 0, false
		}
	}
	return s[:i], i + 1, true
}

// addKey is a key line: a key seen before in the section (any repeat of
// it) is noted as a repeat; the last line's value wins.
func (f *iniFile) addKey(cur *pySection, section, key string, n int, seen map[[2]string]int) *pyValue {
	if first, ok := seen[[2]string{section, key}]; ok {
		f.repeats = append(f.repeats, repeat{section: section, key: key, line: n, first: first})
	} else {
		seen[[2]string{section, key}] = n
	}
	return cur.set(key, n)
}

// enter is a [section] header at line n: DEFAULT holds defaults for all
// sections; a section seen before is merged into (and noted as a repeat).
func (f *iniFile) enter(h string, n int, seen map[string]int) *pySection {
	if h == "DEFAULT" {
		if f.defaults == nil {
			f.defaults = &pySection{name: h, line: n, keys: map[string]*pyValue{}}
		}
		return f.defaults
	}
	if first, ok := seen[h]; ok {
		f.repeats = append(f.repeats, repeat{section: h, line: n, first: first})
	} else {
		seen[h] = n
	}
	return f.section(h, n)
}

func (f *iniFile) section(name string, line int) *pySection {
	if s := f.sections[name]; s != nil {
		return s
	}
	s := &pySection{name: name, line: line, keys: map[string]*pyValue{}}
	f.sections[name] = s
	f.order = append(f.order, name)
	return s
}

func (s *pySection) set(key string, line int) *pyValue {
	v := s.keys[key]
	if v == nil {
		v = &pyValue{}
		s.keys[key] = v
		s.order = append(s.order, key)
	}
	v.line = line
	v.lines = append(v.lines, line)
	return v
}

func (f *iniFile) bytes() []byte {
	var b bytes.Buffer
	for _, l := range f.lines {
		b.WriteString(l.raw)
	}
	return b.Bytes()
}

// keyLines are the indexes of the lines that set key in section (every
// repeat of the section), in file order.
func (f *iniFile) keyLines(section, key string) []int {
	key = f.xform(key)
	var idx []int
	for i, l := range f.lines {
		if l.kind == lineKey && l.section == section && l.key == key {
			idx = append(idx, i)
		}
	}
	return idx
}

// set makes key read as value in section: the last line that sets it is
// rewritten in place (keeping the key's spelling and separator, dropping
// its continuation lines and inline comment), and every earlier line that
// sets it is removed, so that no repeat is left for Python 3 to refuse or
// to mask the edit. When the section has no such key, "key = value" is
// inserted after the section's last key line (of its last repeat). It
// reports the lines removed.
func (f *iniFile) set(section, key, value string) (removed []int) {
	idx := f.keyLines(section, key)
	if len(idx) > 0 {
		last := idx[len(idx)-1]
		l := f.lines[last]
		l.raw = l.raw[:l.sepAt] + value + lineBreak(l.raw, f.dialect.unicode)
		f.lines[last] = l
		drop := map[int]bool{}
		for _, i := range idx[:len(idx)-1] {
			removed = append(removed, f.lines[i].n)
			drop[i] = true
			for j := i + 1; j < len(f.lines) && isValuePart(f.lines[j]); j++ {
				drop[j] = true
			}
		}
		for j := last + 1; j < len(f.lines) && isValuePart(f.lines[j]); j++ {
			if f.lines[j].kind == lineCont {
				drop[j] = true
			}
		}
		f.lines = deleteIdx(f.lines, drop)
		return removed
	}
	at := -1
	for i, l := range f.lines {
		if l.section == section && (l.kind == lineHeader || l.kind == lineKey || l.kind == lineCont) {
			at = i + 1
		}
	}
	if at < 0 {
		return nil
	}
	nl := "\n"
	if at > 0 && strings.HasSuffix(f.lines[at-1].raw, "\r\n") {
		nl = "\r\n"
	}
	if at > 0 && lineBreak(f.lines[at-1].raw, f.dialect.unicode) == "" {
		f.lines[at-1].raw += nl
	}
	line := iniLine{raw: key + " = " + value + nl, kind: lineKey, section: section, key: f.xform(key), sepAt: len(key) + 3}
	f.lines = slices.Insert(f.lines, at, line)
	return nil
}

func isValuePart(l iniLine) bool { return l.kind == lineCont || l.kind == lineBlankInValue }

func deleteIdx(lines []iniLine, drop map[int]bool) []iniLine {
	out := lines[:0]
	for i, l := range lines {
		if !drop[i] {
			out = append(out, l)
		}
	}
	return out
}

// removeSection deletes every repeat of a section: header, keys,
// continuations and blank lines; comment lines are kept, since they may
// introduce whatever comes next.
func (f *iniFile) removeSection(section string) {
	f.lines = slices.DeleteFunc(f.lines, func(l iniLine) bool {
		if l.section != section {
			return false
		}
		if l.kind != lineOther {
			return true
		}
		return pyStrip(trimBreak(l.raw, f.dialect.unicode), f.dialect.unicode) == ""
	})
}

// pyList parses a Python list literal of strings as pkg writes them:
// ['a', 'b'], [u'a'], [] — the subset of ast.literal_eval that pkg's own
// writers produce (2011+ pkg), with the usual backslash escapes.
func pyList(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("not a list literal: %q", s)
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	items := []string{}
	for body != "" {
		if strings.HasPrefix(body, "u") || strings.HasPrefix(body, "U") {
			body = body[1:]
		}
		if len(body) < 2 || (body[0] != '\'' && body[0] != '"') {
			return nil, fmt.Errorf("list item is not a quoted string in %q", s)
		}
		q := body[0]
		var item strings.Builder
		i := 1
		for ; i < len(body) && body[i] != q; i++ {
			if body[i] == '\\' && i+1 < len(body) {
				i++
				switch body[i] {
				case 'n':
					item.WriteByte('\n')
				case 't':
					item.WriteByte('\t')
				case '\\', '\'', '"':
					item.WriteByte(body[i])
				default:
					return nil, fmt.Errorf("escape \\%c not supported in %q", body[i], s)
				}
				continue
			}
			item.WriteByte(body[i])
		}
		if i >= len(body) {
			return nil, fmt.Errorf("unterminated string in %q", s)
		}
		items = append(items, item.String())
		body = strings.TrimSpace(body[i+1:])
		if body != "" {
			if body[0] != ',' {
				return nil, fmt.Errorf("expected ',' in %q", s)
			}
			body = strings.TrimSpace(body[1:])
		}
	}
	return items, nil
}

// readList is snv_134 pkg's ImageConfig.read_list: strip "][ " from both
// ends, split on ", ", strip quotes and spaces from each item, drop empty
// ones. It never fails.
func readList(s string) []string {
	s = strings.Trim(s, "][ ")
	var out []string
	for _, it := range strings.Split(s, ", ") {
		if it = strings.Trim(it, "' \""); it != "" {
			out = append(out, it)
		}
	}
	return out
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
