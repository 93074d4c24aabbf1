package main

import (
	"fmt"
	"sort"
	"strings"
)

// The evaluator runs just enough of the datamodel to get, for every object
// (table), its fields (columns): field/namespace/create_obj are built in
// (their results are what the datamodel makes of them, without the
// documentation and roles), everything else is evaluated from the source.
// Whatever it cannot evaluate becomes an opaque value; an opaque value where
// a field was expected is reported, so that a gap in the evaluator cannot
// silently drop a column.

type value interface{}

type (
	vStr    string
	vInt    int64
	vFloat  float64
	vBool   bool
	vUnit   struct{}
	vList   []value
	vTuple  []value
	vConstr struct {
		name string
		arg  value // nil without argument
	}
	vRecord struct {
		fields map[string]value
	}
	vClosure struct {
		params []param
		body   expr
		env    *env
		bound  []arg // arguments applied so far, evaluated
		name   string
	}
	vFunction struct { // function | p -> e ...
		cases []matchCase
		env   *env
	}
	vBuiltin struct {
		name string
		// fn gets the positional and labelled arguments; it returns
		// done=false when it needs more.
		fn    func(ev *evaluator, pos []value, lab map[string]labArg) (value, bool)
		pos   []value
		lab   map[string]labArg
		arity int
	}
	vOpaque struct{ why string }
	vModule struct {
		name string
		env  *env
	}
	vRef struct{ v value }
)

type labArg struct {
	v   value
	opt bool // passed as ?l: the value is an option
}

// Field is one datamodel field as the database sees it.
type vFieldDef struct {
	name     []string // full name (namespaces first)
	ty       value
	def      value // the default_value option
	persist  bool
	release  string // the first release it was published in; "" unknown
	removed  bool   // lifecycle says Removed
	internal bool
}

type vNamespace struct {
	name       string
	contents   value
	idempotent bool
}

type vObject struct {
	name     string
	contents value
	persist  string // PersistEverything, PersistNothing, ...
	release  string
	line     int
	file     string
}

type thunk struct {
	e     expr
	env   *env
	v     value
	state int // 0 not evaluated, 1 evaluating, 2 done
	line  int
}

type env struct {
	vars   map[string]*thunk
	mods   map[string]*vModule
	opens  []*vModule // opened modules, last opened first
	parent *env
}

func newEnv(parent *env) *env {
	return &env{vars: map[string]*thunk{}, mods: map[string]*vModule{}, parent: parent}
}

func (e *env) set(name string, v value) { e.vars[name] = &thunk{v: v, state: 2} }

type evaluator struct {
	loader   func(module string) (*vModule, error)
	warnings []string
	depth    int
	steps    int // eval calls so far (maxSteps bounds them)
	file     string
	// overrides are the datamodel functions implemented here
	overrides map[string]value
}

// maxSteps bounds the eval calls of one evaluation (one commit's
// datamodel). The xen-api datamodels dmgen reads take far fewer (see
// TestEvalSteps); a datamodel that needs more gets a warning, which fails
// the generation, never a hang.
var maxSteps = 1_000_000

type evalError struct{ msg string }

func (ev *evaluator) warnf(format string, a ...any) {
	ev.warnings = append(ev.warnings, fmt.Sprintf(format, a...))
}

// lookupVar finds name in e and its parents, then in opened modules.
func (ev *evaluator) lookupVar(e *env, name string) (*thunk, bool) {
	for s := e; s != nil; s = s.parent {
		if t, ok := s.vars[name]; ok {
			return t, true
		}
		for _, m := range s.opens {
			if t, ok := ev.lookupVar(m.env, name); ok {
				return t, true
			}
		}
	}
	return nil, false
}

func (ev *evaluator) lookupModule(e *env, name string) *vModule {
	for s := e; s != nil; s = s.parent {
		if m, ok := s.mods[name]; ok {
			return m
		}
		for _, o := range s.opens {
			if m := ev.lookupModuleIn(o, name); m != nil {
				return m
			}
		}
	}
	if ev.loader != nil {
		m, err := ev.loader(name)
		if err == nil && m != nil {
			return m
		}
	}
	return nil
}

