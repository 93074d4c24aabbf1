package guestfix

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
)

// ValueKind is the kind of a domain config value.
type ValueKind string

const (
	StringValue ValueKind = "string"
	NumberValue ValueKind = "number"
	ListValue   ValueKind = "list"
	// OtherValue is any other Python expression (a name, a sum, a call):
	// kept as raw text and never interpreted.
	OtherValue ValueKind = "other"
)

// Value is the right-hand side of a domain config assignment.
type Value struct {
	Kind  ValueKind
	Str   string  // StringValue: the decoded string; NumberValue: the literal
	List  []Value // ListValue: the elements (tuples are lists too)
	Raw   string  // the source text of the whole expression
	start int     // byte offsets of the expression in the file
	end   int
}

// Assignment is one `name = value` statement.
type Assignment struct {
	Key   string
	Line  int
	Value Value
}

// DomainConfig is a Xen (xm/xl) domain configuration file: Python-style
// assignments of strings, numbers and lists, kept byte for byte.
type DomainConfig struct {
	Name        string
	Assignments []Assignment
	data        []byte
}

// ParseDomainConfig reads a domain config file. name is used in error
// messages.
func ParseDomainConfig(r io.Reader, name string) (*DomainConfig, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	toks, err := tokenize(data, name)
	if err != nil {
		return nil, err
	}
	c := &DomainConfig{Name: name, data: data}
	for i := 0; i < len(toks); {
		t := toks[i]
		if t.kind == tokEnd {
			i++
			continue
		}
		if t.kind != tokName || i+1 >= len(toks) || toks[i+1].text != "=" {
			return nil, invalidLine(name, t.line, "expected 'name = value', got %q", t.text)
		}
		j := i + 2
		for j < len(toks) && toks[j].kind != tokEnd {
			j++
		}
		if j == i+2 {
			return nil, invalidLine(name, t.line, "%s has no value", t.text)
		}
		v := value(toks[i+2:j], data)
		c.Assignments = append(c.Assignments, Assignment{Key: t.text, Line: t.line, Value: v})
		i = j
	}
	return c, nil
}

// Get returns the last assignment to key (the one Python keeps).
func (c *DomainConfig) Get(key string) (Assignment, bool) {
	for i := len(c.Assignments) - 1; i >= 0; i-- {
		if c.Assignments[i].Key == key {
			return c.Assignments[i], true
		}
	}
	return Assignment{}, false
}

// Bytes is the file as it is.
func (c *DomainConfig) Bytes() []byte { return append([]byte(nil), c.data...) }

// Kernel is the kernel version the host boots for this guest, taken from
// kernel = ".../vmlinuz-VERSION"; "" when the config has no literal kernel
// (for example a pygrub guest, which boots the guest's own kernel).
func (c *DomainConfig) Kernel() string {
	a, ok := c.Get("kernel")
	if !ok || a.Value.Kind != StringValue {
		return ""
	}
	base := path.Base(a.Value.Str)
	for _, p := range []string{"vmlinuz-", "vmlinux-"} {
		if strings.HasPrefix(base, p) {
			return strings.TrimPrefix(base, p)
		}
	}
	return base
}

// bootloader is the bootloader = string of c (nil-safe).
func (c *DomainConfig) bootloader() (Assignment, bool) {
	if c == nil {
		return Assignment{}, false
	}
	b, ok := c.Get("bootloader")
	return b, ok && b.Value.Kind == StringValue
}

// VCPUs is the number of virtual CPUs: the vcpus setting, 1 (Xen's
// default) when absent, 0 when it is not a number.
func (c *DomainConfig) VCPUs() int {
	a, ok := c.Get("vcpus")
	if !ok {
		return 1
	}
	if a.Value.Kind != NumberValue && a.Value.Kind != StringValue {
		return 0
	}
	n, err := strconv.Atoi(a.Value.Str)
	if err != nil {
		return 0
	}
	return n
}

