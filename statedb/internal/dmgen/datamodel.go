package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/statedb"
)

// Column is one column of a table as the database stores it.
type Column struct {
	Name    string
	Type    string  // string int float bool datetime enum set map ref setref record
	Default *string // the datamodel default as the database writes it; nil: none
	Empty   string  // what xapi writes for an unset value of the type
	Persist bool
	Release string // first release the field was published in ("" unknown)
	// Relation: a field named in all_relations. Up to 6.0 the "many" side
	// of a relation is read from the other table (Db_cache read_set_ref),
	// later regenerated at start: a row never needs it.
	Relation bool
}

// Table is one datamodel object.
type Table struct {
	Name    string
	Persist bool
	Release string
	Columns []Column
}

// Model is the datamodel at one commit.
type Model struct {
	Schema   int
	Tables   []Table
	Warnings []string
	Steps    int `json:"-"` // eval calls the evaluation took
}

func datamodelOverrides() map[string]value {
	return map[string]value{
		"field":      &vBuiltin{name: "field", arity: 2, fn: fieldBuiltin},
		"namespace":  &vBuiltin{name: "namespace", arity: 0, fn: namespaceBuiltin},
		"create_obj": &vBuiltin{name: "create_obj", arity: 0, fn: createObjBuiltin},
	}
}

// labelValue returns the value of a labelled argument, unwrapping an option
// passed as ?label; ok is false when it is absent (or None).
func labelValue(lab map[string]labArg, name string) (value, bool) {
	a, ok := lab[name]
	if !ok {
		return nil, false
	}
	if a.opt {
		c, isC := a.v.(vConstr)
		if isC && c.name == "None" {
			return nil, false
		}
		if isC && c.name == "Some" {
			return c.arg, true
		}
	}
	return a.v, true
}

func fieldBuiltin(ev *evaluator, pos []value, lab map[string]labArg) (value, bool) {
	name, ok := pos[0].(vStr)
	if !ok {
		ev.warnf("%s: field with a name that is not a string (%s)", ev.file, describe(pos[0]))
		return vOpaque{"field without a name"}, true
	}
	f := &vFieldDef{name: []string{string(name)}, persist: true, ty: vConstr{name: "String"}, def: vConstr{name: "None"}}
	if v, ok := labelValue(lab, "ty"); ok {
		f.ty = v
	}
	if v, ok := labelValue(lab, "default_value"); ok {
		f.def = v
	}
	if v, ok := labelValue(lab, "persist"); ok {
		if b, ok := v.(vBool); ok {
			f.persist = bool(b)
		} else {
			ev.warnf("%s: field %s: persist is opaque", ev.file, name)
		}
	}
	if v, ok := labelValue(lab, "internal_only"); ok {
		if b, ok := v.(vBool); ok {
			f.internal = bool(b)
		}
	}
	f.release, f.removed = releaseOf(lab)
	return f, true
}

// releaseOf reads ~in_product_since or the Published entry of ~lifecycle.
func releaseOf(lab map[string]labArg) (release string, removed bool) {
	if v, ok := labelValue(lab, "in_product_since"); ok {
		if s, ok := v.(vStr); ok {
			release = string(s)
		}
	}
	if v, ok := labelValue(lab, "lifecycle"); ok {
		if l, ok := v.(vList); ok {
			for _, e := range l {
				t, ok := e.(vTuple)
				if !ok || len(t) < 2 {
					continue
				}
				st, _ := t[0].(vConstr)
				rel, _ := t[1].(vStr)
				switch st.name {
				case "Published":
					if release == "" {
						release = string(rel)
					}
				case "Removed":
					removed = true
				}
			}
		}
	}
	return release, removed
}

// nameAndContents reads the ~name and ~contents of namespace and
// create_obj; done is false until both are given.
func nameAndContents(ev *evaluator, lab map[string]labArg, what string) (name string, contents value, done bool, opaque value) {
	n, ok1 := labelValue(lab, "name")
	contents, ok2 := labelValue(lab, "contents")
	if !ok1 || !ok2 {
		return "", nil, false, nil
	}
	s, ok := n.(vStr)
	if !ok {
		ev.warnf("%s: %s with an opaque name", ev.file, what)
		return "", nil, true, vOpaque{what}
	}
	return string(s), contents, true, nil
}

func namespaceBuiltin(ev *evaluator, pos []value, lab map[string]labArg) (value, bool) {
	name, contents, done, opaque := nameAndContents(ev, lab, "namespace")
	if !done || opaque != nil {
		return opaque, done
	}
	ns := &vNamespace{name: name, contents: contents}
	if v, ok := labelValue(lab, "idempotent"); ok {
		if b, ok := v.(vBool); ok {
			ns.idempotent = bool(b)
		}
	}
	return ns, true
}

func createObjBuiltin(ev *evaluator, pos []value, lab map[string]labArg) (value, bool) {
	name, contents, done, opaque := nameAndContents(ev, lab, "create_obj")
	if !done || opaque != nil {
		return opaque, done
	}
	o := &vObject{name: name, contents: contents, file: ev.file}
	if v, ok := labelValue(lab, "persist"); ok {
		if c, ok := v.(vConstr); ok {
			o.persist = c.name
		}
	}
	o.release, _ = releaseOf(lab)
	return o, true
}