func (ev *evaluator) lookupModuleIn(m *vModule, name string) *vModule {
	if sub, ok := m.env.mods[name]; ok {
		return sub
	}
	for _, o := range m.env.opens {
		if sub := ev.lookupModuleIn(o, name); sub != nil {
			return sub
		}
	}
	return nil
}

func (ev *evaluator) resolvePath(e *env, path []string) *vModule {
	m := ev.lookupModule(e, path[0])
	for _, p := range path[1:] {
		if m == nil {
			return nil
		}
		m = ev.lookupModuleIn(m, p)
	}
	return m
}

func (ev *evaluator) force(t *thunk) value {
	switch t.state {
	case 2:
		return t.v
	case 1:
		return vOpaque{"recursive value"}
	}
	t.state = 1
	t.v = ev.eval(t.e, t.env)
	t.state = 2
	return t.v
}

// evalStructure binds the items of a structure into e, lazily.
func (ev *evaluator) evalStructure(items []item, e *env, file string) {
	for _, it := range items {
		switch it := it.(type) {
		case iLet:
			ev.bindLet(it.rec, it.bind, e, e, file)
		case iOpen:
			if m := ev.resolvePath(e, it.mod); m != nil {
				e.opens = append([]*vModule{m}, e.opens...)
			}
		case iModule:
			e.mods[it.name] = ev.module(it.name, it.mod, e, file)
		case iExpr:
			// top-level expressions (let () = ...) have no value to keep
		}
	}
}

func (ev *evaluator) module(name string, m modExpr, e *env, file string) *vModule {
	switch m := m.(type) {
	case mStruct:
		me := newEnv(e)
		ev.evalStructure(m.items, me, file)
		return &vModule{name: name, env: me}
	case mPath:
		if r := ev.resolvePath(e, m.path); r != nil {
			return r
		}
	}
	return &vModule{name: name, env: newEnv(nil)}
}

// bindLet binds let-bindings: each name gets a thunk evaluated in benv
// (the new scope for let rec, the outer one otherwise).
func (ev *evaluator) bindLet(rec bool, bind []binding, target, outer *env, file string) {
	benv := outer
	if rec {
		benv = target
	}
	for _, b := range bind {
		b := b
		if v, ok := b.pat.(pVar); ok {
			if o, ok := ev.overrides[v.name]; ok && strings.Contains(file, "datamodel") && target.parent == nil {
				target.set(v.name, o)
				continue
			}
			var body expr = b.body
			if len(b.params) > 0 {
				body = eFun{b.params, b.body}
			}
			target.vars[v.name] = &thunk{e: body, env: benv, line: b.line}
			continue
		}
		// a destructuring binding: evaluated at once
		val := ev.eval(b.body, benv)
		binds := map[string]value{}
		if !ev.match(b.pat, val, binds) {
			ev.warnf("%s:%d: binding pattern %#v does not match %s", file, b.line, b.pat, describe(val))
		}
		for k, v := range binds {
			target.set(k, v)
		}
	}
}

