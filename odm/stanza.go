// Package odm reads and writes AIX ODM stanza dumps (what `odmget` prints and
// `odmadd` accepts), finds ghost device majors (CuDvDr objects and /dev nodes
// of a major that no driver or volume group owns), and plans their removal:
// a journal plan for the offline /dev plus ksh scripts for the AIX side.
package odm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// Field is one descriptor of a stanza.
type Field struct {
	Name  string
	Value string
	// Quoted is true when the value was (or is to be) written in double
	// quotes: odmget quotes CHAR, VCHAR, LINK, METHOD and BINARY values and
	// prints numbers bare.
	Quoted bool
	Line   int // line of the descriptor in its file (0 for built values)
}

// Stanza is one ODM object.
type Stanza struct {
	Class  string
	Fields []Field
	Line   int // line of the class header
}

// Get returns the value of descriptor name.
func (s *Stanza) Get(name string) (string, bool) {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return s.Fields[i].Value, true
		}
	}
	return "", false
}

// field returns the descriptor, or nil.
func (s *Stanza) field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// Limits that turn a runaway input into an error instead of a memory blow-up.
// ODM values are short (CHAR fields are at most a few hundred bytes, nchar
// methods and VCHAR attributes a few KiB); 1 MiB is far beyond any real one.
const (
	MaxLine  = 1 << 20
	MaxValue = 1 << 20
)

// ErrSyntax is wrapped by every parse error, so callers can map it to
// "invalid input".
var ErrSyntax = errors.New("malformed ODM stanza")

// Reader reads stanzas one at a time, so a dump of any size streams.
type Reader struct {
	sc     *bufio.Scanner
	file   string
	line   int
	names  map[string]string // interned class and descriptor names
	buf    []byte
	peeked []byte   // a header line read while finishing the previous stanza
	width  int      // descriptors of the previous stanza: the next one's likely size
	prev   []string // descriptor names of the previous stanza, by position
	skip   bool     // Skip is running: check everything, keep no values
	spare  Stanza   // the stanza Skip parses into, reused
	err    error
}

// NewReader reads stanzas from r; file names r in error messages.
func NewReader(r io.Reader, file string) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	return &Reader{sc: sc, file: file, names: map[string]string{}}
}

// ReadAll reads every stanza of r.
func ReadAll(r io.Reader, file string) ([]Stanza, error) {
	rd := NewReader(r, file)
	var out []Stanza
	for {
		s, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
}

func (r *Reader) errorf(line int, format string, args ...any) error {
	return &xerr.SyntaxError{File: r.file, Line: line, Msg: fmt.Sprintf(format, args...), Err: ErrSyntax}
}

// readLine returns the next physical line without its newline.
func (r *Reader) readLine() ([]byte, bool, error) {
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return nil, false, r.errorf(r.line+1, "line longer than %d bytes", MaxLine)
			}
			return nil, false, fmt.Errorf("%s line %d: %w", r.file, r.line+1, err)
		}
		return nil, false, nil
	}
	r.line++
	b := r.sc.Bytes()
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return nil, false, r.errorf(r.line, "NUL byte at column %d", i+1)
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b, true, nil
}

// name interns a descriptor name; in a dump of one class the i-th name is
// nearly always the previous stanza's i-th, which a compare finds faster
// than a map.
func (r *Reader) name(b []byte, i int) string {
	if i < len(r.prev) && r.prev[i] == string(b) {
		return r.prev[i]
	}
	s := r.intern(b)
	if i < len(r.prev) {
		r.prev[i] = s
	} else if i == len(r.prev) {
		r.prev = append(r.prev, s)
	}
	return s
}

func (r *Reader) intern(b []byte) string {
	if s, ok := r.names[string(b)]; ok {
		return s
	}
	s := string(b)
	r.names[s] = s
	return s
}

func isBlank(b []byte) bool { return len(trimSpace(b)) == 0 }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\v' || c == '\f' }

