package vdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrMalformed marks bytes that are not a well-formed packed nvlist, label
// or uberblock.
var ErrMalformed = errors.New("malformed")

// DataType is the nvpair value type (include/sys/nvpair.h).
type DataType uint32

// The nvpair data types that the decoder understands.
const (
	TypeBoolean      DataType = 1
	TypeByte         DataType = 2
	TypeInt16        DataType = 3
	TypeUint16       DataType = 4
	TypeInt32        DataType = 5
	TypeUint32       DataType = 6
	TypeInt64        DataType = 7
	TypeUint64       DataType = 8
	TypeString       DataType = 9
	TypeByteArray    DataType = 10
	TypeInt16Array   DataType = 11
	TypeUint16Array  DataType = 12
	TypeInt32Array   DataType = 13
	TypeUint32Array  DataType = 14
	TypeInt64Array   DataType = 15
	TypeUint64Array  DataType = 16
	TypeStringArray  DataType = 17
	TypeHRTime       DataType = 18
	TypeNVList       DataType = 19
	TypeNVListArray  DataType = 20
	TypeBooleanValue DataType = 21
	TypeInt8         DataType = 22
	TypeUint8        DataType = 23
	TypeBooleanArray DataType = 24
	TypeInt8Array    DataType = 25
	TypeUint8Array   DataType = 26
	TypeDouble       DataType = 27
)

// maxNVDepth bounds embedded nvlists; real labels nest three deep
// (label → vdev_tree → children), upstream allows 20.
const maxNVDepth = 20

// Pair is one decoded name/value pair. Value holds, by type: true for
// BOOLEAN; int64 for signed scalars; uint64 for unsigned scalars, BYTE and
// HRTIME; bool for BOOLEAN_VALUE; float64 for DOUBLE; string; []byte;
// []int64, []uint64, []bool and []string for arrays; *NVList and []*NVList.
// Pairs of a type the decoder does not know keep Value nil.
type Pair struct {
	Name  string
	Type  DataType
	Value any
}

// NVList is a decoded nvlist in on-disk pair order.
type NVList struct {
	Pairs []Pair
}

// Lookup returns the first pair called name.
func (l *NVList) Lookup(name string) (Pair, bool) {
	if l == nil {
		return Pair{}, false
	}
	for _, p := range l.Pairs {
		if p.Name == name {
			return p, true
		}
	}
	return Pair{}, false
}

// Uint64 returns an unsigned scalar value.
func (l *NVList) Uint64(name string) (uint64, bool) {
	p, ok := l.Lookup(name)
	if !ok {
		return 0, false
	}
	v, ok := p.Value.(uint64)
	return v, ok
}

// String returns a string value.
func (l *NVList) String(name string) (string, bool) {
	p, ok := l.Lookup(name)
	if !ok {
		return "", false
	}
	v, ok := p.Value.(string)
	return v, ok
}

// List returns an embedded nvlist.
func (l *NVList) List(name string) (*NVList, bool) {
	p, ok := l.Lookup(name)
	if !ok {
		return nil, false
	}
	v, ok := p.Value.(*NVList)
	return v, ok
}

// Lists returns an nvlist array.
func (l *NVList) Lists(name string) ([]*NVList, bool) {
	p, ok := l.Lookup(name)
	if !ok {
		return nil, false
	}
	v, ok := p.Value.([]*NVList)
	return v, ok
}

// DecodeNVList decodes a packed nvlist: the 4-byte stream header (encoding
// must be XDR) followed by the list. Trailing bytes after the list (the rest
// of a label's 112 KiB block) are ignored. Errors name the byte offset.
func DecodeNVList(b []byte) (*NVList, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("nvlist offset 0: %d bytes, need a 4-byte header: %w", len(b), ErrMalformed)
	}
	if b[0] != 1 {
		return nil, fmt.Errorf("nvlist offset 0: encoding %d, want 1 (XDR): %w", b[0], ErrMalformed)
	}
	if b[1] > 1 {
		return nil, fmt.Errorf("nvlist offset 1: endian byte %d, want 0 or 1: %w", b[1], ErrMalformed)
	}
	d := &xdrDecoder{b: b, off: 4}
	return d.list(0)
}