// objectOf accepts create_obj's result or an object written as a record.
func objectOf(v value) (*vObject, bool) {
	switch v := v.(type) {
	case *vObject:
		return v, true
	case vRecord:
		n, ok1 := v.fields["name"].(vStr)
		c, ok2 := v.fields["contents"]
		if !ok1 || !ok2 {
			return nil, false
		}
		o := &vObject{name: string(n), contents: c}
		if p, ok := v.fields["persist"].(vConstr); ok {
			o.persist = p.name
		}
		if r, ok := v.fields["obj_release"].(vRecord); ok {
			// get_product_releases: "closed" then the releases from the
			// first one on
			if l, ok := r.fields["internal"].(vList); ok {
				for _, x := range l {
					if s, ok := x.(vStr); ok && s != "closed" {
						o.release = string(s)
						break
					}
				}
			}
		}
		return o, true
	}
	return nil, false
}

// buildModel evaluates all_system of the Datamodel module.
func buildModel(ev *evaluator, dm *vModule) (*Model, error) {
	t, ok := ev.lookupVar(dm.env, "all_system")
	if !ok {
		return nil, fmt.Errorf("no all_system in the datamodel")
	}
	all, ok := ev.force(t).(vList)
	if !ok {
		return nil, fmt.Errorf("all_system is not a list")
	}
	m := &Model{}
	if t, ok := ev.lookupVar(dm.env, "schema_minor_vsn"); ok {
		if n, ok := ev.force(t).(vInt); ok {
			m.Schema = int(n)
		}
	}
	related := map[[2]string]bool{}
	if t, ok := ev.lookupVar(dm.env, "all_relations"); ok {
		rels, ok := ev.force(t).(vList)
		if !ok {
			ev.warnf("all_relations is not a list")
		}
		for _, r := range rels {
			pair, ok := r.(vTuple)
			if !ok || len(pair) != 2 {
				ev.warnf("all_relations: an element is not a pair (%s)", describe(r))
				continue
			}
			for _, end := range pair {
				e, ok := end.(vTuple)
				if !ok || len(e) != 2 {
					ev.warnf("all_relations: an end is not (class, field) (%s)", describe(end))
					continue
				}
				cls, ok1 := e[0].(vStr)
				fld, ok2 := e[1].(vStr)
				if ok1 && ok2 {
					related[[2]string{string(cls), string(fld)}] = true
				}
			}
		}
	}
	seen := map[string]bool{}
	for i, x := range all {
		o, ok := objectOf(x)
		if !ok {
			ev.warnf("all_system element %d is not an object (%s)", i, describe(x))
			continue
		}
		if seen[o.name] {
			continue
		}
		seen[o.name] = true
		tb := Table{Name: o.name, Persist: o.persist != "PersistNothing", Release: o.release}
		var fields []*vFieldDef
		ev.flatten(o.name, o.contents, nil, &fields)
		tb.Columns = append(tb.Columns, Column{Name: "_ref", Type: "string", Persist: true, Release: o.release})
		cols := map[string]bool{"_ref": true}
		for _, f := range fields {
			c := Column{Name: strings.Join(f.name, "__"), Persist: f.persist, Release: f.release, Relation: related[[2]string{o.name, strings.Join(f.name, "__")}]}
			if cols[c.Name] {
				continue // a field given twice: the schema has one column
			}
			cols[c.Name] = true
			c.Type, c.Empty = typeOf(f.ty)
			if c.Type == "" {
				ev.warnf("%s.%s: opaque type (%s)", o.name, c.Name, describe(f.ty))
			}
			if d, ok := f.def.(vConstr); ok && d.name == "Some" {
				if s, ok := toDB(d.arg); ok {
					c.Default = &s
				} else {
					ev.warnf("%s.%s: default not evaluated (%s)", o.name, c.Name, describe(d.arg))
				}
			} else if !ok {
				ev.warnf("%s.%s: default_value is opaque (%s)", o.name, c.Name, describe(f.def))
			}
			tb.Columns = append(tb.Columns, c)
		}
		sort.Slice(tb.Columns, func(i, j int) bool { return tb.Columns[i].Name < tb.Columns[j].Name })
		m.Tables = append(m.Tables, tb)
	}
	sort.Slice(m.Tables, func(i, j int) bool { return m.Tables[i].Name < m.Tables[j].Name })
	m.Warnings = ev.warnings
	return m, nil
}