// trimSpace trims blanks by hand: bytes.Trim builds its cutset per call,
// which shows in profiles of million-object dumps.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// header reports whether line starts a stanza: its first character is not
// whitespace and it holds a ':' but no '=' (odmadd's rule).
func header(line []byte) bool {
	return len(line) > 0 && line[0] != ' ' && line[0] != '\t' &&
		bytes.IndexByte(line, ':') >= 0 && bytes.IndexByte(line, '=') < 0
}

// str makes a value string, or none while skipping.
func (r *Reader) str(b []byte) string {
	if r.skip {
		return ""
	}
	return string(b)
}

// Skip reads the next stanza with every check Next makes, but keeps only
// its class: for dumps that are validated, not used (no allocation per
// value).
func (r *Reader) Skip() (string, error) {
	r.skip = true
	defer func() { r.skip = false }()
	s, err := r.Next()
	if err != nil {
		return "", err
	}
	return s.Class, nil
}

// Next returns the next stanza, or io.EOF after the last one.
func (r *Reader) Next() (*Stanza, error) {
	if r.err != nil {
		return nil, r.err
	}
	s, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	r.width = len(s.Fields)
	return s, nil
}

func (r *Reader) next() (*Stanza, error) {
	var st *Stanza
	for {
		var line []byte
		var ok bool
		var err error
		if r.peeked != nil {
			line, ok = r.peeked, true
			r.peeked = nil
		} else if line, ok, err = r.readLine(); err != nil {
			return nil, err
		}
		if !ok {
			if st == nil {
				return nil, io.EOF
			}
			return st, nil
		}
		switch {
		case isBlank(line):
			if st != nil {
				return st, nil
			}
		case line[0] == '#' || line[0] == '*':
			// a comment line; it does not end the stanza
		case header(line):
			if st != nil {
				// The header ends this stanza; keep it for the next call.
				r.peeked = append([]byte(nil), line...)
				return st, nil
			}
			colon := bytes.IndexByte(line, ':')
			name := trimSpace(line[:colon])
			if !isName(name) {
				return nil, r.errorf(r.line, "bad class name %q", name)
			}
			if rest := trimSpace(line[colon+1:]); len(rest) > 0 && rest[0] != '#' && rest[0] != '*' {
				return nil, r.errorf(r.line, "unexpected %q after class header %s:", rest, name)
			}
			if r.skip {
				r.spare = Stanza{Class: r.intern(name), Line: r.line, Fields: r.spare.Fields[:0]}
				st = &r.spare
			} else {
				st = &Stanza{Class: r.intern(name), Line: r.line, Fields: make([]Field, 0, r.width)}
			}
		default:
			eq := bytes.IndexByte(line, '=')
			if eq < 0 {
				return nil, r.errorf(r.line, "expected a class header \"Class:\" or a descriptor \"name = value\", got %q", clip(line))
			}
			name := trimSpace(line[:eq])
			if !isName(name) {
				return nil, r.errorf(r.line, "bad descriptor name %q", clip(name))
			}
			if st == nil {
				return nil, r.errorf(r.line, "descriptor %s before a class header", name)
			}
			f := Field{Name: r.name(name, len(st.Fields)), Line: r.line}
			if err := r.value(line[eq+1:], &f); err != nil {
				return nil, err
			}
			if old := st.field(f.Name); old != nil {
				*old = f // odmadd: a repeated descriptor, the last one wins
			} else {
				st.Fields = append(st.Fields, f)
			}
		}
	}
}

func clip(b []byte) []byte {
	if len(b) > 60 {
		return append(b[:60:60], "..."...)
	}
	return b
}

// plain reports whether b holds no quote or backslash (and, for a bare
// value, no comment character): then it is its own value. A loop, not
// bytes.IndexAny, which builds its set on every call.
func plain(b []byte, bare bool) bool {
	for _, c := range b {
		if c == '"' || c == '\\' || bare && (c == '#' || c == '*') {
			return false
		}
	}
	return true
}