// WithExtraTokens returns the file with each of tokens appended to the
// extra string that lacks it (a new `extra = "..."` line at the end when
// there is none). It fails when extra is not a plain string literal.
func (c *DomainConfig) WithExtraTokens(tokens []string) ([]byte, error) {
	a, ok := c.Get("extra")
	if !ok {
		out := c.Bytes()
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return append(out, fmt.Sprintf("extra = %q\n", strings.Join(tokens, " "))...), nil
	}
	if a.Value.Kind != StringValue {
		return nil, invalidLine(c.Name, a.Line, "extra is %s, not a string literal; edit it by hand", a.Value.Raw)
	}
	have := strings.Fields(a.Value.Str)
	var add []string
	for _, t := range tokens {
		if !slices.Contains(have, t) {
			add = append(add, t)
		}
	}
	if len(add) == 0 {
		return c.Bytes(), nil
	}
	// The tokens go in front of the closing quote: they hold no quote or
	// backslash, so they read the same in every string form.
	raw := a.Value.Raw
	q := quoteLen(strings.TrimLeft(raw, "rRuUbB"))
	sep := " "
	if strings.TrimSpace(a.Value.Str) == "" || strings.HasSuffix(a.Value.Str, " ") {
		sep = ""
	}
	newRaw := raw[:len(raw)-q] + sep + strings.Join(add, " ") + raw[len(raw)-q:]
	var b bytes.Buffer
	b.Write(c.data[:a.Value.start])
	b.WriteString(newRaw)
	b.Write(c.data[a.Value.end:])
	return b.Bytes(), nil
}

// quoteLen is the length of the quotes of a string literal without its
// prefix.
func quoteLen(raw string) int {
	if strings.HasPrefix(raw, `"""`) || strings.HasPrefix(raw, `'''`) {
		return 3
	}
	return 1
}

type tokKind int

const (
	tokName tokKind = iota
	tokString
	tokNumber
	tokPunct
	tokEnd // end of a statement: newline or ';' outside brackets
)

type token struct {
	kind       tokKind
	text       string // raw source text
	str        string // tokString: decoded value
	line       int
	start, end int
}