func (ev *evaluator) eval(x expr, e *env) value {
	ev.depth++
	defer func() { ev.depth-- }()
	if ev.depth > 2000 {
		return vOpaque{"too deep"}
	}
	// The depth bound alone lets a recursion that branches (let rec f x =
	// f x = f x) take 2^2000 steps: the whole evaluation has a budget too.
	if ev.steps++; ev.steps > maxSteps {
		if ev.steps == maxSteps+1 {
			ev.warnf("evaluation stopped after %d steps: the datamodel is not evaluated completely", maxSteps)
		}
		return vOpaque{"out of steps"}
	}
	switch x := x.(type) {
	case eConst:
		return x.v
	case eVar:
		return ev.evalVar(x, e)
	case eApp:
		fn := ev.eval(x.fn, e)
		args := make([]arg, len(x.args))
		wanted := wantedLabels(fn)
		for i, a := range x.args {
			if wanted != nil && a.label != "" && !wanted[a.label] {
				// documentation, roles, messages: not evaluated
				args[i] = arg{label: a.label, opt: a.opt, e: eConst{vOpaque{"not evaluated"}}}
				continue
			}
			args[i] = arg{label: a.label, opt: a.opt, e: eConst{ev.eval(a.e, e)}}
		}
		return ev.apply(fn, args, x.line)
	case eLet:
		ne := newEnv(e)
		ev.bindLet(x.rec, x.bind, ne, e, ev.file)
		return ev.eval(x.body, ne)
	case eLetOpen:
		ne := newEnv(e)
		if m := ev.resolvePath(e, x.mod); m != nil {
			ne.opens = []*vModule{m}
		}
		return ev.eval(x.body, ne)
	case eLocalOpen:
		ne := newEnv(e)
		if m := ev.resolvePath(e, x.mod); m != nil {
			ne.opens = []*vModule{m}
		}
		return ev.eval(x.body, ne)
	case eLetModule:
		ne := newEnv(e)
		ne.mods[x.name] = ev.module(x.name, x.mod, e, ev.file)
		return ev.eval(x.body, ne)
	case eFun:
		return &vClosure{params: x.params, body: x.body, env: e}
	case eFunction:
		return &vFunction{cases: x.cases, env: e}
	case eMatch:
		return ev.matchCases(ev.eval(x.e, e), x.cases, e)
	case eTry:
		return ev.eval(x.e, e)
	case eIf:
		c := ev.eval(x.c, e)
		b, ok := c.(vBool)
		if !ok {
			return vOpaque{"if on an opaque condition"}
		}
		if b {
			return ev.eval(x.t, e)
		}
		return ev.eval(x.f, e)
	case eSeq:
		ev.eval(x.a, e)
		return ev.eval(x.b, e)
	case eTuple:
		out := make(vTuple, len(x.items))
		for i, it := range x.items {
			out[i] = ev.eval(it, e)
		}
		return out
	case eList:
		out := vList{}
		for _, it := range x.items {
			out = append(out, ev.eval(it, e))
		}
		return out
	case eBin:
		return ev.binop(x, e)
	case eUn:
		v := ev.eval(x.e, e)
		switch x.op {
		case "-":
			if n, ok := v.(vInt); ok {
				return -n
			}
			if f, ok := v.(vFloat); ok {
				return -f
			}
		case "-.":
			if f, ok := v.(vFloat); ok {
				return -f
			}
		case "!":
			if r, ok := v.(*vRef); ok {
				return r.v
			}
		}
		return vOpaque{"unary " + x.op}
	case eRecord:
		r := vRecord{fields: map[string]value{}}
		if x.with != nil {
			if base, ok := ev.eval(x.with, e).(vRecord); ok {
				for k, v := range base.fields {
					r.fields[k] = v
				}
			}
		}
		for _, f := range x.fields {
			r.fields[f.name] = ev.eval(f.e, e)
		}
		return r
	case eField:
		v := ev.eval(x.e, e)
		switch v := v.(type) {
		case vRecord:
			if f, ok := v.fields[x.name]; ok {
				return f
			}
		case *vObject:
			switch x.name {
			case "name":
				return vStr(v.name)
			case "contents":
				return v.contents
			}
		case *vFieldDef:
			switch x.name {
			case "field_name":
				return vStr(v.name[len(v.name)-1])
			}
		}
		return vOpaque{"field " + x.name}
	case eConstr:
		if x.arg == nil {
			return vConstr{name: x.name}
		}
		return vConstr{name: x.name, arg: ev.eval(x.arg, e)}
	}
	return vOpaque{fmt.Sprintf("%T", x)}
}

