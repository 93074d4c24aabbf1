package main

import (
	"fmt"
	"strconv"
	"strings"
)

// The lexer covers the OCaml that xen-api's datamodel files are written in:
// identifiers, labels, literals (strings with escapes and line
// continuations, quoted strings, chars, numbers), operators, nested
// comments (which may hold string literals) and attributes ([@...]).

type tokKind int

const (
	tEOF tokKind = iota
	tLIdent
	tUIdent
	tLabel      // ~name   (text: name)
	tLabelColon // ~name:
	tOptLabel   // ?name
	tOptColon   // ?name:
	tString
	tChar
	tInt
	tFloat
	tOp
	tKeyword
)

type token struct {
	kind tokKind
	text string
	line int
	col  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tString:
		return strconv.Quote(t.text)
	case tLabel:
		return "~" + t.text
	case tLabelColon:
		return "~" + t.text + ":"
	case tOptLabel:
		return "?" + t.text
	case tOptColon:
		return "?" + t.text + ":"
	}
	return t.text
}

var keywords = map[string]bool{
	"and": true, "as": true, "assert": true, "begin": true, "class": true, "constraint": true,
	"do": true, "done": true, "downto": true, "else": true, "end": true, "exception": true,
	"external": true, "false": true, "for": true, "fun": true, "function": true, "functor": true,
	"if": true, "in": true, "include": true, "inherit": true, "lazy": true, "let": true,
	"match": true, "method": true, "module": true, "mutable": true, "new": true, "object": true,
	"of": true, "open": true, "or": true, "private": true, "rec": true, "sig": true, "struct": true,
	"then": true, "to": true, "true": true, "try": true, "type": true, "val": true, "virtual": true,
	"when": true, "while": true, "with": true, "nonrec": true,
	"mod": true, "land": true, "lor": true, "lxor": true, "lsl": true, "lsr": true, "asr": true,
}

const opChars = "!$%&*+-./:<=>?@^|~#"

func isLower(c byte) bool { return c >= 'a' && c <= 'z' || c == '_' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isIdentChar(c byte) bool {
	return isLower(c) || isUpper(c) || isDigit(c) || c == '\'' || c >= 0x80
}

type lexer struct {
	src      string
	i        int
	line     int
	file     string
	tokStart int
}

func (l *lexer) colOf(i int) int {
	j := strings.LastIndexByte(l.src[:i], '\n')
	return i - j - 1
}

func lex(file, src string) ([]token, error) {
	l := &lexer{src: src, line: 1, file: file}
	var out []token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		t.col = l.colOf(l.tokStart)
		out = append(out, t)
		if t.kind == tEOF {
			return out, nil
		}
	}
}

func (l *lexer) errorf(format string, a ...any) error {
	return fmt.Errorf("%s:%d: %s", l.file, l.line, fmt.Sprintf(format, a...))
}

func (l *lexer) peek(k int) byte {
	if l.i+k < len(l.src) {
		return l.src[l.i+k]
	}
	return 0
}

func (l *lexer) skipSpaceAndComments() error {
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '\n':
			l.line++
			l.i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			l.i++
		case c == '(' && l.peek(1) == '*' && l.peek(2) != ')':
			if err := l.comment(); err != nil {
				return err
			}
		case c == '[' && l.peek(1) == '@':
			// an attribute [@...], [@@...], [@@@...]: skipped as a whole
			if err := l.skipBalanced('[', ']'); err != nil {
				return err
			}
		case c == '#' && l.atLineStart():
			// a line directive (# 1 "file") or cppo line: skipped
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) atLineStart() bool {
	j := l.i - 1
	for j >= 0 && (l.src[j] == ' ' || l.src[j] == '\t') {
		j--
	}
	return j < 0 || l.src[j] == '\n'
}

func (l *lexer) skipBalanced(open, close byte) error {
	depth := 0
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '\n':
			l.line++
		case c == '"':
			if _, err := l.stringLit(); err != nil {
				return err
			}
			continue
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				l.i++
				return nil
			}
		}
		l.i++
	}
	return l.errorf("unterminated %c", open)
}

