package statedb

import (
	"bytes"
	"errors"
	"io"
)

// Declaration is what xmlm writes before the document, followed by one
// newline; the rest of the file is one line (xen-api db_xml.ml To.database
// through xmlm).
const Declaration = `<?xml version="1.0" encoding="UTF-8"?>`

// Writer writes a database in the form xapi writes: declaration, newline,
// the whole document on one line, empty elements self-closing, pair key before
// value, ref first in every row. Attribute values are written raw (already
// escaped), so an unchanged row is copied byte for byte.
type Writer struct {
	w       io.Writer
	buf     []byte // output not yet written to w
	table   string
	pending bool // <table name=".."> not written yet: self-close if no row follows
	inTable bool
	err     error
}

// flushAt is the buffered size at which the Writer writes to its io.Writer.
const flushAt = 64 << 10

// NewWriter returns a Writer on w; Close flushes it.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, buf: make([]byte, 0, flushAt+4096)} }

// Begin writes the declaration, <database> and the manifest.
func (w *Writer) Begin(m Manifest) error {
	w.str(Declaration + "\n<database><manifest>")
	for _, p := range m.Pairs {
		w.str(`<pair key="`)
		w.esc(p.Key)
		w.str(`" value="`)
		w.esc(p.Value)
		w.str(`"/>`)
	}
	w.str("</manifest>")
	return w.err
}

// StartTable opens a table; it is written self-closing when no row follows.
func (w *Writer) StartTable(name string) {
	w.table, w.pending, w.inTable = name, true, true
}

func (w *Writer) flushTable() {
	if w.pending {
		w.str(`<table name="`)
		w.esc(w.table)
		w.str(`">`)
		w.pending = false
	}
}

// WriteRow writes one row: ref first, then the other attributes in the
// order given.
func (w *Writer) WriteRow(attrs []Attr) error {
	if !w.inTable {
		return errors.New("statedb: row outside a table")
	}
	w.flushTable()
	b := append(w.buf, "<row"...)
	for _, a := range attrs {
		if string(a.Name) == "ref" {
			b = appendAttr(b, a)
		}
	}
	for _, a := range attrs {
		if string(a.Name) != "ref" {
			b = appendAttr(b, a)
		}
	}
	w.buf = append(b, "/>"...)
	w.maybeFlush()
	return w.err
}

// appendAttr writes a="raw". A value read from a single-quoted attribute
// may hold a literal '"', which would end the double-quoted one: it is
// written as &quot; (the same character to any XML reader).
func appendAttr(b []byte, a Attr) []byte {
	b = append(b, ' ')
	b = append(b, a.Name...)
	b = append(b, `="`...)
	raw := a.Raw
	for {
		i := bytes.IndexByte(raw, '"')
		if i < 0 {
			break
		}
		b = append(b, raw[:i]...)
		b = append(b, "&quot;"...)
		raw = raw[i+1:]
	}
	b = append(b, raw...)
	return append(b, '"')
}

func (w *Writer) maybeFlush() {
	if len(w.buf) >= flushAt {
		if w.err == nil {
			_, w.err = w.w.Write(w.buf)
		}
		w.buf = w.buf[:0] // after an error nothing more is written: do not hoard it
	}
}

// EndTable closes the current table.
func (w *Writer) EndTable() {
	if w.pending {
		w.str(`<table name="`)
		w.esc(w.table)
		w.str(`"/>`)
	} else {
		w.str("</table>")
	}
	w.pending, w.inTable = false, false
}

// Close writes </database> and flushes. It does not close the underlying
// writer.
func (w *Writer) Close() error {
	if w.inTable {
		w.EndTable()
	}
	w.str("</database>")
	if w.err == nil && len(w.buf) > 0 {
		_, w.err = w.w.Write(w.buf)
		w.buf = w.buf[:0]
	}
	return w.err
}

func (w *Writer) str(s string) {
	w.buf = append(w.buf, s...)
	w.maybeFlush()
}

func (w *Writer) esc(s string) {
	w.buf = AppendEscapeXML(w.buf, s)
	w.maybeFlush()
}

// Copy reads a database from src and writes it in xapi's form to dst: a
// file xapi wrote comes out byte-identical; an indented one comes out on one
// line. Compression is not re-applied.
func Copy(dst io.Writer, src io.Reader) error {
	r, err := NewReader(src)
	if err != nil {
		return err
	}
	w := NewWriter(dst)
	if err := w.Begin(r.Manifest()); err != nil {
		return err
	}
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return w.Close()
		}
		if err != nil {
			return err
		}
		switch ev.Kind {
		case TableStart:
			w.StartTable(ev.Table)
		case RowRead:
			if err := w.WriteRow(ev.Row.Attrs); err != nil {
				return err
			}
		case TableEnd:
			w.EndTable()
		}
	}
}
