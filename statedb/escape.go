package statedb

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The three encoding layers of a column value, innermost first
// (docs/statedb.md, "Format"): S-expression quoting (sexpr.go), xapi's
// Xml_spaces protection, and XML attribute escaping.

// UnescapeXML decodes the XML layer of an attribute value: the five
// predefined entities and numeric character references.
func UnescapeXML(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '&') < 0 {
		return string(raw), nil
	}
	b, err := appendUnescapeXML(make([]byte, 0, len(raw)), raw)
	return string(b), err
}

func appendUnescapeXML(dst, raw []byte) ([]byte, error) {
	for {
		i := bytes.IndexByte(raw, '&')
		if i < 0 {
			return append(dst, raw...), nil
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i:]
		j := bytes.IndexByte(raw, ';')
		if j < 0 {
			return dst, fmt.Errorf("unterminated character reference %q", clip(raw, 12))
		}
		ent := raw[1:j]
		switch string(ent) {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			if len(ent) == 0 || ent[0] != '#' {
				return dst, fmt.Errorf("bad character reference %q", raw[:j+1])
			}
			r, ok := charRef(ent)
			switch {
			case !ok:
				return dst, &charRefError{fmt.Sprintf("character reference %q is not a number as xmlm reads one (digits, or hex digits after a lowercase x): Illegal_char_ref", raw[:j+1])}
			case r < 0 || r > utf8.MaxRune:
				return dst, &charRefError{fmt.Sprintf("character reference %q is beyond U+10FFFF: Illegal_char_ref", raw[:j+1])}
			case !isXMLChar(r):
				return dst, &charRefError{fmt.Sprintf("character reference %q is U+%04X, which XML 1.0 does not allow: Illegal_char_ref", raw[:j+1], r)}
			}
			dst = utf8.AppendRune(dst, r)
		}
		raw = raw[j+1:]
	}
}

// charRefError is a numeric character reference xmlm refuses: p_charref
// (src/xmlm.ml, 06a5686 to v1.4.0) reads the digits up to ';' (only a
// lowercase x starts hex), and raises Illegal_char_ref unless the number
// is an XML Char. Like a raw character is_char refuses, it stops xapi's
// load: the same verdict, so it is a character fault, not a syntax error.
type charRefError struct{ msg string }

func (e *charRefError) Error() string { return e.msg }

// charRef reads a reference's number as p_charref does: ok is false when
// a character is not a digit (xmlm's -1). A number beyond 32 bits is no
// character either way.
func charRef(ent []byte) (r rune, ok bool) {
	digits, base := ent[1:], 10
	if len(digits) > 0 && digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return 0, true // xmlm's 0: not a character
	}
	n, err := strconv.ParseUint(string(digits), base, 32)
	if errors.Is(err, strconv.ErrRange) {
		return -1, true
	}
	return rune(n), err == nil
}

// isXMLChar is XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] |
// [#xE000-#xFFFD] | [#x10000-#x10FFFF].
func isXMLChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == '\t' || r == '\n' || r == '\r'
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	}
	return r >= 0x10000 && r <= 0x10FFFF
}

// checkXMLValue validates an attribute value's raw bytes without decoding.
// at is the index in raw of the reference an error is about.
func checkXMLValue(raw []byte) (at int, err error) {
	if bytes.IndexByte(raw, '<') >= 0 {
		return 0, fmt.Errorf("raw '<' in attribute value")
	}
	var scratch [16]byte
	for at < len(raw) {
		i := bytes.IndexByte(raw[at:], '&')
		if i < 0 {
			return 0, nil
		}
		at += i
		j := bytes.IndexByte(raw[at:], ';')
		if j < 0 {
			return at, fmt.Errorf("unterminated character reference %q", clip(raw[at:], 12))
		}
		if _, err := appendUnescapeXML(scratch[:0], raw[at:at+j+1]); err != nil {
			return at, err
		}
		at += j + 1
	}
	return 0, nil
}

// AppendEscapeXML appends s escaped the way xmlm (xapi's XML library)
// escapes attribute values: < > & " as entities, ' literal, and control
// characters other than TAB, LF and CR replaced by U+FFFD.
func AppendEscapeXML(dst []byte, s string) []byte { return appendEscapeXML(dst, s) }