func (ev *evaluator) evalVar(x eVar, e *env) value {
	if len(x.path) == 1 {
		if t, ok := ev.lookupVar(e, x.path[0]); ok {
			return ev.force(t)
		}
		if b, ok := builtins[x.path[0]]; ok {
			return b
		}
		return vOpaque{"unbound " + x.path[0]}
	}
	name := strings.Join(x.path, ".")
	if b, ok := builtins[name]; ok {
		return b
	}
	m := ev.resolvePath(e, x.path[:len(x.path)-1])
	if m == nil {
		return vOpaque{"unknown module " + name}
	}
	if t, ok := ev.lookupVar(m.env, x.path[len(x.path)-1]); ok {
		return ev.force(t)
	}
	return vOpaque{"unbound " + name}
}

func (ev *evaluator) binop(x eBin, e *env) value {
	switch x.op {
	case "&&", "&":
		a, ok := ev.eval(x.a, e).(vBool)
		if !ok {
			return vOpaque{"&&"}
		}
		if !a {
			return vBool(false)
		}
		if b, ok := ev.eval(x.b, e).(vBool); ok {
			return b
		}
		return vOpaque{"&&"}
	case "||", "or":
		a, ok := ev.eval(x.a, e).(vBool)
		if !ok {
			return vOpaque{"||"}
		}
		if a {
			return vBool(true)
		}
		if b, ok := ev.eval(x.b, e).(vBool); ok {
			return b
		}
		return vOpaque{"||"}
	case "|>":
		return ev.apply(ev.eval(x.b, e), []arg{{e: eConst{ev.eval(x.a, e)}}}, x.line)
	case "@@":
		return ev.apply(ev.eval(x.a, e), []arg{{e: eConst{ev.eval(x.b, e)}}}, x.line)
	}
	a, b := ev.eval(x.a, e), ev.eval(x.b, e)
	switch x.op {
	case "@":
		la, ok1 := a.(vList)
		lb, ok2 := b.(vList)
		if ok1 && ok2 {
			out := append(vList{}, la...)
			return append(out, lb...)
		}
		if ok1 {
			return append(append(vList{}, la...), vOpaque{"@ of an opaque list"})
		}
		if ok2 {
			return append(vList{vOpaque{"@ of an opaque list"}}, lb...)
		}
		return vOpaque{"@"}
	case "::":
		if lb, ok := b.(vList); ok {
			return append(vList{a}, lb...)
		}
		return vList{a, vOpaque{":: onto an opaque list"}}
	case "^":
		sa, ok1 := a.(vStr)
		sb, ok2 := b.(vStr)
		if ok1 && ok2 {
			return sa + sb
		}
		return vOpaque{"^"}
	case "=", "==":
		if eq, ok := equal(a, b); ok {
			return vBool(eq)
		}
	case "<>", "!=":
		if eq, ok := equal(a, b); ok {
			return vBool(!eq)
		}
	case "+", "-", "*", "/":
		ia, ok1 := a.(vInt)
		ib, ok2 := b.(vInt)
		if ok1 && ok2 {
			switch x.op {
			case "+":
				return ia + ib
			case "-":
				return ia - ib
			case "*":
				return ia * ib
			case "/":
				if ib != 0 {
					return ia / ib
				}
			}
		}
	case "<", ">", "<=", ">=":
		ia, ok1 := a.(vInt)
		ib, ok2 := b.(vInt)
		if ok1 && ok2 {
			switch x.op {
			case "<":
				return vBool(ia < ib)
			case ">":
				return vBool(ia > ib)
			case "<=":
				return vBool(ia <= ib)
			case ">=":
				return vBool(ia >= ib)
			}
		}
	}
	return vOpaque{"operator " + x.op}
}

// equal compares plain values; ok is false when one is opaque.
func equal(a, b value) (eq, ok bool) {
	switch a := a.(type) {
	case vStr, vInt, vBool, vFloat, vUnit:
		switch b.(type) {
		case vStr, vInt, vBool, vFloat, vUnit:
			return a == b, true
		}
	case vConstr:
		if b, ok := b.(vConstr); ok {
			if a.name != b.name {
				return false, true
			}
			if a.arg == nil || b.arg == nil {
				return a.arg == nil && b.arg == nil, true
			}
			return equal(a.arg, b.arg)
		}
	case vList:
		if b, ok := b.(vList); ok {
			if len(a) != len(b) {
				return false, true
			}
			for i := range a {
				if eq, ok := equal(a[i], b[i]); !ok || !eq {
					return eq, ok
				}
			}
			return true, true
		}
	case vTuple:
		if b, ok := b.(vTuple); ok && len(a) == len(b) {
			for i := range a {
				if eq, ok := equal(a[i], b[i]); !ok || !eq {
					return eq, ok
				}
			}
			return true, true
		}
	}
	return false, false
}

