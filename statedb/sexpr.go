package statedb

import (
	"fmt"
	"strings"
)

// SExpr is a parsed S-expression as xapi stores sets and maps: an atom
// (quoted string or bare symbol) or a list.
type SExpr struct {
	Atom   string
	List   []SExpr
	IsList bool
}

// SExprError locates a problem inside a value.
type SExprError struct {
	Offset int // byte offset in the (unprotected) value
	Msg    string
}

func (e *SExprError) Error() string {
	return fmt.Sprintf("s-expression offset %d: %s", e.Offset, e.Msg)
}

// maxSExprDepth bounds nesting; xapi values nest two levels at most.
const maxSExprDepth = 64

// ParseSExpr parses one S-expression the way xapi's sExprLexer does:
// single- or double-quoted strings with backslash escapes, bare symbols,
// parentheses, whitespace between.
func ParseSExpr(s string) (SExpr, error) {
	p := sexprParser{s: s}
	p.space()
	e, err := p.expr(0)
	if err != nil {
		return SExpr{}, err
	}
	p.space()
	if p.i != len(s) {
		return SExpr{}, &SExprError{p.i, "trailing data after the expression"}
	}
	return e, nil
}

type sexprParser struct {
	s string
	i int
}

func (p *sexprParser) space() {
	for p.i < len(p.s) && isSpaceByte(p.s[p.i]) {
		p.i++
	}
}

func (p *sexprParser) expr(depth int) (SExpr, error) {
	if p.i == len(p.s) {
		return SExpr{}, &SExprError{p.i, "unexpected end of value"}
	}
	switch c := p.s[p.i]; c {
	case '(':
		if depth == maxSExprDepth {
			return SExpr{}, &SExprError{p.i, "nested too deeply"}
		}
		start := p.i
		p.i++
		l := SExpr{IsList: true}
		for {
			p.space()
			if p.i == len(p.s) {
				return SExpr{}, &SExprError{start, "unbalanced '(': no matching ')'"}
			}
			if p.s[p.i] == ')' {
				p.i++
				return l, nil
			}
			e, err := p.expr(depth + 1)
			if err != nil {
				return SExpr{}, err
			}
			l.List = append(l.List, e)
		}
	case ')':
		return SExpr{}, &SExprError{p.i, "unbalanced ')'"}
	case '\'', '"':
		start := p.i
		p.i++
		var b strings.Builder
		for {
			if p.i >= len(p.s) {
				return SExpr{}, &SExprError{start, "unterminated string"}
			}
			d := p.s[p.i]
			switch {
			case d == c:
				p.i++
				return SExpr{Atom: b.String()}, nil
			case d == '\\':
				if p.i+1 >= len(p.s) {
					return SExpr{}, &SExprError{p.i, "unterminated escape"}
				}
				b.WriteByte(p.s[p.i+1])
				p.i += 2
			default:
				b.WriteByte(d)
				p.i++
			}
		}
	default:
		start := p.i
		for p.i < len(p.s) {
			d := p.s[p.i]
			if isSpaceByte(d) || d == '(' || d == ')' || d == '\'' || d == '"' {
				break
			}
			p.i++
		}
		return SExpr{Atom: p.s[start:p.i]}, nil
	}
}

// DecodeSet decodes a set column value (already unprotected): ('a' 'b').
func DecodeSet(v string) ([]string, error) {
	e, err := ParseSExpr(v)
	if err != nil {
		return nil, err
	}
	if !e.IsList {
		return nil, &SExprError{0, "a set must be a list"}
	}
	out := make([]string, 0, len(e.List))
	for _, x := range e.List {
		if x.IsList {
			return nil, &SExprError{0, "a set holds strings, not lists"}
		}
		out = append(out, x.Atom)
	}
	return out, nil
}

// DecodeMap decodes a map column value (already unprotected):
// (('k1' 'v1') ('k2' 'v2')).
func DecodeMap(v string) ([]Pair, error) {
	e, err := ParseSExpr(v)
	if err != nil {
		return nil, err
	}
	if !e.IsList {
		return nil, &SExprError{0, "a map must be a list"}
	}
	out := make([]Pair, 0, len(e.List))
	for _, x := range e.List {
		if !x.IsList || len(x.List) != 2 || x.List[0].IsList || x.List[1].IsList {
			return nil, &SExprError{0, "a map entry must be a list of two strings"}
		}
		out = append(out, Pair{Key: x.List[0].Atom, Value: x.List[1].Atom})
	}
	return out, nil
}

// quote writes s as xapi's SExpr.string_of does: single quotes, escaping
// only backslash and single quote.
func quote(b *strings.Builder, s string) {
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
}

// EncodeSet is the stored form of a set (before space protection).
func EncodeSet(items []string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, s := range items {
		if i > 0 {
			b.WriteByte(' ')
		}
		quote(&b, s)
	}
	b.WriteByte(')')
	return b.String()
}

// EncodeMap is the stored form of a map (before space protection).
func EncodeMap(pairs []Pair) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('(')
		quote(&b, p.Key)
		b.WriteByte(' ')
		quote(&b, p.Value)
		b.WriteByte(')')
	}
	b.WriteByte(')')
	return b.String()
}
