// Package statedb reads, compares and rewrites xapi's database file
// (state.db) without loading it into memory: a streaming tokenizer, the three
// value encodings, both manifest forms, gzip, the side files that decide
// which file xapi loads, and patch plans that make an older xapi accept a
// database written by a newer one, and the check of what a target xapi
// would refuse. Facts and their xen-api sources: docs/statedb.md.
package statedb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// EventKind says what Reader.Next found.
type EventKind int

const (
	TableStart EventKind = iota + 1
	RowRead
	TableEnd
)

// Row is one <row> element. Attrs are in file order and include ref,
// __ctime and __mtime; they are valid until the next call to Next.
type Row struct {
	Attrs  []Attr
	Offset int64 // stream offset of the element
	N      int   // 1-based number of the row within its table
}

// Get returns the raw value of attribute name.
func (r *Row) Get(name string) ([]byte, bool) {
	for _, a := range r.Attrs {
		if string(a.Name) == name {
			return a.Raw, true
		}
	}
	return nil, false
}

// Ref is the row's ref attribute (raw; references never need escaping).
func (r *Row) Ref() []byte {
	v, _ := r.Get("ref")
	return v
}

// Event is one step through the tables of a database.
type Event struct {
	Kind  EventKind
	Table string
	Row   Row // for RowRead
}

// Reader streams a state.db: the prolog and manifest are read by NewReader,
// then Next walks tables and rows.
type Reader struct {
	s          *scanner
	compressed bool
	manifest   Manifest
	problems   []string
	valueFirst []string // keys of manifest pairs with value before key
	decl       bool
	bom        bool // xmlm then ignores the declaration's encoding
	lax        bool // Options.laxManifest

	table      string
	inTable    bool
	pendingEnd bool // a self-closing <table/> still owes its TableEnd
	row        int
	done       bool
	ev         Event
}

// Options tune a Reader.
type Options struct {
	MaxElement int // bytes; DefaultMaxElement when 0
	// MaxSize bounds the XML read (after gzip): a larger input is refused
	// with a SyntaxError instead of being read to its end. DefaultMaxSize
	// when 0.
	MaxSize int64
	// laxManifest lets a manifest through that xapi itself fails on (a
	// key missing, a number OCaml refuses), for Check to report.
	laxManifest bool
}

// DefaultMaxSize is 4 GiB of XML: xapi itself holds the whole database in
// memory, a real one is a few hundred MB at most; a gzip stream that
// expands beyond is a bomb or a broken file.
const DefaultMaxSize = 4 << 30

// ErrTooLarge is matched (errors.Is) by the error of an input over MaxSize.
var ErrTooLarge = errors.New("input larger than the size limit")

// capped returns at most max bytes of r, then an error.
type capped struct {
	r    io.Reader
	left int64
	max  int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// one byte more tells an input of exactly max bytes from a bigger one
		var b [1]byte
		for range 100 {
			n, err := c.r.Read(b[:])
			if n > 0 {
				return 0, fmt.Errorf("%w: more than %d bytes of XML (raise it with --max-size)", ErrTooLarge, c.max)
			}
			if err != nil {
				return 0, err
			}
		}
		return 0, io.ErrNoProgress
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	utf8BOM   = []byte{0xef, 0xbb, 0xbf}
)

// NewReader starts reading a database from r, transparently decompressing a
// gzip stream (db.conf compress:true), and reads up to the end of the
// manifest.
func NewReader(r io.Reader) (*Reader, error) { return NewReaderOptions(r, Options{}) }

