package statedb

import (
	"errors"
	"fmt"
	"math/bits"
)

// Manifest keys (xen-api db_xml.ml, f77e728883 and 2fc836f7eb).
const (
	KeySchemaMajor = "schema_major_vsn"
	KeySchemaMinor = "schema_minor_vsn"
	KeyGeneration  = "generation_count"
)

// OldManifestKeys are the 12 pairs xapi up to XS 5.6 FP1 (schema 61) writes
// and requires, in the order it writes them: the old reader looks every one
// up and fails on a missing key.
var OldManifestKeys = []string{
	"installation_uuid", "control_domain_uuid", "pool_conf", "pool_token",
	KeySchemaMajor, KeySchemaMinor, "product_version", "product_brand",
	"build_number", "xapi_major_vsn", "xapi_minor_vsn", KeyGeneration,
}

// NewManifestKeys are the 3 pairs of the current form (XS 6.0, schema 63, on).
var NewManifestKeys = []string{KeySchemaMajor, KeySchemaMinor, KeyGeneration}

// Pair is one manifest entry, XML-decoded (manifest values are not
// space-protected).
type Pair struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Manifest is the <manifest> element in file order.
type Manifest struct {
	Pairs []Pair
}

// Get returns the value of key.
func (m Manifest) Get(key string) (string, bool) {
	for _, p := range m.Pairs {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Map returns the pairs as a map (for JSON).
func (m Manifest) Map() map[string]string {
	out := make(map[string]string, len(m.Pairs))
	for _, p := range m.Pairs {
		out[p.Key] = p.Value
	}
	return out
}

// Schema returns schema_major_vsn and schema_minor_vsn.
func (m Manifest) Schema() (major, minor int, err error) {
	if major, err = m.int(KeySchemaMajor); err != nil {
		return 0, 0, err
	}
	minor, err = m.int(KeySchemaMinor)
	return major, minor, err
}

// Generation returns generation_count.
func (m Manifest) Generation() (int64, error) { return m.number(KeyGeneration, 64) }

func (m Manifest) int(key string) (int, error) {
	n, err := m.number(key, 63)
	switch {
	case err != nil:
		return 0, err
	case n < 0:
		// int_of_string takes it; what xapi then does with a negative
		// schema was not looked at
		return 0, fmt.Errorf("%s %d is negative: not a schema xsrescue can judge", key, n)
	case n > 1<<30-1:
		// the OCaml int of a 32-bit dom0 (XenServer up to 6.5) has 31 bits
		return 0, fmt.Errorf("%s %d is beyond 2^30-1: a 32-bit xapi (XenServer up to 6.5) refuses it, a 64-bit one reads it; not a schema xsrescue can judge", key, n)
	}
	return int(n), nil
}

// number reads a manifest value as xapi does: xmlm strips the attribute
// value's blanks (p_attr_value), then int_of_string (bits 63) or
// Int64.of_string (bits 64) converts it (db_xml.ml From.cache,
// From.database). A missing key or a value OCaml refuses is an
// ErrXapiRefuses: xapi does not load the file.
func (m Manifest) number(key string, bits int) (int64, error) {
	v, ok := m.Get(key)
	if !ok {
		return 0, fmt.Errorf("missing key %s (List.assoc raises Not_found: %w)", key, ErrXapiRefuses)
	}
	n, err := ParseOCamlInt(XMLMRead(v), bits)
	if err != nil {
		return 0, fmt.Errorf("%s %q is %w", key, v, err)
	}
	return n, nil
}

// ErrXapiRefuses is matched (errors.Is) by a manifest error xapi itself
// fails on: a missing key, a value OCaml's int_of_string refuses.
var ErrXapiRefuses = errors.New("xapi does not load it")

// ParseOCamlInt converts s exactly as OCaml's int_of_string (bits 63, a
// 64-bit host) or Int64.of_string (bits 64) does (runtime ints.c
// parse_sign_and_base, parse_intnat, caml_int64_of_string; the same in
// OCaml 3.x and 4.x for what is accepted here): an optional -, then
// 0x/0X, 0o/0O or 0b/0B (or decimal), a digit, then digits and underscores
// anywhere; decimal must fit the signed range, the other bases the
// unsigned one (2^bits - 1 at most, wrapping to negative). No blank is
// allowed. A + sign and the 0u prefix are refused as unknown: only later
// OCaml releases read them.
func ParseOCamlInt(s string, nbits int) (int64, error) {
	bad := func() (int64, error) {
		return 0, fmt.Errorf("not a number for OCaml's %s (%w)", map[int]string{63: "int_of_string", 64: "Int64.of_string"}[nbits], ErrXapiRefuses)
	}
	p := s
	neg := false
	switch {
	case p != "" && p[0] == '-':
		neg, p = true, p[1:]
	case p != "" && p[0] == '+':
		// the runtime of OCaml 3.x and 4.0x (parse_sign_and_base) knows
		// only '-'; which release added '+' was not looked up
		return 0, errors.New("written with a + sign, which OCaml reads only from some release on: whether this xapi reads it is unknown")
	}
	base := uint64(10)
	if len(p) >= 2 && p[0] == '0' {
		switch p[1] {
		case 'x', 'X':
			base, p = 16, p[2:]
		case 'o', 'O':
			base, p = 8, p[2:]
		case 'b', 'B':
			base, p = 2, p[2:]
		case 'u', 'U':
			return 0, errors.New("written with the 0u prefix, which OCaml reads only from some release on: whether this xapi reads it is unknown")
		}
	}
	digit := func(c byte) uint64 {
		switch {
		case c >= '0' && c <= '9':
			return uint64(c - '0')
		case c >= 'a' && c <= 'z':
			return uint64(c-'a') + 10
		case c >= 'A' && c <= 'Z':
			return uint64(c-'A') + 10
		}
		return 99
	}
	if p == "" || digit(p[0]) >= base {
		return bad()
	}
	var res uint64
	for i := 0; i < len(p); i++ {
		if p[i] == '_' {
			continue
		}
		d := digit(p[i])
		if d >= base {
			return bad()
		}
		hi, lo := bits.Mul64(res, base)
		if hi != 0 || lo+d < lo {
			return bad()
		}
		res = lo + d
	}
	limit := uint64(1) << (nbits - 1)
	switch {
	case base == 10 && !neg && res >= limit, base == 10 && neg && res > limit:
		return bad()
	case base != 10 && nbits < 64 && res >= uint64(1)<<nbits:
		return bad()
	}
	if base != 10 && nbits == 63 && res >= limit {
		res |= 1 << 63 // OCaml's 63-bit int wraps: 0x7fff_ffff_ffff_ffff is -1
	}
	n := int64(res)
	if neg {
		n = -n
	}
	return n, nil
}

// OldForm reports whether the manifest has the 12-pair layout.
func (m Manifest) OldForm() bool {
	_, ok := m.Get("installation_uuid")
	return ok || len(m.Pairs) > len(NewManifestKeys)
}

// MissingOldKeys lists the old-form keys a ≤ 5.6 FP1 xapi would not find.
func (m Manifest) MissingOldKeys() []string {
	var out []string
	for _, k := range OldManifestKeys {
		if _, ok := m.Get(k); !ok {
			out = append(out, k)
		}
	}
	return out
}

// check validates what every xapi reader needs: the three current keys, as
// numbers.
func (m Manifest) check() error {
	if _, _, err := m.Schema(); err != nil {
		return err
	}
	_, err := m.Generation()
	return err
}