func (ev *evaluator) matchCases(v value, cases []matchCase, e *env) value {
	for _, c := range cases {
		binds := map[string]value{}
		if !ev.match(c.pat, v, binds) {
			continue
		}
		ne := newEnv(e)
		for k, bv := range binds {
			ne.set(k, bv)
		}
		if c.guard != nil {
			g, ok := ev.eval(c.guard, ne).(vBool)
			if !ok {
				return vOpaque{"guard on an opaque value"}
			}
			if !g {
				continue
			}
		}
		return ev.eval(c.body, ne)
	}
	return vOpaque{"no case matched"}
}

// match binds p against v. An opaque value matches nothing but a variable.
func (ev *evaluator) match(p pattern, v value, binds map[string]value) bool {
	switch p := p.(type) {
	case pVar:
		binds[p.name] = v
		return true
	case pAny:
		return true
	case pAlias:
		binds[p.name] = v
		return ev.match(p.p, v, binds)
	case pOr:
		if ev.match(p.a, v, binds) {
			return true
		}
		return ev.match(p.b, v, binds)
	case pConst:
		eq, ok := equal(p.v, v)
		return ok && eq
	case pTuple:
		t, ok := v.(vTuple)
		if !ok || len(t) != len(p.items) {
			return false
		}
		for i := range t {
			if !ev.match(p.items[i], t[i], binds) {
				return false
			}
		}
		return true
	case pList:
		l, ok := v.(vList)
		if !ok || len(l) != len(p.items) {
			return false
		}
		for i := range l {
			if !ev.match(p.items[i], l[i], binds) {
				return false
			}
		}
		return true
	case pCons:
		l, ok := v.(vList)
		if !ok || len(l) == 0 {
			return false
		}
		return ev.match(p.head, l[0], binds) && ev.match(p.tail, l[1:], binds)
	case pConstr:
		switch v := v.(type) {
		case vConstr:
			if v.name != p.name {
				return false
			}
			if p.arg == nil {
				return true
			}
			if v.arg == nil {
				return false
			}
			// C (a, b) against C of a tuple
			return ev.match(p.arg, v.arg, binds)
		case vBool:
			return p.name == fmt.Sprint(bool(v))
		case *vFieldDef:
			if p.name == "Field" && p.arg != nil {
				return ev.match(p.arg, v, binds)
			}
		case *vNamespace:
			if p.name == "Namespace" && p.arg != nil {
				return ev.match(p.arg, vTuple{vStr(v.name), v.contents}, binds)
			}
		}
		return false
	case pRecord:
		r, ok := v.(vRecord)
		if !ok {
			return false
		}
		for _, f := range p.fields {
			fv, ok := r.fields[f.name]
			if !ok || !ev.match(f.p, fv, binds) {
				return false
			}
		}
		return true
	}
	return false
}