// NewReaderOptions is NewReader with options.
func NewReaderOptions(r io.Reader, o Options) (*Reader, error) {
	head := make([]byte, 2)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, &SyntaxError{Msg: "read: " + err.Error()}
	}
	src := io.MultiReader(bytes.NewReader(head[:n]), r)
	rd := &Reader{lax: o.laxManifest}
	if n == 2 && bytes.Equal(head, gzipMagic) {
		zr, err := gzip.NewReader(src)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "gzip: ") { // klauspost's errors say it already
				msg = "gzip: " + msg
			}
			return nil, &SyntaxError{Compressed: true, Msg: msg}
		}
		src = zr
		rd.compressed = true
	}
	if o.MaxElement <= 0 {
		o.MaxElement = DefaultMaxElement
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	src = &capped{r: src, left: o.MaxSize, max: o.MaxSize}
	// A UTF-8 byte order mark before <?xml: xmlm (xapi's parser) skips it,
	// so it is skipped here too; offsets still count it.
	bom := make([]byte, 3)
	// A read error here recurs (and is reported) when the scanner reads on.
	n, _ = io.ReadFull(src, bom)
	skip := 0
	if n == 3 && bytes.Equal(bom, utf8BOM) {
		skip = 3
	}
	rd.s = newScanner(io.MultiReader(bytes.NewReader(bom[skip:n]), src), o.MaxElement)
	rd.s.base = int64(skip)
	rd.s.chk = rd.s.base
	rd.bom = skip > 0
	if err := rd.prolog(); err != nil {
		return nil, rd.wrap(err)
	}
	return rd, nil
}

// Compressed reports whether the input was a gzip stream.
func (r *Reader) Compressed() bool { return r.compressed }

// Manifest is the database's manifest.
func (r *Reader) Manifest() Manifest { return r.manifest }

// Problems are what the reader accepts but xapi's own reader would refuse
// or misread (so far: manifest pairs with value before key).
func (r *Reader) Problems() []string { return r.problems }

// QuirkChars counts the characters XML 1.0 forbids (control bytes, U+FFFE,
// U+FFFF) read so far that xmlm lets through because they come right after
// a raw CR LF (nextc reads that character without its is_char test), and
// gives the offset of the first. xapi loads such a file; any rewrite that
// changes what precedes them (a patch re-encoding the value) would not.
func (r *Reader) QuirkChars() (n int, first int64) { return r.s.dec.quirks, r.s.quirkOff }

// ValueFirstPairs lists the keys of manifest pairs written value before key.
func (r *Reader) ValueFirstPairs() []string { return r.valueFirst }

// Offset is the number of (decompressed) bytes consumed so far.
func (r *Reader) Offset() int64 { return r.s.base + int64(r.s.r) }

func (r *Reader) wrap(err error) error {
	var se *SyntaxError
	if errors.As(err, &se) {
		se.Compressed = r.compressed
		if se.Table == "" && r.inTable {
			se.Table = r.table
			if se.Row == 0 && string(r.s.name) == "row" {
				// an error inside the next row's tag
				se.Row = r.row + 1
				for _, a := range r.s.attrs {
					if string(a.Name) == "ref" {
						se.Ref = string(a.Raw)
					}
				}
			}
		}
		if r.compressed && se.Msg != "" && bytes.HasPrefix([]byte(se.Msg), []byte("read: ")) {
			se.Msg = "gzip " + se.Msg
		}
	}
	return err
}

func (r *Reader) prolog() error {
	s := r.s
	for {
		if err := s.next(); err != nil {
			return err
		}
		if s.kind != tokPI {
			break
		}
		if !bytes.HasPrefix(s.name, []byte("xml")) {
			return s.errorf(s.off, "unexpected processing instruction")
		}
		if !r.decl && !r.bom {
			if err := r.encoding(); err != nil {
				return err
			}
		}
		r.decl = true
	}
	if s.kind != tokStart || string(s.name) != "database" || s.self {
		return s.errorf(s.off, "expected <database>, found %s", s.describe())
	}
	if err := s.next(); err != nil {
		return err
	}
	if s.kind != tokStart || string(s.name) != "manifest" {
		return s.errorf(s.off, "expected <manifest>, found %s", s.describe())
	}
	mOff := s.off
	if !s.self {
		for {
			if err := s.next(); err != nil {
				return err
			}
			if s.kind == tokEnd && string(s.name) == "manifest" {
				break
			}
			if s.kind != tokStart || string(s.name) != "pair" {
				return s.errorf(s.off, "expected <pair> in the manifest, found %s", s.describe())
			}
			p, valueFirst, err := s.pair()
			if err != nil {
				return err
			}
			// xapi prepends each pair to a list and looks keys up with
			// List.assoc (db_xml.ml From.cache, From.database): it uses the
			// last one in the file, show would print another.
			if _, dup := r.manifest.Get(p.Key); dup {
				return s.errorf(mOff, "manifest: key %s appears twice (xapi would use only the last)", p.Key)
			}
			r.manifest.Pairs = append(r.manifest.Pairs, p)
			if valueFirst {
				r.valueFirst = append(r.valueFirst, p.Key)
				r.problems = append(r.problems, fmt.Sprintf("manifest pair %d (%s) has value before key: xapi's reader rejects it; statedb patch rewrites it key first", len(r.manifest.Pairs), p.Key))
			}
			if !s.self {
				return s.errorf(s.off, "<pair> must be empty")
			}
		}
	}
	if err := r.manifest.check(); err != nil && !(r.lax && errors.Is(err, ErrXapiRefuses)) {
		return &SyntaxError{Offset: mOff, Msg: "manifest: " + err.Error(), Err: err}
	}
	return nil
}

