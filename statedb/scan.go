package statedb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrSyntax is matched (errors.Is) by every error about a malformed database.
var ErrSyntax = errors.New("malformed state.db")

// SyntaxError locates a problem in the input: the byte offset (in the
// decompressed stream when the file is gzip-compressed) and the table and row
// being read.
type SyntaxError struct {
	Offset     int64
	Compressed bool
	Table      string
	Row        int // 1-based row number within Table; 0 when not in a row
	Ref        string
	Attr       string // the attribute whose value holds Offset, when known
	Msg        string
	// Chars: xmlm cannot decode the bytes at Offset (ErrMalformedChars).
	Chars bool
	Err   error // the cause, when it is one callers branch on
}

func (e *SyntaxError) Unwrap() error { return e.Err }

func (e *SyntaxError) Error() string {
	where := fmt.Sprintf("offset %d", e.Offset)
	if e.Compressed {
		where += " (decompressed)"
	}
	if e.Table != "" {
		where += ", table " + e.Table
	}
	if e.Row > 0 {
		where += fmt.Sprintf(", row %d", e.Row)
	}
	if e.Ref != "" {
		where += " (" + e.Ref + ")"
	}
	if e.Attr != "" {
		where += ", attribute " + e.Attr
	}
	if e.Chars {
		return where + ": " + e.Msg + ": " + ErrMalformedChars.Error()
	}
	return where + ": " + e.Msg
}

func (e *SyntaxError) Is(target error) bool {
	return target == ErrSyntax || e.Chars && target == ErrMalformedChars
}

// DefaultMaxElement bounds one element (a row with all its attributes). A
// real row is a few KiB; xapi itself assumes a whole dump fits in 60 MiB, so
// anything larger is corruption and is reported instead of buffered.
const DefaultMaxElement = 16 << 20

type tokKind int

const (
	tokEOF tokKind = iota
	tokStart
	tokEnd
	tokPI
)

// Attr is one attribute of an element as it is in the file: Raw is still
// XML-escaped (and, for column values, space-protected). Both slices are only
// valid until the next call that reads from the same Reader.
type Attr struct {
	Name []byte
	Raw  []byte
	// ent: Raw has an entity or character reference, so its meaning differs
	// from its bytes. Set by the scanner, which looks for '&' anyway, so that
	// Scan and Patch.Apply need not search every value again.
	ent bool
}

// Value decodes the XML layer of the attribute.
func (a Attr) Value() (string, error) { return UnescapeXML(a.Raw) }

// scanner is the tokenizer: it finds tags in a sliding buffer with
// bytes.IndexByte and returns names and attributes as slices of that buffer,
// so the hot path neither allocates nor copies.
type scanner struct {
	src  io.Reader
	buf  []byte
	r, w int
	base int64 // stream offset of buf[0]
	eof  bool
	rerr error
	max  int

	// dec checks every byte consumed, up to the stream offset chk, the way
	// xapi's XML parser decodes it; cerr is its fault found by more().
	dec      charDecoder
	chk      int64
	cerr     error
	quirkOff int64 // stream offset of the first of dec.quirks

	kind  tokKind
	self  bool
	name  []byte
	attrs []Attr
	off   int64 // stream offset of the current token
}

func newScanner(src io.Reader, max int) *scanner {
	return &scanner{src: src, buf: make([]byte, 64<<10), max: max}
}