// typeOf classifies a datamodel type and gives the empty value
// Datamodel_values.gen_empty_db_val writes for it.
func typeOf(ty value) (class, empty string) {
	c, ok := ty.(vConstr)
	if !ok {
		return "", ""
	}
	switch c.name {
	case "String", "SecretString":
		return "string", ""
	case "Int":
		return "int", "0"
	case "Float":
		return "float", ocamlFloat(0)
	case "Bool":
		return "bool", "false"
	case "DateTime":
		return "datetime", epoch
	case "Enum":
		// Enum (name, [(value, doc); ...]): the first value
		if t, ok := c.arg.(vTuple); ok && len(t) == 2 {
			if l, ok := t[1].(vList); ok && len(l) > 0 {
				if v, ok := l[0].(vTuple); ok && len(v) == 2 {
					if s, ok := v[0].(vStr); ok {
						return "enum", string(s)
					}
				}
			}
		}
		return "enum", ""
	case "Set":
		if r, ok := c.arg.(vConstr); ok && r.name == "Ref" {
			return "setref", "()"
		}
		return "set", "()"
	case "Map":
		return "map", "()"
	case "Ref":
		return "ref", "OpaqueRef:NULL"
	case "Record":
		return "record", ""
	case "Option":
		return "option", ""
	}
	return "", ""
}

// epoch is Date.never / Date.epoch as the database writes it.
const epoch = "19700101T00:00:00Z"

// ocamlFloat is string_of_float: "%.12g", and a "." when that looks like
// an integer.
func ocamlFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return map[bool]string{true: "inf", false: "-inf"}[f > 0]
	}
	s := strconv.FormatFloat(f, 'g', 12, 64)
	if !strings.ContainsAny(s, ".e") {
		s += "."
	}
	return s
}

// toDB is Datamodel_values.to_db_string / to_db.
func toDB(v value) (string, bool) {
	c, ok := v.(vConstr)
	if !ok {
		return "", false
	}
	switch c.name {
	case "VString", "VEnum", "VRef":
		s, ok := c.arg.(vStr)
		return string(s), ok
	case "VInt":
		n, ok := c.arg.(vInt)
		return strconv.FormatInt(int64(n), 10), ok
	case "VFloat":
		switch f := c.arg.(type) {
		case vFloat:
			return ocamlFloat(float64(f)), true
		case vInt:
			return ocamlFloat(float64(f)), true
		}
		return "", false
	case "VBool":
		b, ok := c.arg.(vBool)
		return strconv.FormatBool(bool(b)), ok
	case "VDateTime":
		s, ok := c.arg.(vStr)
		return string(s), ok
	case "VCustom":
		// VCustom (code, v): xapi computes the value with code on upgrade;
		// the database default is v
		if t, ok := c.arg.(vTuple); ok && len(t) == 2 {
			return toDB(t[1])
		}
		return "", false
	case "VSet":
		l, ok := c.arg.(vList)
		if !ok {
			return "", false
		}
		var items []string
		for _, x := range l {
			s, ok := toDB(x)
			if !ok {
				return "", false
			}
			items = append(items, s)
		}
		return statedb.EncodeSet(items), true
	case "VMap":
		l, ok := c.arg.(vList)
		if !ok {
			return "", false
		}
		var pairs []statedb.Pair
		for _, x := range l {
			t, ok := x.(vTuple)
			if !ok || len(t) != 2 {
				return "", false
			}
			k, ok1 := toDB(t[0])
			v, ok2 := toDB(t[1])
			if !ok1 || !ok2 {
				return "", false
			}
			pairs = append(pairs, statedb.Pair{Key: k, Value: v})
		}
		return statedb.EncodeMap(pairs), true
	}
	return "", false
}

func init() {
	builtins["Date.never"] = vStr(epoch)
	builtins["Date.epoch"] = vStr(epoch)
	builtins["Date.of_float"] = &vBuiltin{name: "Date.of_float", arity: 1, fn: func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		if f, ok := pos[0].(vFloat); ok && f == 0 {
			return vStr(epoch), true
		}
		return vOpaque{"Date.of_float"}, true
	}}
	builtins["Int64.of_int"] = &vBuiltin{name: "Int64.of_int", arity: 1, fn: func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		return pos[0], true
	}}
	for _, op := range []string{"Int64.mul", "Int64.add", "Int64.sub", "Int64.div"} {
		op := op
		builtins[op] = &vBuiltin{name: op, arity: 2, fn: func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
			a, ok1 := pos[0].(vInt)
			b, ok2 := pos[1].(vInt)
			if !ok1 || !ok2 {
				return vOpaque{op}, true
			}
			switch op {
			case "Int64.mul":
				return a * b, true
			case "Int64.add":
				return a + b, true
			case "Int64.sub":
				return a - b, true
			}
			if b == 0 {
				return vOpaque{op}, true
			}
			return a / b, true
		}}
	}
	builtins["float_of_int"] = &vBuiltin{name: "float_of_int", arity: 1, fn: func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		if n, ok := pos[0].(vInt); ok {
			return vFloat(n), true
		}
		return vOpaque{"float_of_int"}, true
	}}
	builtins["Int64.zero"] = vInt(0)
	builtins["Ref.null"] = vStr("OpaqueRef:NULL")
	builtins["Ref.string_of"] = &vBuiltin{name: "Ref.string_of", arity: 1, fn: func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		return pos[0], true
	}}
	builtins["Int64.one"] = vInt(1)
	builtins["Int64.minus_one"] = vInt(-1)
}