// tokenize splits a domain config into Python tokens, enough of Python's
// grammar for configuration files: names, strings (with escapes, triple
// quotes), numbers, punctuation, comments, bracket nesting and backslash
// line continuation.
func tokenize(data []byte, name string) ([]token, error) {
	var toks []token
	line, depth := 1, 0
	var open []int // lines of unclosed brackets
	for i := 0; i < len(data); {
		ch := data[i]
		switch {
		case ch == '\n':
			if depth == 0 {
				toks = append(toks, token{kind: tokEnd, line: line, start: i, end: i})
			}
			line++
			i++
		case ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f':
			i++
		case ch == '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case ch == '\\':
			if i+1 < len(data) && data[i+1] == '\n' {
				line++
				i += 2
			} else if i+2 < len(data) && data[i+1] == '\r' && data[i+2] == '\n' {
				line++
				i += 3
			} else {
				return nil, invalidLine(name, line, "stray backslash")
			}
		case ch == ';':
			if depth == 0 {
				toks = append(toks, token{kind: tokEnd, line: line, start: i, end: i + 1})
			}
			i++
		case ch == '"' || ch == '\'':
			t, next, lines, err := readString(data, i, line, name)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			line += lines
			i = next
		case isNameStart(ch):
			j := i
			for j < len(data) && (isNameStart(data[j]) || data[j] >= '0' && data[j] <= '9') {
				j++
			}
			// String prefixes: r'...', u"...", ur'...' — made of those
			// letters only (AB"..." is a name, then a string).
			if j < len(data) && (data[j] == '"' || data[j] == '\'') && j-i <= 2 && strings.Trim(string(data[i:j]), "rRuUbB") == "" {
				t, next, lines, err := readString(data, j, line, name)
				if err != nil {
					return nil, err
				}
				t.start, t.text = i, string(data[i:next])
				toks = append(toks, t)
				line += lines
				i = next
				continue
			}
			toks = append(toks, token{kind: tokName, text: string(data[i:j]), line: line, start: i, end: j})
			i = j
		case ch >= '0' && ch <= '9' || ch == '.' && i+1 < len(data) && data[i+1] >= '0' && data[i+1] <= '9':
			j := i
			for j < len(data) && (isNameStart(data[j]) || data[j] >= '0' && data[j] <= '9' || data[j] == '.') {
				j++
			}
			toks = append(toks, token{kind: tokNumber, text: string(data[i:j]), line: line, start: i, end: j})
			i = j
		case strings.IndexByte("[({", ch) >= 0:
			depth++
			open = append(open, line)
			toks = append(toks, token{kind: tokPunct, text: string(ch), line: line, start: i, end: i + 1})
			i++
		case strings.IndexByte("])}", ch) >= 0:
			if depth == 0 {
				return nil, invalidLine(name, line, "unbalanced %q", string(ch))
			}
			depth--
			open = open[:len(open)-1]
			toks = append(toks, token{kind: tokPunct, text: string(ch), line: line, start: i, end: i + 1})
			i++
		case strings.IndexByte("=,:+-*/%<>!.|&~^@", ch) >= 0:
			toks = append(toks, token{kind: tokPunct, text: string(ch), line: line, start: i, end: i + 1})
			i++
		default:
			return nil, invalidLine(name, line, "unexpected character %q", string(ch))
		}
	}
	if depth > 0 {
		return nil, invalidLine(name, open[len(open)-1], "bracket opened here is never closed")
	}
	return toks, nil
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// readString reads the string literal starting at data[i] (a quote) and
// returns it, the offset after it and how many newlines it spans.
func readString(data []byte, i, line int, name string) (token, int, int, error) {
	q := data[i]
	triple := i+2 < len(data) && data[i+1] == q && data[i+2] == q
	j := i + 1
	if triple {
		j = i + 3
	}
	var b strings.Builder
	lines := 0
	for {
		if j >= len(data) {
			return token{}, 0, 0, invalidLine(name, line, "string is never closed")
		}
		c := data[j]
		switch {
		case c == '\\' && j+1 < len(data):
			switch e := data[j+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\', '\'', '"':
				b.WriteByte(e)
			case '\n':
				lines++
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			j += 2
			continue
		case c == '\n' && !triple:
			return token{}, 0, 0, invalidLine(name, line, "string is never closed")
		case c == q && (!triple || j+2 < len(data) && data[j+1] == q && data[j+2] == q):
			end := j + 1
			if triple {
				end = j + 3
			}
			return token{kind: tokString, text: string(data[i:end]), str: b.String(), line: line, start: i, end: end}, end, lines, nil
		}
		if c == '\n' {
			lines++
		}
		b.WriteByte(c)
		j++
	}
}

// value interprets the tokens of one right-hand side.
func value(toks []token, data []byte) Value {
	v := Value{Kind: OtherValue, start: toks[0].start, end: toks[len(toks)-1].end}
	v.Raw = string(data[v.start:v.end])
	if len(toks) == 1 {
		switch toks[0].kind {
		case tokString:
			v.Kind, v.Str = StringValue, toks[0].str
		case tokNumber:
			v.Kind, v.Str = NumberValue, toks[0].text
		}
		return v
	}
	if len(toks) == 2 && toks[0].text == "-" && toks[1].kind == tokNumber {
		v.Kind, v.Str = NumberValue, "-"+toks[1].text
		return v
	}
	if list, ok := literalList(toks, data); ok {
		v.Kind, v.List = ListValue, list
	}
	return v
}

// literalList interprets [a, b, ...] or (a, b, ...) whose elements are
// plain literals or nested literal lists.
func literalList(toks []token, data []byte) ([]Value, bool) {
	first, last := toks[0].text, toks[len(toks)-1].text
	if !(first == "[" && last == "]" || first == "(" && last == ")") {
		return nil, false
	}
	inner := toks[1 : len(toks)-1]
	list := []Value{}
	for len(inner) > 0 {
		n, depth := 0, 0
		for n < len(inner) && (depth > 0 || inner[n].text != ",") {
			switch inner[n].text {
			case "[", "(", "{":
				depth++
			case "]", ")", "}":
				depth--
			}
			n++
		}
		if n == 0 {
			return nil, false
		}
		elem := value(inner[:n], data)
		if elem.Kind == OtherValue {
			return nil, false
		}
		list = append(list, elem)
		if n < len(inner) {
			n++ // the comma
		}
		inner = inner[n:]
	}
	return list, true
}
