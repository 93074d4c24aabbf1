package statedb

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformedChars is matched (errors.Is) by the error of a database whose
// bytes xapi's XML parser cannot decode: xmlm raises Malformed_char_stream
// (or Unknown_encoding) and xapi does not load the file. It is a syntax error too (ErrSyntax):
// show, diff and patch refuse such a file instead of passing the bytes on.
var ErrMalformedChars = errors.New("xmlm (xapi's XML parser) cannot decode it: xapi does not load this database")

// charDecoder is xmlm's character input, byte for byte (github.com/dbuenzli/xmlm
// src/xmlm.ml: uchar_utf8, uchar_ascii, and nextc's is_char test and its
// CR LF handling; the same from the 2007 initial revision 06a5686 to v1.4.0).
// xmlm decodes every character from the start of the document to the '>'
// that closes the root element, so the scanner runs every byte it consumes
// through it until </database>.
type charDecoder struct {
	ascii bool // encoding="US-ASCII" or "ASCII": a byte over 0x7F is malformed
	// cr: the last character was CR (xmlm's i.cr). A normal read of LF then
	// makes xmlm read the character after it at once, without its is_char
	// test (nextc: "cr nl business"): unchecked marks that character.
	cr        bool
	unchecked bool
	off       bool // past the root element: xmlm reads no further
	// quirks counts characters is_char refuses that the CR LF handling let
	// through; quirkAt is the offset of the first, in the slice scanned.
	quirks  int
	quirkAt int
}

// charFault is where and why xmlm's decoder fails.
type charFault struct {
	at  int // index in the slice given to scan
	msg string
}

// flagged is non-zero when a byte of x is below 0x20 or above 0x7F: only
// those need a closer look (control bytes, TAB, LF, CR, multi-byte UTF-8).
func flagged(x uint64) uint64 { return ((x - 0x20*swarOnes) | x) & swarHigh }

// scan decodes the characters of b that start before limit; it stops
// before one that b does not hold completely (the caller gives it again
// with more bytes), and returns how many bytes it consumed, or the first
// fault.
func (d *charDecoder) scan(b []byte, limit int) (int, *charFault) {
	i := 0
	for i < limit {
		// Printable ASCII is a character in every encoding and resets the
		// CR state: skip it eight bytes at a time.
		for i+8 <= limit && flagged(binary.LittleEndian.Uint64(b[i:])) == 0 {
			i += 8
			d.cr, d.unchecked = false, false
		}
		if i >= limit {
			break
		}
		c := b[i]
		if c >= 0x20 && c < 0x80 {
			i++
			d.cr, d.unchecked = false, false
			continue
		}
		r, n, msg := d.decode(b[i:])
		if n == 0 {
			return i, nil // incomplete: wait for more bytes
		}
		if msg != "" {
			return i, &charFault{at: i, msg: msg}
		}
		switch {
		case d.unchecked:
			if !isXMLChar(r) {
				if d.quirks == 0 {
					d.quirkAt = i
				}
				d.quirks++
			}
			d.unchecked = false
			d.cr = r == '\r'
		case !isXMLChar(r):
			return i, &charFault{at: i, msg: notCharMsg(r)}
		case d.cr && r == '\n':
			d.unchecked = true
		default:
			d.cr = r == '\r'
		}
		i += n
	}
	return i, nil
}

// decode reads one character at b[0] the way xmlm's uchar_utf8 (or
// uchar_ascii) does: n == 0 when b ends inside it.
func (d *charDecoder) decode(b []byte) (r rune, n int, msg string) {
	b0 := b[0]
	if b0 < 0x80 {
		return rune(b0), 1, ""
	}
	if d.ascii {
		return 0, 1, fmt.Sprintf("byte 0x%02x is not US-ASCII, the encoding the XML declaration names", b0)
	}
	switch {
	case b0 < 0xC2:
		if b0 < 0xC0 {
			return 0, 1, fmt.Sprintf("invalid UTF-8: byte 0x%02x cannot start a character (a continuation byte without its lead byte; a Latin-1 character?)", b0)
		}
		return 0, 1, fmt.Sprintf("invalid UTF-8: byte 0x%02x starts an overlong form (uchar_utf8 refuses 0xC0 and 0xC1)", b0)
	case b0 < 0xE0:
		n = 2
	case b0 < 0xF0:
		n = 3
	case b0 < 0xF5:
		n = 4
	default:
		return 0, 1, fmt.Sprintf("invalid UTF-8: byte 0x%02x cannot start a character (0xF5 to 0xFF never occur in UTF-8)", b0)
	}
	if len(b) < n {
		return 0, 0, ""
	}
	seq := b[:n]
	cont := func(c byte) bool { return c&0xC0 == 0x80 }
	bad := func(why string) (rune, int, string) {
		return 0, n, fmt.Sprintf("invalid UTF-8: % x %s", seq, why)
	}
	switch n {
	case 2:
		if !cont(b[1]) {
			return bad("(the byte after the lead byte is not a continuation byte)")
		}
		return rune(b0&0x1F)<<6 | rune(b[1]&0x3F), 2, ""
	case 3:
		if !cont(b[2]) {
			return bad("(a byte of the sequence is not a continuation byte)")
		}
		switch {
		case b0 == 0xE0 && (b[1] < 0xA0 || b[1] > 0xBF):
			return bad("(an overlong form)")
		case b0 == 0xED && (b[1] < 0x80 || b[1] > 0x9F):
			return bad("(a UTF-16 surrogate, U+D800 to U+DFFF)")
		case !cont(b[1]):
			return bad("(a byte of the sequence is not a continuation byte)")
		}
		return rune(b0&0x0F)<<12 | rune(b[1]&0x3F)<<6 | rune(b[2]&0x3F), 3, ""
	}
	if !cont(b[2]) || !cont(b[3]) {
		return bad("(a byte of the sequence is not a continuation byte)")
	}
	switch {
	case b0 == 0xF0 && (b[1] < 0x90 || b[1] > 0xBF):
		return bad("(an overlong form)")
	case b0 == 0xF4 && (b[1] < 0x80 || b[1] > 0x8F):
		return bad("(beyond U+10FFFF)")
	case !cont(b[1]):
		return bad("(a byte of the sequence is not a continuation byte)")
	}
	return rune(b0&0x07)<<18 | rune(b[1]&0x3F)<<12 | rune(b[2]&0x3F)<<6 | rune(b[3]&0x3F), 4, ""
}

func notCharMsg(r rune) string {
	if r < 0x20 {
		return fmt.Sprintf("raw control byte 0x%02x (XML 1.0 allows only TAB, LF and CR below 0x20; xmlm's is_char refuses it)", r)
	}
	return fmt.Sprintf("U+%04X is not an XML 1.0 character (xmlm's is_char refuses U+FFFE and U+FFFF)", r)
}