// apply applies fn to args, currying as OCaml does for the shapes the
// datamodel uses: labelled arguments by label, positional ones in order,
// optional parameters defaulted once a later positional one is given.
func (ev *evaluator) apply(fn value, args []arg, line int) value {
	if len(args) == 0 {
		return fn
	}
	switch f := fn.(type) {
	case *vClosure:
		all := append(append([]arg{}, f.bound...), args...)
		return ev.applyClosure(f, all, line)
	case *vFunction:
		v := args[0].e.(eConst).v
		r := ev.matchCases(v, f.cases, f.env)
		return ev.apply(r, args[1:], line)
	case *vBuiltin:
		pos := append([]value{}, f.pos...)
		lab := map[string]labArg{}
		for k, v := range f.lab {
			lab[k] = v
		}
		for _, a := range args {
			v := a.e.(eConst).v
			if a.label == "" {
				pos = append(pos, v)
			} else {
				lab[a.label] = labArg{v: v, opt: a.opt}
			}
		}
		if f.arity >= 0 && len(pos) > f.arity {
			r, done := f.fn(ev, pos[:f.arity], lab)
			if !done {
				return vOpaque{"builtin " + f.name}
			}
			rest := make([]arg, 0, len(pos)-f.arity)
			for _, v := range pos[f.arity:] {
				rest = append(rest, arg{e: eConst{v}})
			}
			return ev.apply(r, rest, line)
		}
		if len(pos) == f.arity || f.arity == 0 {
			if r, done := f.fn(ev, pos, lab); done {
				return r
			}
		}
		return &vBuiltin{name: f.name, fn: f.fn, pos: pos, lab: lab, arity: f.arity}
	case vConstr:
		if f.arg == nil && len(args) == 1 {
			return vConstr{name: f.name, arg: args[0].e.(eConst).v}
		}
	case *vFieldDef, *vNamespace, *vObject:
		// a finished datamodel value applied to () (namespace ... ())
		return fn
	case vOpaque:
		return vOpaque{f.why + " (applied)"}
	}
	return vOpaque{fmt.Sprintf("apply %T", fn)}
}

func (ev *evaluator) applyClosure(f *vClosure, all []arg, line int) value {
	npos := 0
	for _, p := range f.params {
		if p.kind == pPos {
			npos++
		}
	}
	var posArgs []value
	labArgs := map[string]arg{}
	for _, a := range all {
		if a.label == "" {
			posArgs = append(posArgs, a.e.(eConst).v)
		} else {
			labArgs[a.label] = a
		}
	}
	complete := len(posArgs) >= npos
	if npos == 0 {
		// only labelled parameters: complete once every mandatory label is there
		for _, p := range f.params {
			if p.kind == pLabel {
				if _, ok := labArgs[p.label]; !ok {
					complete = false
				}
			}
		}
	} else if complete {
		for _, p := range f.params {
			if p.kind == pLabel {
				if _, ok := labArgs[p.label]; !ok {
					complete = false
				}
			}
		}
	}
	if !complete {
		return &vClosure{params: f.params, body: f.body, env: f.env, bound: all, name: f.name}
	}
	ne := newEnv(f.env)
	pi := 0
	for _, p := range f.params {
		var v value
		switch p.kind {
		case pPos:
			v = posArgs[pi]
			pi++
		case pLabel:
			v = labArgs[p.label].e.(eConst).v
			delete(labArgs, p.label)
		case pOpt:
			a, ok := labArgs[p.label]
			delete(labArgs, p.label)
			switch {
			case ok && a.opt:
				v = a.e.(eConst).v // already an option
				if p.def != nil {
					if c, ok := v.(vConstr); ok && c.name == "Some" {
						v = c.arg
					} else if ok && c.name == "None" {
						v = ev.eval(p.def, ne)
					}
				}
			case ok:
				v = a.e.(eConst).v
				if p.def == nil {
					v = vConstr{name: "Some", arg: v}
				}
			case p.def != nil:
				v = ev.eval(p.def, ne)
			default:
				v = vConstr{name: "None"}
			}
		}
		binds := map[string]value{}
		if !ev.match(p.pat, v, binds) {
			ev.warnf("%s:%d: argument does not match its parameter", ev.file, line)
		}
		for k, bv := range binds {
			ne.set(k, bv)
		}
	}
	r := ev.eval(f.body, ne)
	var rest []arg
	for _, v := range posArgs[npos:] {
		rest = append(rest, arg{e: eConst{v}})
	}
	for _, a := range labArgs { // labels the body's function takes
		rest = append(rest, a)
	}
	if len(rest) > 0 {
		return ev.apply(r, rest, line)
	}
	return r
}