// comment skips a nested comment; string literals inside it are skipped as
// strings (OCaml lexes them), character quotes are not.
func (l *lexer) comment() error {
	start := l.line
	depth := 0
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '\n':
			l.line++
			l.i++
		case c == '(' && l.peek(1) == '*':
			depth++
			l.i += 2
		case c == '*' && l.peek(1) == ')':
			depth--
			l.i += 2
			if depth == 0 {
				return nil
			}
		case c == '"':
			if _, err := l.stringLit(); err != nil {
				// an unbalanced quote in a comment: OCaml would refuse too,
				// but some old files have one; carry on after it
				l.i++
			}
		case c == '{' && l.quotedStart() >= 0:
			if _, err := l.quotedString(); err != nil {
				return err
			}
		default:
			l.i++
		}
	}
	return fmt.Errorf("%s:%d: unterminated comment", l.file, start)
}

// quotedStart returns the length of the id of a quoted string {id| at l.i,
// or -1.
func (l *lexer) quotedStart() int {
	j := l.i + 1
	for j < len(l.src) && (isLower(l.src[j])) {
		j++
	}
	if j < len(l.src) && l.src[j] == '|' {
		return j - l.i - 1
	}
	return -1
}

func (l *lexer) quotedString() (string, error) {
	n := l.quotedStart()
	id := l.src[l.i+1 : l.i+1+n]
	l.i += n + 2
	end := "|" + id + "}"
	k := strings.Index(l.src[l.i:], end)
	if k < 0 {
		return "", l.errorf("unterminated quoted string")
	}
	s := l.src[l.i : l.i+k]
	l.line += strings.Count(s, "\n")
	l.i += k + len(end)
	return s, nil
}