// xdrDecoder reads big-endian XDR items; every read is checked against the
// bytes left (the end of the enclosing pair, or of the buffer).
type xdrDecoder struct {
	b   []byte
	off int
}

func (d *xdrDecoder) errf(off int, format string, args ...any) error {
	return fmt.Errorf("nvlist offset %d: %s: %w", off, fmt.Sprintf(format, args...), ErrMalformed)
}

func (d *xdrDecoder) left() int { return len(d.b) - d.off }

func (d *xdrDecoder) u32() (uint32, error) {
	if d.left() < 4 {
		return 0, d.errf(d.off, "truncated (need 4 bytes, %d left)", d.left())
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *xdrDecoder) u64() (uint64, error) {
	if d.left() < 8 {
		return 0, d.errf(d.off, "truncated (need 8 bytes, %d left)", d.left())
	}
	v := binary.BigEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v, nil
}

// opaque reads n bytes padded to a multiple of 4.
func (d *xdrDecoder) opaque(n uint32) ([]byte, error) {
	padded := (uint64(n) + 3) &^ 3
	if padded > uint64(d.left()) {
		return nil, d.errf(d.off, "length %d exceeds the %d bytes left", n, d.left())
	}
	v := d.b[d.off : d.off+int(n)]
	d.off += int(padded)
	return v, nil
}

func (d *xdrDecoder) str() (string, error) {
	n, err := d.u32()
	if err != nil {
		return "", err
	}
	b, err := d.opaque(n)
	return string(b), err
}

// list decodes an nvlist body: version, flags, pairs, 8-byte terminator.
func (d *xdrDecoder) list(depth int) (*NVList, error) {
	if depth > maxNVDepth {
		return nil, d.errf(d.off, "nvlists nested deeper than %d", maxNVDepth)
	}
	start := d.off
	version, err := d.u32()
	if err != nil {
		return nil, err
	}
	if version != 0 {
		return nil, d.errf(start, "nvlist version %d, want 0", int32(version))
	}
	if _, err := d.u32(); err != nil { // nvflag: uniqueness rules, irrelevant to a reader
		return nil, err
	}
	l := &NVList{}
	for {
		pairStart := d.off
		encSize, err := d.u32()
		if err != nil {
			return nil, err
		}
		decSize, err := d.u32()
		if err != nil {
			return nil, err
		}
		if encSize == 0 && decSize == 0 {
			return l, nil
		}
		if encSize < 8 || encSize%4 != 0 || uint64(encSize) > uint64(len(d.b)-pairStart) {
			return nil, d.errf(pairStart, "pair size %d is not a multiple of 4 within the %d bytes left", encSize, len(d.b)-pairStart)
		}
		end := pairStart + int(encSize)
		p, err := (&xdrDecoder{b: d.b[:end], off: d.off}).pair(depth)
		if err != nil {
			return nil, err
		}
		l.Pairs = append(l.Pairs, p)
		d.off = end
	}
}

// pair decodes name, type, element count and value; the decoder's buffer
// ends where the pair's encoded size says it does.
func (d *xdrDecoder) pair(depth int) (Pair, error) {
	var p Pair
	var err error
	if p.Name, err = d.str(); err != nil {
		return p, err
	}
	t, err := d.u32()
	if err != nil {
		return p, err
	}
	p.Type = DataType(t)
	nelemAt := d.off
	nelem, err := d.u32()
	if err != nil {
		return p, err
	}
	switch p.Type {
	case TypeBoolean:
		p.Value = true
	case TypeByte, TypeUint8, TypeUint16, TypeUint32:
		v, err := d.u32()
		if err != nil {
			return p, err
		}
		p.Value = uint64(v)
	case TypeInt8, TypeInt16, TypeInt32:
		v, err := d.u32()
		if err != nil {
			return p, err
		}
		p.Value = int64(int32(v))
	case TypeBooleanValue:
		v, err := d.u32()
		if err != nil {
			return p, err
		}
		p.Value = v != 0
	case TypeUint64, TypeHRTime:
		if p.Value, err = d.u64(); err != nil {
			return p, err
		}
	case TypeInt64:
		v, err := d.u64()
		if err != nil {
			return p, err
		}
		p.Value = int64(v)
	case TypeDouble:
		v, err := d.u64()
		if err != nil {
			return p, err
		}
		p.Value = math.Float64frombits(v)
	case TypeString:
		if p.Value, err = d.str(); err != nil {
			return p, err
		}
	case TypeByteArray:
		b, err := d.opaque(nelem)
		if err != nil {
			return p, err
		}
		p.Value = append([]byte(nil), b...)
	case TypeInt8Array, TypeInt16Array, TypeInt32Array, TypeUint8Array, TypeUint16Array, TypeUint32Array,
		TypeBooleanArray, TypeInt64Array, TypeUint64Array:
		if p.Value, err = d.intArray(p.Type, nelem, nelemAt); err != nil {
			return p, err
		}
	case TypeStringArray:
		if uint64(nelem)*4 > uint64(d.left()) {
			return p, d.errf(nelemAt, "%d strings cannot fit in %d bytes", nelem, d.left())
		}
		v := make([]string, 0, nelem)
		for range nelem {
			s, err := d.str()
			if err != nil {
				return p, err
			}
			v = append(v, s)
		}
		p.Value = v
	case TypeNVList:
		if p.Value, err = d.list(depth + 1); err != nil {
			return p, err
		}
	case TypeNVListArray:
		// An empty embedded nvlist is 16 bytes: version, flags, terminator.
		if uint64(nelem)*16 > uint64(d.left()) {
			return p, d.errf(nelemAt, "%d nvlists cannot fit in %d bytes", nelem, d.left())
		}
		v := make([]*NVList, 0, nelem)
		for range nelem {
			l, err := d.list(depth + 1)
			if err != nil {
				return p, err
			}
			v = append(v, l)
		}
		p.Value = v
	}
	return p, nil
}

// intArray decodes an XDR array: a count that must equal nelem, then 4-byte
// elements (8-byte for the 64-bit types).
func (d *xdrDecoder) intArray(t DataType, nelem uint32, nelemAt int) (any, error) {
	countAt := d.off
	count, err := d.u32()
	if err != nil {
		return nil, err
	}
	if count != nelem {
		return nil, d.errf(countAt, "array count %d, pair says %d elements", count, nelem)
	}
	size := uint64(4)
	if t == TypeInt64Array || t == TypeUint64Array {
		size = 8
	}
	if uint64(count)*size > uint64(d.left()) {
		return nil, d.errf(nelemAt, "%d elements of %d bytes cannot fit in %d bytes", count, size, d.left())
	}
	switch t {
	case TypeBooleanArray:
		v := make([]bool, count)
		for i := range v {
			x, _ := d.u32()
			v[i] = x != 0
		}
		return v, nil
	case TypeInt8Array, TypeInt16Array, TypeInt32Array:
		v := make([]int64, count)
		for i := range v {
			x, _ := d.u32()
			v[i] = int64(int32(x))
		}
		return v, nil
	case TypeInt64Array:
		v := make([]int64, count)
		for i := range v {
			x, _ := d.u64()
			v[i] = int64(x)
		}
		return v, nil
	case TypeUint64Array:
		v := make([]uint64, count)
		for i := range v {
			v[i], _ = d.u64()
		}
		return v, nil
	default:
		v := make([]uint64, count)
		for i := range v {
			x, _ := d.u32()
			v[i] = uint64(x)
		}
		return v, nil
	}
}