// encoding applies the XML declaration's encoding the way xmlm does when
// no byte order mark came first (find_encoding, p_xml_decl: the value is
// whitespace-stripped and lowercased): utf-8 and (us-)ascii are read, the
// Latin encodings xmlm also knows are refused as unsupported here (xapi
// writes UTF-8 only), anything else is a file xmlm cannot decode.
func (r *Reader) encoding() error {
	s := r.s
	d := s.name
	i := bytes.Index(d, []byte("encoding"))
	if i < 0 {
		return nil
	}
	d = bytes.TrimLeft(d[i+len("encoding"):], " \t\r\n")
	if len(d) == 0 || d[0] != '=' {
		return nil
	}
	d = bytes.TrimLeft(d[1:], " \t\r\n")
	if len(d) == 0 || d[0] != '"' && d[0] != '\'' {
		return nil
	}
	end := bytes.IndexByte(d[1:], d[0])
	if end < 0 {
		return nil
	}
	enc := strings.ToLower(XMLMRead(string(d[1 : 1+end])))
	switch enc {
	case "utf-8":
		return nil
	case "us-ascii", "ascii":
		s.dec.ascii = true
		return nil
	case "iso-8859-1", "iso-8859-15":
		return s.errorf(s.off, "the XML declaration names encoding %q: xsrescue reads only UTF-8 (and US-ASCII) databases, as xapi writes them; convert it first (iconv -f %s -t UTF-8, then set encoding=\"UTF-8\")", enc, enc)
	case "utf-16", "utf-16be", "utf-16le":
		return &SyntaxError{Offset: s.off, Chars: true, Msg: fmt.Sprintf("the XML declaration names encoding %q but the file is not UTF-16: xmlm decodes the rest as UTF-16 and cannot parse it", enc)}
	}
	return &SyntaxError{Offset: s.off, Chars: true, Msg: fmt.Sprintf("the XML declaration names encoding %q, which xmlm does not know (Unknown_encoding)", enc)}
}

// pair reads a <pair>. valueFirst reports the attribute order xapi's reader
// refuses (db_xml.ml From.cache: it matches [key; value] in that order); the
// pair is still read, as a patch rewrites it key first.
func (s *scanner) pair() (p Pair, valueFirst bool, err error) {
	var haveK, haveV bool
	for _, a := range s.attrs {
		v, err := a.Value()
		if err != nil {
			return p, false, s.errorf(s.off, "pair: %v", err)
		}
		switch string(a.Name) {
		case "key":
			if haveK {
				return p, false, s.errorf(s.off, "pair: duplicate attribute key")
			}
			p.Key, haveK = v, true
			valueFirst = haveV
		case "value":
			if haveV {
				return p, false, s.errorf(s.off, "pair: duplicate attribute value")
			}
			p.Value, haveV = v, true
		default:
			return p, false, s.errorf(s.off, "pair: unexpected attribute %q", a.Name)
		}
	}
	if !haveK || !haveV {
		return p, false, s.errorf(s.off, "pair: needs both key and value")
	}
	return p, valueFirst, nil
}

func (s *scanner) describe() string {
	switch s.kind {
	case tokEOF:
		return "end of file"
	case tokEnd:
		return fmt.Sprintf("</%s>", s.name)
	case tokPI:
		return "a processing instruction"
	}
	return fmt.Sprintf("<%s>", s.name)
}