func (l *lexer) stringLit() (string, error) {
	l.i++ // opening quote
	var b strings.Builder
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch c {
		case '"':
			l.i++
			return b.String(), nil
		case '\n':
			l.line++
			b.WriteByte(c)
			l.i++
		case '\\':
			l.i++
			if l.i >= len(l.src) {
				return "", l.errorf("unterminated string")
			}
			e := l.src[l.i]
			l.i++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case ' ':
				b.WriteByte(' ')
			case '\\', '"', '\'':
				b.WriteByte(e)
			case '\n', '\r':
				// a line continuation: the newline and the next line's
				// leading blanks are not part of the string
				if e == '\r' && l.i < len(l.src) && l.src[l.i] == '\n' {
					l.i++
				}
				l.line++
				for l.i < len(l.src) && (l.src[l.i] == ' ' || l.src[l.i] == '\t') {
					l.i++
				}
			case 'x':
				if l.i+2 > len(l.src) {
					return "", l.errorf("bad escape")
				}
				v, err := strconv.ParseUint(l.src[l.i:l.i+2], 16, 8)
				if err != nil {
					return "", l.errorf("bad escape \\x%s", l.src[l.i:l.i+2])
				}
				b.WriteByte(byte(v))
				l.i += 2
			default:
				if isDigit(e) && l.i+2 <= len(l.src) {
					v, err := strconv.ParseUint(l.src[l.i-1:l.i+2], 10, 8)
					if err != nil {
						return "", l.errorf("bad escape")
					}
					b.WriteByte(byte(v))
					l.i += 2
				} else {
					b.WriteByte('\\')
					b.WriteByte(e)
				}
			}
		default:
			b.WriteByte(c)
			l.i++
		}
	}
	return "", l.errorf("unterminated string")
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpaceAndComments(); err != nil {
		return token{}, err
	}
	l.tokStart = l.i
	if l.i >= len(l.src) {
		return token{kind: tEOF, line: l.line}, nil
	}
	line := l.line
	c := l.src[l.i]
	switch {
	case c == '"':
		s, err := l.stringLit()
		return token{kind: tString, text: s, line: line}, err
	case c == '{' && l.quotedStart() >= 0:
		s, err := l.quotedString()
		return token{kind: tString, text: s, line: line}, err
	case c == '\'':
		// a char literal 'x' or '\n', or a type variable 'a
		if l.peek(1) == '\\' {
			j := l.i + 2
			for j < len(l.src) && l.src[j] != '\'' {
				j++
			}
			if j >= len(l.src) {
				return token{}, l.errorf("unterminated character literal")
			}
			s, err := strconv.Unquote(`'` + l.src[l.i+1:j] + `'`)
			if err != nil {
				s = l.src[l.i+1 : j]
			}
			l.i = j + 1
			return token{kind: tChar, text: s, line: line}, nil
		}
		if l.peek(2) == '\'' {
			s := string(l.src[l.i+1])
			l.i += 3
			return token{kind: tChar, text: s, line: line}, nil
		}
		l.i++
		j := l.i
		for j < len(l.src) && isIdentChar(l.src[j]) {
			j++
		}
		s := l.src[l.i:j]
		l.i = j
		return token{kind: tLIdent, text: "'" + s, line: line}, nil
	case isDigit(c):
		j := l.i
		float := false
		if c == '0' && (l.peek(1) == 'x' || l.peek(1) == 'X' || l.peek(1) == 'o' || l.peek(1) == 'b') {
			j += 2
			for j < len(l.src) && (isIdentChar(l.src[j])) {
				j++
			}
		} else {
			for j < len(l.src) && (isDigit(l.src[j]) || l.src[j] == '_') {
				j++
			}
			if j < len(l.src) && l.src[j] == '.' {
				float = true
				j++
				for j < len(l.src) && (isDigit(l.src[j]) || l.src[j] == '_') {
					j++
				}
			}
			if j < len(l.src) && (l.src[j] == 'e' || l.src[j] == 'E') {
				float = true
				j++
				if j < len(l.src) && (l.src[j] == '+' || l.src[j] == '-') {
					j++
				}
				for j < len(l.src) && isDigit(l.src[j]) {
					j++
				}
			}
			for j < len(l.src) && (l.src[j] == 'l' || l.src[j] == 'L' || l.src[j] == 'n') {
				j++
			}
		}
		s := l.src[l.i:j]
		l.i = j
		if float {
			return token{kind: tFloat, text: s, line: line}, nil
		}
		return token{kind: tInt, text: s, line: line}, nil
	case isLower(c) || isUpper(c):
		j := l.i
		for j < len(l.src) && isIdentChar(l.src[j]) {
			j++
		}
		s := l.src[l.i:j]
		l.i = j
		switch {
		case keywords[s]:
			return token{kind: tKeyword, text: s, line: line}, nil
		case isUpper(c):
			return token{kind: tUIdent, text: s, line: line}, nil
		}
		return token{kind: tLIdent, text: s, line: line}, nil
	case (c == '~' || c == '?') && isLower(l.peek(1)):
		j := l.i + 1
		for j < len(l.src) && isIdentChar(l.src[j]) {
			j++
		}
		name := l.src[l.i+1 : j]
		if keywords[name] {
			break
		}
		l.i = j
		colon := l.i < len(l.src) && l.src[l.i] == ':' && l.peek(1) != ':' && l.peek(1) != '='
		if colon {
			l.i++
		}
		k := map[[2]bool]tokKind{{false, false}: tLabel, {false, true}: tLabelColon, {true, false}: tOptLabel, {true, true}: tOptColon}[[2]bool{c == '?', colon}]
		return token{kind: k, text: name, line: line}, nil
	}
	// punctuation and operators
	for _, p := range []string{"[|", "|]", ";;", "(", ")", "[", "]", "{", "}", ",", ";", "`"} {
		if strings.HasPrefix(l.src[l.i:], p) {
			// "|]" only when it is not the start of a longer operator
			l.i += len(p)
			return token{kind: tOp, text: p, line: line}, nil
		}
	}
	if strings.IndexByte(opChars, c) >= 0 {
		j := l.i
		for j < len(l.src) && strings.IndexByte(opChars, l.src[j]) >= 0 {
			j++
		}
		s := l.src[l.i:j]
		// "." directly followed by "(" or an identifier is a separate token
		// (M.x, M.(e), r.field), as is a lone "~" or "?" before "("
		if len(s) > 1 && (s[0] == '.' || s[0] == '~' || s[0] == '?' || s[0] == '!') && s != ".." && s != "!=" {
			s = s[:1]
		}
		l.i += len(s)
		return token{kind: tOp, text: s, line: line}, nil
	}
	return token{}, l.errorf("unexpected character %q", c)
}