// more reads at least one more byte into the buffer, making room by moving
// the unread part down or by growing the buffer. It reports false at the end
// of the input.
func (s *scanner) more() bool {
	if s.eof || s.rerr != nil {
		return false
	}
	if err := s.chars(s.r); err != nil {
		s.cerr = err
		return false
	}
	s.attrs = s.attrs[:0] // they point into the bytes about to move
	if s.r > 0 {
		n := copy(s.buf, s.buf[s.r:s.w])
		s.base += int64(s.r)
		s.r, s.w = 0, n
	}
	if s.w == len(s.buf) {
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.w])
		s.buf = nb
	}
	for range 100 {
		n, err := s.src.Read(s.buf[s.w:])
		s.w += n
		if err == io.EOF {
			s.eof = true
			return n > 0
		}
		if err != nil {
			s.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	s.rerr = io.ErrNoProgress
	return false
}

func (s *scanner) errorf(off int64, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// chars runs the bytes not yet checked, up to buf[end] (a character
// boundary), through xmlm's decoder.
func (s *scanner) chars(end int) error {
	from := int(s.chk - s.base)
	if s.dec.off || from >= end {
		s.chk = max(s.chk, s.base+int64(end))
		return nil
	}
	q := s.dec.quirks
	n, f := s.dec.scan(s.buf[from:end], end-from)
	if f != nil {
		return s.charError(from+f.at, f.msg)
	}
	if q == 0 && s.dec.quirks > 0 {
		s.quirkOff = s.chk + int64(s.dec.quirkAt)
	}
	s.chk += int64(n)
	return nil
}

// charsBefore returns, instead of the syntax error err, the decoder's fault
// at or before err's offset: xmlm decodes each character before it parses
// it, so that fault is what xapi meets first.
func (s *scanner) charsBefore(err error) error {
	var se *SyntaxError
	if !errors.As(err, &se) || s.dec.off {
		return err
	}
	from, end := int(s.chk-s.base), int(se.Offset-s.base)+1
	if from < 0 || from >= end || end > s.w {
		return err
	}
	d := s.dec
	if _, f := d.scan(s.buf[from:s.w], end-from); f != nil {
		return s.charError(from+f.at, f.msg)
	}
	return err
}

// charError is the fault at buf[i], naming the attribute whose value holds
// it.
func (s *scanner) charError(i int, msg string) error {
	e := &SyntaxError{Offset: s.base + int64(i), Msg: msg, Chars: true}
	for _, a := range s.attrs {
		if at := cap(s.buf) - cap(a.Raw); i >= at && i < at+len(a.Raw) {
			e.Attr = string(a.Name)
		}
	}
	return e
}

func (s *scanner) readErr(off int64) error {
	if s.cerr != nil {
		return s.cerr
	}
	if s.rerr != nil {
		return &SyntaxError{Offset: off, Msg: "read: " + s.rerr.Error()}
	}
	return s.errorf(off, "unexpected end of file inside an element")
}

// next reads the next tag, skipping whitespace between tags and comments.
// Until a tag's name is parsed, s.name is nil, so an error says whether it
// happened inside a tag.
func (s *scanner) next() error {
	s.name = nil
	for {
		for {
			rest := s.buf[s.r:s.w]
			i := bytes.IndexByte(rest, '<')
			n := i
			if i < 0 {
				n = len(rest)
			}
			for k := 0; k < n; k++ {
				if c := rest[k]; c != ' ' && c != '\n' && c != '\t' && c != '\r' {
					return s.charsBefore(s.errorf(s.base+int64(s.r+k), "unexpected text %q outside an element", clip(rest[k:n], 20)))
				}
			}
			if i >= 0 {
				s.r += i
				break
			}
			s.r = s.w
			if !s.more() {
				if s.cerr != nil {
					return s.cerr
				}
				if s.rerr != nil {
					return s.readErr(s.base + int64(s.r))
				}
				s.kind = tokEOF
				s.off = s.base + int64(s.r)
				return nil
			}
		}
		s.off = s.base + int64(s.r)
		for retried := false; ; {
			n, skip, err := s.tag(s.buf[s.r:s.w])
			if err != nil {
				return s.charsBefore(err)
			}
			if n > s.max {
				return s.errorf(s.off, "element larger than %d bytes (truncated or corrupt file?)", s.max)
			}
			if n > 0 {
				if err := s.chars(s.r + n); err != nil {
					return err
				}
				s.r += n
				if skip {
					break
				}
				return nil
			}
			if s.w-s.r > s.max {
				return s.errorf(s.off, "element larger than %d bytes (truncated or corrupt file?)", s.max)
			}
			if !s.more() {
				if !s.eof || retried {
					return s.readErr(s.off)
				}
				retried = true // the tag's lookahead now knows the input has ended
			}
		}
	}
}

// checkValues validates the raw attribute values of the tag whose bytes up
// to its closing '>' are tag: no raw '<', well-formed entities (characters
// xmlm cannot decode, control bytes among them, are found by chars).
// Searching the whole tag once is much cheaper than every value on its own
// (a row has dozens of short values), and only a tag with an '&' or a '<'
// is looked at value by value. A value's
// offset in tag is cap(tag) - cap(value): both slice the same buffer from
// tag[0].
func (s *scanner) checkValues(tag []byte) error {
	lt := bytes.IndexByte(tag[1:], '<') >= 0
	if !lt && bytes.IndexByte(tag, '&') < 0 {
		return nil
	}
	for i, a := range s.attrs {
		at := s.off + int64(cap(tag)-cap(a.Raw))
		if lt && bytes.IndexByte(a.Raw, '<') >= 0 {
			return s.errorf(at, "attribute %s: raw '<' in attribute value", a.Name)
		}
		if bytes.IndexByte(a.Raw, '&') < 0 {
			continue
		}
		s.attrs[i].ent = true
		if i, err := checkXMLValue(a.Raw); err != nil {
			if cr := (*charRefError)(nil); errors.As(err, &cr) {
				return &SyntaxError{Offset: at + int64(i), Attr: string(a.Name), Msg: err.Error(), Chars: true}
			}
			return s.errorf(at, "attribute %s: %v", a.Name, err)
		}
	}
	return nil
}

const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// hasControl reports whether b has a byte below 0x20, eight bytes at a time:
// (x - 0x20 in every byte) & ^x & 0x80 in every byte is non-zero exactly
// when some byte of x is below 0x20 (a borrow can only start at such a
// byte). Tags of xapi's one-line files have none, so this is the whole
// cost of the control-byte check for them.
func hasControl(b []byte) bool {
	const k = 0x20 * swarOnes
	for len(b) >= 32 {
		// four words per branch: a row tag is a few KiB
		x0 := binary.LittleEndian.Uint64(b)
		x1 := binary.LittleEndian.Uint64(b[8:])
		x2 := binary.LittleEndian.Uint64(b[16:])
		x3 := binary.LittleEndian.Uint64(b[24:])
		if ((x0-k)&^x0|(x1-k)&^x1|(x2-k)&^x2|(x3-k)&^x3)&swarHigh != 0 {
			return true
		}
		b = b[32:]
	}
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if (x-0x20*swarOnes)&^x&swarHigh != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-' || c >= 0x80
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// tag parses the tag at b[0] == '<'. It returns n == 0 when b does not hold
// the whole tag yet, and skip for comments.
func (s *scanner) tag(b []byte) (n int, skip bool, err error) {
	if len(b) < 2 {
		return 0, false, nil
	}
	switch b[1] {
	case '?':
		end := bytes.Index(b[2:], []byte("?>"))
		if end < 0 {
			return 0, false, nil
		}
		s.kind = tokPI
		s.name = b[2 : 2+end]
		return 2 + end + 2, false, nil
	case '!':
		if len(b) < 4 {
			return 0, false, nil
		}
		if string(b[:4]) != "<!--" {
			return 0, false, s.errorf(s.off, "unsupported markup %q (DOCTYPE/CDATA are not part of a state.db)", clip(b, 12))
		}
		end := bytes.Index(b[4:], []byte("-->"))
		if end < 0 {
			return 0, false, nil
		}
		return 4 + end + 3, true, nil
	case '/':
		i := 2
		for i < len(b) && isNameByte(b[i]) {
			i++
		}
		name := b[2:i]
		for i < len(b) && isSpaceByte(b[i]) {
			i++
		}
		if i == len(b) {
			return 0, false, nil
		}
		if b[i] != '>' || len(name) == 0 {
			return 0, false, s.errorf(s.off+int64(i), "malformed end tag")
		}
		s.kind, s.name, s.self = tokEnd, name, false
		return i + 1, false, nil
	}
	i := 1
	for i < len(b) && isNameByte(b[i]) {
		i++
	}
	if i == len(b) {
		return 0, false, nil
	}
	s.name = b[1:i]
	if len(s.name) == 0 {
		return 0, false, s.errorf(s.off, "malformed tag")
	}
	s.attrs = s.attrs[:0]
	for {
		sp := i
		for i < len(b) && isSpaceByte(b[i]) {
			i++
		}
		if i == len(b) {
			return 0, false, nil
		}
		switch b[i] {
		case '>':
			// <x ...></x> is the same as <x .../>: fold it here so that the
			// attributes stay valid (a later read may move the buffer).
			// At the end of the input the lookahead cannot complete: the
			// tag stands as it is.
			j := i + 1
			for j < len(b) && isSpaceByte(b[j]) {
				j++
			}
			if j == len(b) && !s.eof {
				return 0, false, nil
			}
			if j+1 < len(b) && b[j] == '<' && b[j+1] == '/' {
				end := len(s.name) + 3
				if len(b)-j < end && !s.eof {
					return 0, false, nil
				}
				if len(b)-j >= end && bytes.Equal(b[j+2:j+end-1], s.name) && b[j+end-1] == '>' {
					s.kind, s.self = tokStart, true
					return j + end, false, s.checkValues(b[:i])
				}
			}
			s.kind, s.self = tokStart, false
			return i + 1, false, s.checkValues(b[:i])
		case '/':
			if i+1 == len(b) {
				return 0, false, nil
			}
			if b[i+1] != '>' {
				return 0, false, s.errorf(s.off+int64(i), "malformed tag <%s>", s.name)
			}
			s.kind, s.self = tokStart, true
			return i + 2, false, s.checkValues(b[:i])
		}
		if sp == i {
			return 0, false, s.errorf(s.off+int64(i), "missing space before attribute in <%s>", s.name)
		}
		ns := i
		for i < len(b) && isNameByte(b[i]) {
			i++
		}
		name := b[ns:i]
		for i < len(b) && isSpaceByte(b[i]) {
			i++
		}
		if i == len(b) {
			return 0, false, nil
		}
		if len(name) == 0 || b[i] != '=' {
			return 0, false, s.errorf(s.off+int64(i), "malformed attribute in <%s>", s.name)
		}
		i++
		for i < len(b) && isSpaceByte(b[i]) {
			i++
		}
		if i == len(b) {
			return 0, false, nil
		}
		q := b[i]
		if q != '"' && q != '\'' {
			return 0, false, s.errorf(s.off+int64(i), "attribute %s: value is not quoted", name)
		}
		i++
		end := bytes.IndexByte(b[i:], q)
		if end < 0 {
			return 0, false, nil
		}
		s.attrs = append(s.attrs, Attr{Name: name, Raw: b[i : i+end]})
		i += end + 1
	}
}