// Next returns the next table start, row or table end, and io.EOF after
// </database>. The event is reused by the following call.
func (r *Reader) Next() (*Event, error) {
	if r.done {
		return nil, io.EOF
	}
	ev, err := r.next()
	if err != nil {
		if err == io.EOF {
			r.done = true
		}
		return nil, r.wrap(err)
	}
	return ev, nil
}

func (r *Reader) next() (*Event, error) {
	if r.pendingEnd {
		r.pendingEnd, r.inTable = false, false
		r.ev = Event{Kind: TableEnd, Table: r.table}
		return &r.ev, nil
	}
	s := r.s
	if err := s.next(); err != nil {
		return nil, err
	}
	name := s.name
	if r.inTable {
		switch {
		case s.kind == tokStart && string(name) == "row":
			return r.readRow()
		case s.kind == tokEnd && string(name) == "table":
			r.inTable = false
			r.ev = Event{Kind: TableEnd, Table: r.table}
			return &r.ev, nil
		}
		return nil, s.errorf(s.off, "unexpected %s in a table", s.describe())
	}
	switch {
	case s.kind == tokStart && string(name) == "table":
		if len(s.attrs) != 1 || string(s.attrs[0].Name) != "name" {
			return nil, s.errorf(s.off, "<table> must have exactly one attribute, name")
		}
		t, err := s.attrs[0].Value()
		if err != nil || t == "" {
			return nil, s.errorf(s.off, "<table> has a bad name")
		}
		r.table, r.inTable, r.row = t, true, 0
		r.pendingEnd = s.self
		r.ev = Event{Kind: TableStart, Table: t}
		return &r.ev, nil
	case s.kind == tokEnd && string(name) == "database":
		// xmlm stops decoding at the end of the root element: what
		// follows is never read by xapi (db_xml.ml reads one document).
		s.dec.off = true
		for {
			if err := s.next(); err != nil {
				return nil, err
			}
			if s.kind == tokEOF {
				return nil, io.EOF
			}
			if s.kind != tokPI {
				return nil, s.errorf(s.off, "unexpected %s after </database>", s.describe())
			}
		}
	case s.kind == tokEOF:
		return nil, s.errorf(s.off, "unexpected end of file: </database> missing (truncated file?)")
	}
	return nil, s.errorf(s.off, "unexpected %s (expected <table> or </database>)", s.describe())
}

func (r *Reader) readRow() (*Event, error) {
	s := r.s
	r.row++
	row := Row{Attrs: s.attrs, Offset: s.off, N: r.row}
	if err := checkRowAttrs(row.Attrs); err != nil {
		return nil, &SyntaxError{Offset: s.off, Table: r.table, Row: r.row, Ref: string(row.Ref()), Msg: err.Error()}
	}
	if !s.self {
		return nil, &SyntaxError{Offset: s.off, Table: r.table, Row: r.row, Ref: string(row.Ref()), Msg: "<row> must be empty"}
	}
	r.ev = Event{Kind: RowRead, Table: r.table, Row: row}
	return &r.ev, nil
}

// checkRowAttrs requires a ref and no duplicate attribute. Columns written by
// xapi are sorted, which makes the duplicate check linear; other orders fall
// back to a set.
func checkRowAttrs(attrs []Attr) error {
	hasRef := false
	sorted := true
	var prev []byte
	for _, a := range attrs {
		switch string(a.Name) {
		case "ref":
			if hasRef {
				return errors.New("duplicate attribute ref")
			}
			hasRef = true
			continue
		case "__ctime", "__mtime":
			continue
		}
		if prev != nil && bytes.Compare(prev, a.Name) >= 0 {
			sorted = false
		}
		prev = a.Name
	}
	if !hasRef {
		return errors.New("row without a ref attribute")
	}
	if !sorted {
		seen := make(map[string]bool, len(attrs))
		for _, a := range attrs {
			if seen[string(a.Name)] {
				return fmt.Errorf("duplicate attribute %s", a.Name)
			}
			seen[string(a.Name)] = true
		}
	}
	return nil
}
