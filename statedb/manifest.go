package statedb

import (
	"fmt"
	"strconv"
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
func (m Manifest) Generation() (int64, error) {
	v, ok := m.Get(KeyGeneration)
	if !ok {
		return 0, fmt.Errorf("missing key %s", KeyGeneration)
	}
	g, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a number", KeyGeneration, v)
	}
	return g, nil
}

func (m Manifest) int(key string) (int, error) {
	v, ok := m.Get(key)
	if !ok {
		return 0, fmt.Errorf("missing key %s", key)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s %q is not a number", key, v)
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