// wantedLabels lists the labelled arguments a datamodel builtin reads;
// nil for anything else (every argument evaluated).
func wantedLabels(fn value) map[string]bool {
	b, ok := fn.(*vBuiltin)
	if !ok {
		return nil
	}
	switch b.name {
	case "create_obj":
		return map[string]bool{"name": true, "contents": true, "persist": true, "in_product_since": true, "lifecycle": true}
	case "field":
		return map[string]bool{"ty": true, "default_value": true, "persist": true, "in_product_since": true, "lifecycle": true, "internal_only": true}
	}
	return nil
}

// builtins are the standard-library functions the datamodel uses.
var builtins = map[string]value{}

func init() {
	b := func(name string, arity int, fn func(ev *evaluator, pos []value, lab map[string]labArg) (value, bool)) {
		builtins[name] = &vBuiltin{name: name, fn: fn, arity: arity}
	}
	list := func(v value) (vList, bool) { l, ok := v.(vList); return l, ok }
	b("List.map", 2, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		l, ok := list(pos[1])
		if !ok {
			return vOpaque{"List.map over an opaque list"}, true
		}
		out := vList{}
		for _, x := range l {
			out = append(out, ev.apply(pos[0], []arg{{e: eConst{x}}}, 0))
		}
		return out, true
	})
	b("List.mapi", 2, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		l, ok := list(pos[1])
		if !ok {
			return vOpaque{"List.mapi over an opaque list"}, true
		}
		out := vList{}
		for i, x := range l {
			out = append(out, ev.apply(pos[0], []arg{{e: eConst{vInt(i)}}, {e: eConst{x}}}, 0))
		}
		return out, true
	})
	b("List.filter", 2, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		l, ok := list(pos[1])
		if !ok {
			return vOpaque{"List.filter over an opaque list"}, true
		}
		out := vList{}
		for _, x := range l {
			keep, ok := ev.apply(pos[0], []arg{{e: eConst{x}}}, 0).(vBool)
			if !ok {
				return vOpaque{"List.filter with an opaque predicate"}, true
			}
			if keep {
				out = append(out, x)
			}
		}
		return out, true
	})
	concat := func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		l, ok := list(pos[0])
		if !ok {
			return vOpaque{"List.concat of an opaque list"}, true
		}
		out := vList{}
		for _, x := range l {
			if xl, ok := list(x); ok {
				out = append(out, xl...)
			} else {
				out = append(out, vOpaque{"List.concat of an opaque element"})
			}
		}
		return out, true
	}
	b("List.concat", 1, concat)
	b("List.flatten", 1, concat)
	b("List.concat_map", 2, func(ev *evaluator, pos []value, lab map[string]labArg) (value, bool) {
		m, _ := builtins["List.map"].(*vBuiltin).fn(ev, pos, lab)
		return concat(ev, []value{m}, lab)
	})
	b("List.append", 2, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		a, ok1 := list(pos[0])
		c, ok2 := list(pos[1])
		if !ok1 || !ok2 {
			return vOpaque{"List.append"}, true
		}
		return append(append(vList{}, a...), c...), true
	})
	b("List.rev", 1, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		l, ok := list(pos[0])
		if !ok {
			return vOpaque{"List.rev"}, true
		}
		out := make(vList, len(l))
		for i, x := range l {
			out[len(l)-1-i] = x
		}
		return out, true
	})
	b("List.mem", 2, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		l, ok := list(pos[1])
		if !ok {
			return vOpaque{"List.mem"}, true
		}
		for _, x := range l {
			eq, ok := equal(pos[0], x)
			if !ok {
				return vOpaque{"List.mem"}, true
			}
			if eq {
				return vBool(true), true
			}
		}
		return vBool(false), true
	})
	b("List.find", 2, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		l, ok := list(pos[1])
		if !ok {
			return vOpaque{"List.find"}, true
		}
		for _, x := range l {
			found, ok := ev.apply(pos[0], []arg{{e: eConst{x}}}, 0).(vBool)
			if !ok {
				return vOpaque{"List.find with an opaque predicate"}, true
			}
			if found {
				return x, true
			}
		}
		return vOpaque{"List.find: Not_found"}, true
	})
	b("List.length", 1, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		l, ok := list(pos[0])
		if !ok {
			return vOpaque{"List.length"}, true
		}
		return vInt(len(l)), true
	})
	b("String.concat", 2, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		sep, ok := pos[0].(vStr)
		l, ok2 := list(pos[1])
		if !ok || !ok2 {
			return vOpaque{"String.concat"}, true
		}
		var parts []string
		for _, x := range l {
			s, ok := x.(vStr)
			if !ok {
				return vOpaque{"String.concat"}, true
			}
			parts = append(parts, string(s))
		}
		return vStr(strings.Join(parts, string(sep))), true
	})
	for _, n := range []string{"String.lowercase", "String.lowercase_ascii", "String.uppercase", "String.uppercase_ascii", "String.capitalize", "String.capitalize_ascii"} {
		n := n
		b(n, 1, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
			s, ok := pos[0].(vStr)
			if !ok {
				return vOpaque{n}, true
			}
			switch {
			case strings.Contains(n, "lower"):
				return vStr(strings.ToLower(string(s))), true
			case strings.Contains(n, "upper"):
				return vStr(strings.ToUpper(string(s))), true
			}
			if s == "" {
				return s, true
			}
			return vStr(strings.ToUpper(string(s[:1])) + string(s[1:])), true
		})
	}
	b("not", 1, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		if v, ok := pos[0].(vBool); ok {
			return !v, true
		}
		return vOpaque{"not"}, true
	})
	b("fst", 1, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		if t, ok := pos[0].(vTuple); ok && len(t) == 2 {
			return t[0], true
		}
		return vOpaque{"fst"}, true
	})
	b("snd", 1, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		if t, ok := pos[0].(vTuple); ok && len(t) == 2 {
			return t[1], true
		}
		return vOpaque{"snd"}, true
	})
	b("ref", 1, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		return &vRef{pos[0]}, true
	})
	for _, n := range []string{"Printf.sprintf", "Printf.printf", "failwith", "raise", "invalid_arg", "ignore", "print_endline", "print_string", "prerr_endline"} {
		n := n
		b(n, -1, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
			return vOpaque{n}, true
		})
	}
	b("Option.value", 1, func(ev *evaluator, pos []value, lab map[string]labArg) (value, bool) {
		d, ok := lab["default"]
		if !ok {
			return vOpaque{"Option.value without ~default"}, true
		}
		if c, ok := pos[0].(vConstr); ok {
			if c.name == "Some" {
				return c.arg, true
			}
			return d.v, true
		}
		return vOpaque{"Option.value"}, true
	})
	b("Fun.id", 1, func(ev *evaluator, pos []value, _ map[string]labArg) (value, bool) {
		return pos[0], true
	})
}

// flatten turns an object's contents into its columns (namespaces joined by
// "__", as Escaping.escape_id does), reporting any element that is not a
// field.
func (ev *evaluator) flatten(obj string, contents value, prefix []string, out *[]*vFieldDef) {
	l, ok := contents.(vList)
	if !ok {
		ev.warnf("%s: contents%s: not a list (%s)", obj, strings.Join(prefix, "."), describe(contents))
		return
	}
	for _, x := range l {
		switch x := x.(type) {
		case *vFieldDef:
			f := *x
			f.name = append(append([]string{}, prefix...), x.name...)
			*out = append(*out, &f)
		case *vNamespace:
			p := prefix
			if !x.idempotent {
				p = append(append([]string{}, prefix...), x.name)
			}
			ev.flatten(obj, x.contents, p, out)
		default:
			ev.warnf("%s: contents%s: an element is not a field (%s)", obj, strings.Join(prefix, "."), describe(x))
		}
	}
}

func describe(v value) string {
	switch v := v.(type) {
	case vOpaque:
		return "opaque: " + v.why
	case *vBuiltin:
		return "partial application of " + v.name
	case *vClosure:
		return "a function"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
