package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/statedb"
	"github.com/xsrescue/xsrescue/versionfile"
	"github.com/xsrescue/xsrescue/zfsroot/vdev"
)

// TestSchemasMatchGoTypes: every report schema describes the Go type its
// command encodes, not one sample of it. A key the type always emits is
// required, an omitempty one is not; every key of the type is described;
// the schema's type admits the Go one (a null-only "type" fits a sample
// whose value happened to be null); a Go map is a map (additionalProperties),
// never the keys one sample had; a Go slice says what its items are; null
// only where the Go value can be nil.
// Whether a pointer, slice or map is ever nil is not decided here: that is
// the code's promise (docs/json.md), checked by the real outputs
// (checkDocument). The error schema is written by hand, stricter than
// its type, and is left to the real outputs.
func TestSchemasMatchGoTypes(t *testing.T) {
	roots := []struct {
		kind string
		at   func(s map[string]any) any // the part of the schema describing doc
		doc  any
	}{
		{"demo", nil, demoDoc{}},
		{"disk-inspect", nil, partition.Disk{}},
		{"doctor", nil, doctorDoc{}},
		{"guest-check", nil, guestCheckDoc{}},
		{"journal-list", nil, journalListDoc{}},
		{"journal-show", nil, journalShowDoc{}},
		{"odm-ghosts", nil, odmGhostsDoc{}},
		{"statedb-check", nil, statedbCheckDoc{}},
		{"statedb-diff", nil, statedb.Diff{}},
		{"statedb-show", nil, statedbShowDoc{}},
		{"version", nil, versionInfo{}},
		{"version-find", nil, findDoc{}},
		{"version-show", nil, versionfile.ShowReport{}},
		{"zfs-labels", func(s map[string]any) any { return s["$defs"].(map[string]any)["member"] }, vdev.MemberReport{}},
		{"zfs-labels", func(s map[string]any) any { return s["oneOf"].([]any)[1] }, zfsMembersDoc{}},
		{"zone-list", nil, zoneListDoc{}},
		{"zone-publishers", nil, publishersDoc{}},
		{"mutation", nil, mutationDoc{}},
	}
	covered := map[string]bool{"error": true}
	for _, r := range roots {
		covered[r.kind] = true
		t.Run(r.kind+" "+reflect.TypeOf(r.doc).String(), func(t *testing.T) {
			c := &typeCheck{files: map[string]map[string]any{}}
			root := c.file(t, r.kind+".schema.json")
			var s any = root
			if r.at != nil {
				s = r.at(root)
			}
			c.check(t, reflect.TypeOf(r.doc), s, root, "", map[reflect.Type]bool{})
			for _, p := range c.problems {
				t.Errorf("docs/schema/%s.schema.json: %s", r.kind, p)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
	for _, f := range files {
		if k := strings.TrimSuffix(filepath.Base(f), ".schema.json"); !covered[k] {
			t.Errorf("docs/schema/%s.schema.json: no Go type to check it against (add it to the table)", k)
		}
	}
}

type typeCheck struct {
	files    map[string]map[string]any
	problems []string
}

func (c *typeCheck) file(t *testing.T, name string) map[string]any {
	if s, ok := c.files[name]; ok {
		return s
	}
	b, err := os.ReadFile(filepath.Join(schemaDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c.files[name] = s
	return s
}

func (c *typeCheck) fail(path, format string, args ...any) {
	if path == "" {
		path = "/"
	}
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

// resolve follows a "$ref" within the schema's own file ("#/$defs/x")
// or to another one ("error.schema.json#/$defs/error"); root is the file
// the result is in.
func (c *typeCheck) resolve(tb *testing.T, s any, root map[string]any) (map[string]any, map[string]any) {
	m, _ := s.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			break
		}
		file, def, _ := strings.Cut(ref, "#")
		if file != "" {
			root = c.file(tb, file)
		}
		defs, _ := root["$defs"].(map[string]any)
		m, _ = defs[strings.TrimPrefix(def, "/$defs/")].(map[string]any)
	}
	return m, root
}

// localRef follows a "$ref" within the file (oneOf/anyOf alternatives).
func localRef(s any, root map[string]any) map[string]any {
	m, _ := s.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/$defs/") {
			break
		}
		defs, _ := root["$defs"].(map[string]any)
		m, _ = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
	}
	return m
}

// jsonTypes are the JSON types s admits, through oneOf/anyOf, enum and const.
func jsonTypes(s map[string]any, root map[string]any) []string {
	var ts []string
	switch t := s["type"].(type) {
	case string:
		ts = append(ts, t)
	case []any:
		for _, x := range t {
			ts = append(ts, x.(string))
		}
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		alts, _ := s[k].([]any)
		for _, a := range alts {
			if m := localRef(a, root); m != nil {
				ts = append(ts, jsonTypes(m, root)...)
			}
		}
	}
	values, _ := s["enum"].([]any)
	if c, ok := s["const"]; ok {
		values = append(values, c)
	}
	for _, v := range values {
		switch v.(type) {
		case float64:
			ts = append(ts, "integer")
		case string:
			ts = append(ts, "string")
		case bool:
			ts = append(ts, "boolean")
		case nil:
			ts = append(ts, "null")
		}
	}
	return ts
}

// branch is the alternative of s (oneOf/anyOf) that admits want, or s.
func branch(s map[string]any, root map[string]any, want string) map[string]any {
	for _, k := range []string{"oneOf", "anyOf"} {
		alts, _ := s[k].([]any)
		for _, a := range alts {
			if m := localRef(a, root); m != nil && slices.Contains(jsonTypes(m, root), want) {
				return branch(m, root, want)
			}
		}
	}
	return s
}

// jsonKind is the JSON type encoding/json writes for t (pointers aside).
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return "" // an interface: anything
}

func (c *typeCheck) check(tb *testing.T, t reflect.Type, raw any, root map[string]any, path string, seen map[reflect.Type]bool) {
	s, root := c.resolve(tb, raw, root)
	if s == nil {
		c.fail(path, "no schema for Go %s", t)
		return
	}
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	want := jsonKind(t)
	if want == "" {
		return
	}
	ts := jsonTypes(s, root)
	switch {
	case len(ts) == 0:
		c.fail(path, "no type (Go %s encodes as %s)", t, want)
		return
	case !slices.Contains(ts, want) && !(want == "integer" && slices.Contains(ts, "number")):
		c.fail(path, "type %v does not admit Go %s (%s)", ts, t, want)
		return
	}
	if k := t.Kind(); slices.Contains(ts, "null") && !nullable && k != reflect.Slice && k != reflect.Map {
		c.fail(path, "admits null, which Go %s never encodes", t)
	}
	s = branch(s, root, want)
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if s["items"] == nil {
			c.fail(path, "array without items (Go %s)", t)
			return
		}
		c.check(tb, t.Elem(), s["items"], root, path+"/[]", seen)
	case reflect.Map:
		if p, _ := s["properties"].(map[string]any); len(p) > 0 {
			c.fail(path, "Go %s is a map: its keys are data, not the fixed properties %v", t, slices.Sorted(maps.Keys(p)))
		}
		if r, _ := s["required"].([]any); len(r) > 0 {
			c.fail(path, "Go %s is a map: no key is required (%v)", t, r)
		}
		if s["additionalProperties"] == nil {
			c.fail(path, "Go %s is a map: describe its values with additionalProperties", t)
			return
		}
		c.check(tb, t.Elem(), s["additionalProperties"], root, path+"/*", seen)
	case reflect.Struct:
		if t.String() == "time.Time" || seen[t] {
			return
		}
		seen[t] = true
		defer delete(seen, t)
		props, _ := s["properties"].(map[string]any)
		var required []string
		if r, _ := s["required"].([]any); r != nil {
			for _, x := range r {
				required = append(required, x.(string))
			}
		}
		fields := jsonFields(t)
		for _, f := range fields {
			fp := path + "/" + f.name
			switch {
			case props[f.name] == nil:
				c.fail(fp, "key of Go %s.%s not described", t, f.goName)
				continue
			case f.omitEmpty && slices.Contains(required, f.name):
				c.fail(fp, "required, but Go %s.%s is omitempty", t, f.goName)
			case !f.omitEmpty && !slices.Contains(required, f.name):
				c.fail(fp, "always emitted by Go %s.%s: required", t, f.goName)
			}
			c.check(tb, f.typ, props[f.name], root, fp, seen)
		}
		if m := props["mounted"]; path == "" && m != nil {
			// Added to every read-only document by env.emit (withMounts).
			c.check(tb, reflect.TypeOf([]partition.Mount{}), m, root, "/mounted", seen)
		}
		for name := range props {
			if !slices.ContainsFunc(fields, func(f jsonField) bool { return f.name == name }) && !(path == "" && (name == "schema_version" || name == "mounted")) {
				c.fail(path+"/"+name, "described, but Go %s has no such key", t)
			}
		}
	}
}

type jsonField struct {
	name, goName string
	typ          reflect.Type
	omitEmpty    bool
}

// jsonFields are the keys encoding/json writes for struct t: its own
// fields first, then those of embedded structs its own do not shadow.
func jsonFields(t reflect.Type) []jsonField {
	var own, promoted []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				promoted = append(promoted, jsonFields(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.Contains(opts, "string") {
			ft = reflect.TypeFor[string]()
		}
		own = append(own, jsonField{name: name, goName: f.Name, typ: ft, omitEmpty: strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")})
	}
	for _, p := range promoted {
		if !slices.ContainsFunc(own, func(f jsonField) bool { return f.name == p.name }) {
			own = append(own, p)
		}
	}
	return own
}