func appendEscapeXML[T string | []byte](dst []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<':
			dst = append(dst, "&lt;"...)
		case c == '>':
			dst = append(dst, "&gt;"...)
		case c == '&':
			dst = append(dst, "&amp;"...)
		case c == '"':
			dst = append(dst, "&quot;"...)
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r':
			dst = append(dst, "\uFFFD"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// Protect applies xapi's Xml_spaces protection to a column value. modern is
// the encoding of xapi >= 1.57 (XS 7.3 and later): space %., TAB %t, LF %n,
// CR %r, % %%. The legacy encoding (XS 7.2 and older) writes single spaces
// literally and only a pair of spaces as %_ (the decoder of the time did not
// know %.).
func Protect(s string, legacy bool) string { return string(appendProtect(nil, s, legacy)) }

func appendProtect[T string | []byte](b []byte, s T, legacy bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ':
			switch {
			case !legacy:
				b = append(b, "%."...)
			case i+1 < len(s) && s[i+1] == ' ':
				b = append(b, "%_"...)
				i++
			default:
				b = append(b, ' ')
			}
		case '\t':
			b = append(b, "%t"...)
		case '\n':
			b = append(b, "%n"...)
		case '\r':
			b = append(b, "%r"...)
		case '%':
			b = append(b, "%%"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// Unprotect reverses Protect for both encodings, exactly like xapi's
// Xml_spaces.unprotect: %_ is two spaces, %. a space, %t %n %r %% their
// characters; any other % is kept as it is.
func Unprotect(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	return string(appendUnprotect(make([]byte, 0, len(s)), s))
}

func appendUnprotect[T string | []byte](b []byte, s T) []byte { return appendUnprotectFor(b, s, false) }

// appendUnprotectFor is Unprotect as the xapi of one era does it: legacy
// (before CA-268761, xapi 1.57) does not know %. and keeps it as it is.
func appendUnprotectFor[T string | []byte](b []byte, s T, legacy bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		switch s[i+1] {
		case '_':
			b = append(b, ' ', ' ')
		case '.':
			if legacy {
				b = append(b, c)
				continue
			}
			b = append(b, ' ')
		case 't':
			b = append(b, '\t')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case '%':
			b = append(b, '%')
		default:
			b = append(b, c)
			continue
		}
		i++
	}
	return b
}

// reencodeLegacy appends the raw value re-encoded from the current space
// protection to the legacy one, reusing the scratch buffer tmp.
func reencodeLegacy(dst, raw []byte, tmp *[]byte) ([]byte, error) {
	if bytes.IndexByte(raw, '&') < 0 {
		return appendLegacy(dst, raw), nil
	}
	// The protection is decoded after the XML layer (&#37;. is a space
	// too): decode entities first, then the one pass.
	var err error
	if *tmp, err = appendUnescapeXML((*tmp)[:0], raw); err != nil {
		return dst, err
	}
	return appendLegacy(dst, *tmp), nil
}

// DecodeValue decodes a raw attribute value (as it is in the file) to the
// value xapi sees: XML layer, then the space protection.
func DecodeValue(raw []byte) (string, error) {
	s, err := UnescapeXML(raw)
	if err != nil {
		return "", err
	}
	return Unprotect(s), nil
}

// EncodeValue is the inverse of DecodeValue for the given target encoding.
func EncodeValue(v string, legacy bool) []byte {
	return AppendEscapeXML(nil, Protect(v, legacy))
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// legacyOut is how appendLegacy writes a decoded byte other than a space:
// the legacy protection (%t %n %r %%), then the XML escapes, as
// appendProtect and appendEscapeXML do; "" for a byte written as it is.
var legacyOut = func() (t [256]string) {
	for c := range 0x20 {
		t[c] = "\uFFFD"
	}
	t['\t'], t['\n'], t['\r'], t['%'] = "%t", "%n", "%r", "%%"
	t['<'], t['>'], t['&'], t['"'] = "&lt;", "&gt;", "&amp;", "&quot;"
	return t
}()

// legacyPlain marks the bytes appendLegacy writes as they are.
var legacyPlain = func() (t [256]bool) {
	for c := range 256 {
		t[c] = legacyOut[c] == "" && c != ' ' && c != '%'
	}
	return t
}()

// appendLegacy re-encodes a value whose XML layer is already decoded (or
// had no entity) in one pass instead of three: each character is decoded as
// appendUnprotect does and encoded as appendProtect(legacy) and
// appendEscapeXML do. A single space is held back until the next character
// says whether it pairs with it into %_. FuzzReencodeLegacy checks it
// against the four passes.
func appendLegacy(dst, raw []byte) []byte {
	space := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if legacyPlain[c] {
			// A run of bytes written as they are: copied at once.
			j := i + 1
			for j < len(raw) && legacyPlain[raw[j]] {
				j++
			}
			if space {
				dst = append(dst, ' ')
				space = false
			}
			dst = append(dst, raw[i:j]...)
			i = j - 1
			continue
		}
		if c == '%' && i+1 < len(raw) {
			switch raw[i+1] {
			case '_':
				// Two spaces: they pair with each other, or the first with
				// a held one and the second is held: "%_" either way.
				dst = append(dst, "%_"...)
				i++
				continue
			case '.':
				c = ' '
			case 't':
				c = '\t'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case '%':
			default:
				i-- // a lone %: kept, and the next byte read on its own
			}
			i++
		}
		if c == ' ' {
			if space {
				dst = append(dst, "%_"...)
			}
			space = !space
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		if e := legacyOut[c]; e != "" {
			dst = append(dst, e...)
		} else {
			dst = append(dst, c)
		}
	}
	if space {
		dst = append(dst, ' ')
	}
	return dst
}

// SourceRead is the value the xapi that wrote a database reads from a raw
// attribute value: the XML layer decoded, whitespace stripped the way xmlm
// strips it, then its era's space protection undone (legacy: before
// xapi 1.57, no %.).
func SourceRead(raw []byte, legacy bool) (string, error) {
	s, err := UnescapeXML(raw)
	if err != nil {
		return "", err
	}
	if xmlmAlters([]byte(s)) {
		s = XMLMRead(s)
	}
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	return string(appendUnprotectFor(make([]byte, 0, len(s)), s, legacy)), nil
}

// LegacyLossy reports whether a value cannot be written for a legacy xapi
// (XS 7.2 and older): its legacy encoding starts or ends with a literal
// space, which that xapi's XML parser strips — a single leading space, or
// an odd run of trailing ones (pairs are written %_).
func LegacyLossy(v string) bool {
	n := len(v)
	if n == 0 {
		return false
	}
	if v[0] == ' ' && (n == 1 || v[1] != ' ') {
		return true
	}
	run := 0
	for run < n && v[n-1-run] == ' ' {
		run++
	}
	return run%2 == 1
}