// value decodes a descriptor value by odmadd's rules: '"' toggles quoting
// and is dropped; outside quotes '#' and '*' start a comment and trailing
// whitespace is trimmed; \n \t \b \r \f are escapes, \X is X, and a
// backslash at the end of a line joins the next line. A quoted value may
// span lines (the newline is kept).
func (r *Reader) value(rest []byte, f *Field) error {
	start := r.line
	// Fast path: the odmget form "..." with no escapes, or a bare number.
	for len(rest) > 0 && isSpace(rest[0]) {
		rest = rest[1:]
	}
	if n := len(rest); n >= 2 && rest[0] == '"' && rest[n-1] == '"' && plain(rest[1:n-1], false) {
		f.Value, f.Quoted = r.str(rest[1:n-1]), true
		return nil
	}
	if plain(rest, true) {
		f.Value = r.str(trimSpace(rest))
		return nil
	}
	buf := r.buf[:0]
	solid := 0 // length of buf that trailing-whitespace trimming must keep
	inQuote := false
	line := rest
	for {
		cont := false
	scan:
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case c == '"':
				inQuote = !inQuote
				f.Quoted = true
				solid = len(buf)
			case c == '\\':
				if i+1 == len(line) {
					cont = true
					break scan
				}
				i++
				switch e := line[i]; e {
				case 'n':
					buf = append(buf, '\n')
				case 't':
					buf = append(buf, '\t')
				case 'b':
					buf = append(buf, '\b')
				case 'r':
					buf = append(buf, '\r')
				case 'f':
					buf = append(buf, '\f')
				default:
					buf = append(buf, e)
				}
				solid = len(buf)
			case !inQuote && (c == '#' || c == '*'):
				break scan
			default:
				buf = append(buf, c)
				if inQuote || (c != ' ' && c != '\t') {
					solid = len(buf)
				}
			}
		}
		if len(buf) > MaxValue {
			return r.errorf(start, "value of %s longer than %d bytes", f.Name, MaxValue)
		}
		if !cont && !inQuote {
			break
		}
		if inQuote && !cont {
			buf = append(buf, '\n')
			solid = len(buf)
		}
		next, ok, err := r.readLine()
		if err != nil {
			return err
		}
		if !ok {
			if inQuote {
				return r.errorf(start, "unbalanced quote in the value of %s (runs to the end of the file)", f.Name)
			}
			break
		}
		line = next
	}
	if inQuote {
		return r.errorf(start, "unbalanced quote in the value of %s", f.Name)
	}
	f.Value = r.str(buf[:solid])
	r.buf = buf[:0]
	return nil
}

// Write prints stanzas exactly as odmget does: each object is an empty line,
// "Class:", then one line per descriptor, a TAB, "name = value". Quoted
// values escape '\' and '"' and print a newline as `\n\` plus a newline.
func Write(w io.Writer, stanzas []Stanza) error {
	bw := bufio.NewWriter(w)
	for i := range stanzas {
		writeStanza(bw, &stanzas[i])
	}
	return bw.Flush()
}

// Format is Write into a byte slice.
func Format(stanzas []Stanza) []byte {
	var b bytes.Buffer
	_ = Write(&b, stanzas)
	return b.Bytes()
}

func writeStanza(w *bufio.Writer, s *Stanza) {
	w.WriteString("\n")
	w.WriteString(s.Class)
	w.WriteString(":\n")
	for _, f := range s.Fields {
		w.WriteString("\t")
		w.WriteString(f.Name)
		w.WriteString(" = ")
		if !f.Quoted && bareSafe(f.Value) {
			w.WriteString(f.Value)
		} else {
			w.WriteByte('"')
			w.WriteString(escape(f.Value))
			w.WriteByte('"')
		}
		w.WriteString("\n")
	}
}

// bareSafe reports whether an unquoted value reads back unchanged: numbers
// and similar tokens. Anything else is quoted.
func bareSafe(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", "\\n\\\n")

func escape(v string) string {
	if strings.ContainsAny(v, "\\\"\n") {
		return escaper.Replace(v)
	}
	return v
}
