package main

import (
	"fmt"
	"strings"
)

// The parser builds an AST for the expression language the datamodel is
// written in. Type definitions, signatures, classes and externals are
// skipped: only values matter here.

type expr interface{}

type (
	eConst struct{ v value }
	eVar   struct {
		path []string // module path then name
		line int
	}
	eApp struct {
		fn   expr
		args []arg
		line int
	}
	eLet struct {
		rec  bool
		bind []binding
		body expr
	}
	eFun struct {
		params []param
		body   expr
	}
	eFunction struct{ cases []matchCase }
	eMatch    struct {
		e     expr
		cases []matchCase
	}
	eTry struct {
		e     expr
		cases []matchCase
	}
	eIf    struct{ c, t, f expr }
	eSeq   struct{ a, b expr }
	eTuple struct{ items []expr }
	eList  struct {
		items []expr
		tail  expr // nil for a plain list
	}
	eBin struct {
		op   string
		a, b expr
		line int
	}
	eUn struct {
		op string
		e  expr
	}
	eRecord struct {
		with   expr
		fields []recField
	}
	eField struct {
		e    expr
		name string
	}
	eConstr struct {
		name string
		arg  expr // nil without argument
	}
	eLocalOpen struct {
		mod  []string
		body expr
	}
	eLetModule struct {
		name string
		mod  modExpr
		body expr
	}
	eLetOpen struct {
		mod  []string
		body expr
	}
)

type recField struct {
	name string
	e    expr
}

type arg struct {
	label string // "" for a positional argument
	opt   bool   // ?label: the value is an option
	e     expr
}

type binding struct {
	pat    pattern
	params []param
	body   expr
	line   int
}

type paramKind int

const (
	pPos paramKind = iota
	pLabel
	pOpt
)

type param struct {
	kind  paramKind
	label string
	pat   pattern
	def   expr // default of an optional parameter
}

type matchCase struct {
	pat   pattern
	guard expr
	body  expr
}

type pattern interface{}

type (
	pVar    struct{ name string }
	pAny    struct{}
	pConst  struct{ v value }
	pTuple  struct{ items []pattern }
	pList   struct{ items []pattern }
	pCons   struct{ head, tail pattern }
	pConstr struct {
		name string
		arg  pattern
	}
	pRecord struct {
		fields []pRecField
	}
	pAlias struct {
		p    pattern
		name string
	}
	pOr struct{ a, b pattern }
)

type pRecField struct {
	name string
	p    pattern
}

// structure items
type item interface{}

type (
	iLet struct {
		rec  bool
		bind []binding
	}
	iOpen   struct{ mod []string }
	iModule struct {
		name string
		mod  modExpr
	}
	iExpr struct{ e expr }
)

type modExpr interface{}

type (
	mStruct struct{ items []item }
	mPath   struct{ path []string }
	mOpaque struct{}
)

type parser struct {
	toks   []token
	i      int
	file   string
	errors []string // items skipped because they did not parse
}

type parseError struct{ msg string }

func (p *parser) fail(format string, a ...any) {
	panic(parseError{fmt.Sprintf("%s:%d: %s", p.file, p.tok().line, fmt.Sprintf(format, a...))})
}

func (p *parser) tok() token { return p.toks[p.i] }
func (p *parser) at(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) advance() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}
func (p *parser) is(kind tokKind, text string) bool {
	t := p.tok()
	return t.kind == kind && t.text == text
}
func (p *parser) isOp(text string) bool { return p.is(tOp, text) }
func (p *parser) isKw(text string) bool { return p.is(tKeyword, text) }
func (p *parser) expectOp(text string) {
	if !p.isOp(text) {
		p.fail("expected %q, found %s", text, p.tok())
	}
	p.advance()
}
func (p *parser) expectKw(text string) {
	if !p.isKw(text) {
		p.fail("expected %q, found %s", text, p.tok())
	}
	p.advance()
}

// parseFile parses a file; skipped lists the items that did not parse.
func parseFile(file, src string) (items []item, skipped []string, err error) {
	toks, err := lex(file, src)
	if err != nil {
		return nil, nil, err
	}
	p := &parser{toks: toks, file: file}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(parseError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", pe.msg)
		}
	}()
	items = p.structure()
	if p.tok().kind != tEOF {
		p.fail("unexpected %s at top level", p.tok())
	}
	return items, p.errors, nil
}

// structure parses items up to "end" or the end of the file. An item that
// does not parse is skipped (up to the next item at its indentation or
// less) and reported, so that one construct the parser does not know loses
// only its own definition.
func (p *parser) structure() []item {
	var items []item
	for {
		start := p.i
		done, err := p.tryItem(&items)
		if err == "" {
			if done {
				return items
			}
			continue
		}
		p.errors = append(p.errors, err)
		col := p.toks[start].col
		p.i = start
		p.advance()
		for p.tok().kind != tEOF {
			t := p.tok()
			if t.col <= col && (p.isKw("let") || p.isKw("module") || p.isKw("type") || p.isKw("open") || p.isKw("include") || p.isKw("end") || p.isKw("exception")) {
				break
			}
			p.advance()
		}
	}
}

func (p *parser) tryItem(items *[]item) (done bool, err string) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(parseError)
			if !ok {
				panic(r)
			}
			err = pe.msg
		}
	}()
	return p.item(items), ""
}

// item parses one structure item; it reports true at the end of the structure.
func (p *parser) item(itemsp *[]item) bool {
	items := *itemsp
	defer func() { *itemsp = items }()
	{
		t := p.tok()
		switch {
		case t.kind == tEOF || p.isKw("end"):
			return true
		case p.isOp(";;"):
			p.advance()
		case p.isKw("let"):
			p.advance()
			rec := false
			if p.isKw("rec") {
				p.advance()
				rec = true
			}
			if p.isKw("open") { // let open M in e at top level
				p.advance()
				m := p.modPath()
				p.expectKw("in")
				items = append(items, iExpr{eLetOpen{m, p.expr()}})
				return false
			}
			bind := p.bindings()
			if p.isKw("in") {
				p.advance()
				items = append(items, iExpr{eLet{rec, bind, p.expr()}})
				return false
			}
			items = append(items, iLet{rec, bind})
		case p.isKw("open") || p.isKw("include"):
			p.advance()
			if p.isOp("!") {
				p.advance()
			}
			if p.isKw("struct") {
				p.advance()
				inner := p.structure()
				p.expectKw("end")
				items = append(items, inner...)
				return false
			}
			items = append(items, iOpen{p.modPath()})
			// an include of a functor application: its arguments are skipped
			for p.isOp("(") {
				p.skipBalanced()
			}
		case p.isKw("module"):
			p.advance()
			if p.isKw("type") {
				p.skipItem()
				return false
			}
			if p.isKw("rec") {
				p.advance()
			}
			if p.tok().kind != tUIdent {
				p.fail("expected a module name, found %s", p.tok())
			}
			name := p.advance().text
			functor := false
			for p.isOp("(") { // functor parameters
				functor = true
				p.skipBalanced()
			}
			if p.isOp(":") {
				p.advance()
				p.skipModuleType()
			}
			p.expectOp("=")
			m := p.modExpr()
			if functor {
				m = mOpaque{}
			}
			items = append(items, iModule{name, m})
		case p.isKw("type") || p.isKw("exception") || p.isKw("external") || p.isKw("class"):
			p.skipItem()
		default:
			items = append(items, iExpr{p.expr()})
		}
	}
	return false
}

func (p *parser) modPath() []string {
	var path []string
	for p.tok().kind == tUIdent {
		path = append(path, p.advance().text)
		if p.isOp(".") && p.at(1).kind == tUIdent {
			p.advance()
			continue
		}
		break
	}
	if len(path) == 0 {
		p.fail("expected a module path, found %s", p.tok())
	}
	return path
}

func (p *parser) modExpr() modExpr {
	switch {
	case p.isKw("struct"):
		p.advance()
		items := p.structure()
		p.expectKw("end")
		return mStruct{items}
	case p.isOp("("):
		p.advance()
		m := p.modExpr()
		if p.isOp(":") {
			p.advance()
			p.skipModuleType()
		}
		p.expectOp(")")
		return m
	case p.isKw("functor"):
		p.skipItem()
		return mOpaque{}
	case p.tok().kind == tUIdent:
		path := p.modPath()
		if p.isOp("(") { // a functor application
			for p.isOp("(") {
				p.skipBalanced()
			}
			return mOpaque{}
		}
		return mPath{path}
	}
	p.fail("expected a module expression, found %s", p.tok())
	return nil
}

// skipModuleType skips a module type: a path, sig ... end, with
// constraints; up to "=" or ")" at depth 0.
func (p *parser) skipModuleType() {
	depth := 0
	for {
		switch {
		case p.tok().kind == tEOF:
			return
		case p.isKw("sig") || p.isKw("struct") || p.isKw("begin") || p.isKw("object"):
			depth++
		case p.isKw("end"):
			depth--
		case p.isOp("(") || p.isOp("[") || p.isOp("{"):
			depth++
		case p.isOp(")") || p.isOp("]") || p.isOp("}"):
			if depth == 0 {
				return
			}
			depth--
		case depth == 0 && p.isOp("="):
			return
		}
		p.advance()
	}
}

// skipItem skips a type/exception/external/class/module type definition: up
// to the next item at nesting depth 0.
func (p *parser) skipItem() {
	p.advance()
	depth := 0
	for {
		t := p.tok()
		if t.kind == tEOF {
			return
		}
		if depth == 0 && (p.isKw("let") || p.isKw("type") || p.isKw("module") || p.isKw("open") ||
			p.isKw("include") || p.isKw("exception") || p.isKw("external") || p.isKw("end") || p.isOp(";;") || p.isKw("class")) {
			// "type ... and ..." continues; a nested "end" closes sig/struct
			return
		}
		switch {
		case p.isKw("sig") || p.isKw("struct") || p.isKw("begin") || p.isKw("object"):
			depth++
			p.advance()
			for depth > 0 && p.tok().kind != tEOF {
				switch {
				case p.isKw("sig") || p.isKw("struct") || p.isKw("begin") || p.isKw("object"):
					depth++
				case p.isKw("end"):
					depth--
				}
				p.advance()
			}
			continue
		case p.isOp("(") || p.isOp("[") || p.isOp("{") || p.isOp("[|"):
			p.skipBalanced()
			continue
		}
		p.advance()
	}
}

func (p *parser) skipBalanced() {
	depth := 0
	for {
		t := p.tok()
		if t.kind == tEOF {
			p.fail("unbalanced brackets")
		}
		switch t.text {
		case "(", "[", "{", "[|":
			if t.kind == tOp {
				depth++
			}
		case ")", "]", "}", "|]":
			if t.kind == tOp {
				depth--
			}
		}
		p.advance()
		if depth == 0 {
			return
		}
	}
}

func (p *parser) bindings() []binding {
	var out []binding
	for {
		b := binding{line: p.tok().line}
		// let f params = e, or let pattern = e
		if p.tok().kind == tLIdent && !p.isOp(",") {
			name := p.advance().text
			if p.isOp(",") || p.isKw("as") || p.isOp("::") {
				p.i--
				b.pat = p.pattern()
			} else {
				b.pat = pVar{name}
				b.params = p.params()
			}
		} else if p.isOp("(") && p.at(1).kind == tOp && p.at(2).text == ")" && p.at(1).text != ")" {
			// let ( @@ ) a b = ...: an operator definition
			p.advance()
			op := p.advance().text
			p.advance()
			b.pat = pVar{op}
			b.params = p.params()
		} else {
			b.pat = p.pattern()
		}
		if p.isOp(":") { // a type annotation
			p.advance()
			p.skipType("=")
		}
		p.expectOp("=")
		b.body = p.expr()
		out = append(out, b)
		if !p.isKw("and") {
			return out
		}
		p.advance()
	}
}

// skipType skips a type expression up to stop at depth 0.
func (p *parser) skipType(stop string) {
	depth := 0
	for {
		t := p.tok()
		if t.kind == tEOF {
			return
		}
		if depth == 0 && t.kind == tOp && (t.text == stop || t.text == ")" || t.text == "]" || t.text == "}" || t.text == ";" || t.text == ",") && (t.text == stop || t.text != ",") {
			if t.text == stop || t.text == ")" || t.text == "]" || t.text == "}" || t.text == ";" {
				return
			}
		}
		if depth == 0 && t.kind == tKeyword && (t.text == "in" || t.text == "and") {
			return
		}
		switch {
		case t.kind == tOp && (t.text == "(" || t.text == "[" || t.text == "{"):
			depth++
		case t.kind == tOp && (t.text == ")" || t.text == "]" || t.text == "}"):
			depth--
		}
		p.advance()
	}
}

// params parses function parameters up to "=" or "->".
func (p *parser) params() []param {
	var out []param
	for {
		t := p.tok()
		switch {
		case t.kind == tLabel:
			p.advance()
			out = append(out, param{kind: pLabel, label: t.text, pat: pVar{t.text}})
		case t.kind == tLabelColon:
			p.advance()
			out = append(out, param{kind: pLabel, label: t.text, pat: p.simplePattern()})
		case t.kind == tOptLabel:
			p.advance()
			out = append(out, param{kind: pOpt, label: t.text, pat: pVar{t.text}})
		case t.kind == tOptColon:
			p.advance()
			// ?l:(pat = default) or ?l:pat
			if p.isOp("(") {
				p.advance()
				pat := p.pattern()
				var def expr
				if p.isOp(":") {
					p.advance()
					p.skipType("=")
				}
				if p.isOp("=") {
					p.advance()
					def = p.expr()
				}
				p.expectOp(")")
				out = append(out, param{kind: pOpt, label: t.text, pat: pat, def: def})
			} else {
				out = append(out, param{kind: pOpt, label: t.text, pat: p.simplePattern()})
			}
		case (p.isOp("~") || p.isOp("?")) && p.at(1).kind == tLIdent:
			// "? lifecycle" (a comment between the two)
			opt := p.isOp("?")
			p.advance()
			name := p.advance().text
			k := pLabel
			if opt {
				k = pOpt
			}
			out = append(out, param{kind: k, label: name, pat: pVar{name}})
		case p.isOp("~") || p.isOp("?"):
			// ~(x : t), ?(x = default), ?(x : t = default)
			opt := p.isOp("?")
			p.advance()
			p.expectOp("(")
			if p.tok().kind != tLIdent {
				p.fail("expected a parameter name, found %s", p.tok())
			}
			name := p.advance().text
			if p.isOp(":") {
				p.advance()
				p.skipType("=")
			}
			var def expr
			if p.isOp("=") {
				p.advance()
				def = p.expr()
			}
			p.expectOp(")")
			k := pLabel
			if opt {
				k = pOpt
			}
			out = append(out, param{kind: k, label: name, pat: pVar{name}, def: def})
		case t.kind == tLIdent || t.kind == tUIdent || p.isOp("(") || p.isOp("[") || p.isOp("{") || t.kind == tInt || t.kind == tString || p.isOp("_") || (t.kind == tKeyword && (t.text == "true" || t.text == "false")):
			out = append(out, param{kind: pPos, pat: p.simplePattern()})
		default:
			return out
		}
	}
}

func (p *parser) pattern() pattern {
	pat := p.patternCons()
	for p.isOp(",") {
		items := []pattern{pat}
		for p.isOp(",") {
			p.advance()
			items = append(items, p.patternCons())
		}
		pat = pTuple{items}
	}
	for {
		switch {
		case p.isOp("|"):
			p.advance()
			pat = pOr{pat, p.pattern()}
		case p.isKw("as"):
			p.advance()
			pat = pAlias{pat, p.advance().text}
		default:
			return pat
		}
	}
}

func (p *parser) patternCons() pattern {
	head := p.patternApp()
	if p.isOp("::") {
		p.advance()
		return pCons{head, p.patternCons()}
	}
	return head
}

func (p *parser) patternApp() pattern {
	if p.tok().kind == tUIdent || p.isOp("`") {
		name := p.constrName()
		if p.startsSimplePattern() {
			return pConstr{name, p.simplePattern()}
		}
		return pConstr{name, nil}
	}
	if p.isKw("lazy") {
		p.advance()
	}
	return p.simplePattern()
}

func (p *parser) constrName() string {
	if p.isOp("`") {
		p.advance()
		return "`" + p.advance().text
	}
	var parts []string
	parts = append(parts, p.advance().text)
	for p.isOp(".") && p.at(1).kind == tUIdent {
		p.advance()
		parts = append(parts, p.advance().text)
	}
	return parts[len(parts)-1]
}

func (p *parser) startsSimplePattern() bool {
	t := p.tok()
	return t.kind == tLIdent || t.kind == tUIdent || t.kind == tInt || t.kind == tString || t.kind == tChar || t.kind == tFloat ||
		p.isOp("(") || p.isOp("[") || p.isOp("{") || p.isOp("`") || (t.kind == tKeyword && (t.text == "true" || t.text == "false"))
}

func (p *parser) simplePattern() pattern {
	t := p.tok()
	switch {
	case t.kind == tLIdent:
		p.advance()
		if t.text == "_" {
			return pAny{}
		}
		return pVar{t.text}
	case t.kind == tUIdent || p.isOp("`"):
		return pConstr{p.constrName(), nil}
	case t.kind == tInt, t.kind == tString, t.kind == tChar, t.kind == tFloat:
		p.advance()
		return pConst{literal(t)}
	case p.isOp("-") && p.at(1).kind == tInt:
		p.advance()
		n := p.advance()
		return pConst{literal(token{kind: tInt, text: "-" + n.text})}
	case t.kind == tKeyword && (t.text == "true" || t.text == "false"):
		p.advance()
		return pConst{vBool(t.text == "true")}
	case p.isOp("("):
		p.advance()
		if p.isOp(")") {
			p.advance()
			return pConst{vUnit{}}
		}
		if p.isKw("module") { // (module M : S)
			for !p.isOp(")") {
				p.advance()
			}
			p.advance()
			return pAny{}
		}
		pat := p.pattern()
		if p.isOp(":") {
			p.advance()
			p.skipType(")")
		}
		p.expectOp(")")
		return pat
	case p.isOp("["):
		p.advance()
		var items []pattern
		for !p.isOp("]") {
			items = append(items, p.pattern())
			if p.isOp(";") {
				p.advance()
			}
		}
		p.advance()
		return pList{items}
	case p.isOp("{"):
		p.advance()
		var fs []pRecField
		for !p.isOp("}") {
			if p.tok().kind == tLIdent && p.tok().text == "_" {
				p.advance()
			} else {
				name := p.fieldName()
				var sub pattern = pVar{name}
				if p.isOp("=") {
					p.advance()
					sub = p.pattern()
				}
				fs = append(fs, pRecField{name, sub})
			}
			if p.isOp(";") {
				p.advance()
			}
		}
		p.advance()
		return pRecord{fs}
	}
	p.fail("unexpected %s in a pattern", t)
	return nil
}

// fieldName reads a record field name, possibly module-qualified (M.f).
func (p *parser) fieldName() string {
	for p.tok().kind == tUIdent && p.at(1).text == "." {
		p.advance()
		p.advance()
	}
	if p.tok().kind != tLIdent {
		p.fail("expected a field name, found %s", p.tok())
	}
	return p.advance().text
}

// expr parses a full expression including sequences (e1; e2).
func (p *parser) expr() expr {
	e := p.exprNoSeq()
	if p.isOp(";") && p.startsExpr(1) {
		p.advance()
		return eSeq{e, p.expr()}
	}
	return e
}

// startsExpr reports whether the token k ahead can start an expression (so
// that a trailing ";" in a sequence is not taken for a separator).
func (p *parser) startsExpr(k int) bool {
	t := p.at(k)
	switch t.kind {
	case tEOF:
		return false
	case tKeyword:
		switch t.text {
		case "in", "end", "done", "then", "else", "with", "and", "of", "to", "downto", "do", "type", "module", "open", "external", "exception", "val", "include":
			return false
		}
		return true
	case tOp:
		switch t.text {
		case "(", "[", "{", "[|", "!", "-", "`", "~", "?":
			return true
		}
		return false
	}
	return true
}

func (p *parser) exprNoSeq() expr {
	switch {
	case p.isKw("let"):
		p.advance()
		if p.isKw("open") {
			p.advance()
			if p.isOp("!") {
				p.advance()
			}
			m := p.modPath()
			p.expectKw("in")
			return eLetOpen{m, p.expr()}
		}
		if p.isKw("module") {
			p.advance()
			name := p.advance().text
			if p.isOp(":") {
				p.advance()
				p.skipModuleType()
			}
			p.expectOp("=")
			m := p.modExpr()
			p.expectKw("in")
			return eLetModule{name, m, p.expr()}
		}
		rec := false
		if p.isKw("rec") {
			p.advance()
			rec = true
		}
		bind := p.bindings()
		p.expectKw("in")
		return eLet{rec, bind, p.expr()}
	case p.isKw("fun"):
		p.advance()
		params := p.params()
		if p.isOp(":") {
			p.advance()
			p.skipType("->")
		}
		p.expectOp("->")
		return eFun{params, p.expr()}
	case p.isKw("function"):
		p.advance()
		return eFunction{p.cases()}
	case p.isKw("match"):
		p.advance()
		e := p.expr()
		p.expectKw("with")
		return eMatch{e, p.cases()}
	case p.isKw("try"):
		p.advance()
		e := p.expr()
		p.expectKw("with")
		return eTry{e, p.cases()}
	}
	e := p.exprTuple()
	if p.isOp("<-") || p.isOp(":=") {
		op := p.advance().text
		return eBin{op: op, a: e, b: p.exprNoSeq()}
	}
	return e
}

func (p *parser) cases() []matchCase {
	if p.isOp("|") {
		p.advance()
	}
	var out []matchCase
	for {
		c := matchCase{pat: p.pattern()}
		if p.isKw("when") {
			p.advance()
			c.guard = p.exprNoSeq()
		}
		p.expectOp("->")
		c.body = p.expr()
		out = append(out, c)
		if !p.isOp("|") {
			return out
		}
		p.advance()
	}
}

func (p *parser) exprTuple() expr {
	e := p.exprBin(0)
	if !p.isOp(",") {
		return e
	}
	items := []expr{e}
	for p.isOp(",") {
		p.advance()
		items = append(items, p.exprBin(0))
	}
	return eTuple{items}
}

// binary operator levels, lowest first; right associativity marked
type opLevel struct {
	match func(string) bool
	right bool
}

var levels = []opLevel{
	{func(s string) bool { return s == "||" || s == "or" }, true},
	{func(s string) bool { return s == "&&" || s == "&" }, true},
	{func(s string) bool {
		if s == "|" || s == "||" || s == "&&" || s == "&" || s == "<-" || s == "->" {
			return false
		}
		return s == "!=" || strings.IndexByte("=<>|&$", s[0]) >= 0
	}, false},
	{func(s string) bool { return s[0] == '@' || s[0] == '^' }, true},
	{func(s string) bool { return s == "::" }, true},
	{func(s string) bool { return (s[0] == '+' || s[0] == '-') && s != "->" }, false},
	{func(s string) bool {
		return s == "mod" || s == "land" || s == "lor" || s == "lxor" || (s[0] == '*' && !strings.HasPrefix(s, "**")) || s[0] == '/' || s[0] == '%'
	}, false},
	{func(s string) bool { return strings.HasPrefix(s, "**") || s == "lsl" || s == "lsr" || s == "asr" }, true},
}

func (p *parser) binOpAt() (string, bool) {
	t := p.tok()
	if t.kind == tOp {
		switch t.text {
		case "(", ")", "[", "]", "{", "}", "[|", "|]", ",", ";", ";;", "`", "|", "->", "<-", ":=", ".", "..", ":", "~", "?", "!":
			return "", false
		}
		return t.text, true
	}
	if t.kind == tKeyword {
		switch t.text {
		case "mod", "land", "lor", "lxor", "lsl", "lsr", "asr", "or":
			return t.text, true
		}
	}
	return "", false
}

func (p *parser) exprBin(level int) expr {
	if level == len(levels) {
		return p.exprUnary()
	}
	lhs := p.exprBin(level + 1)
	for {
		op, ok := p.binOpAt()
		if !ok || !levels[level].match(op) {
			return lhs
		}
		line := p.advance().line
		if levels[level].right {
			rhs := p.exprBin(level)
			return eBin{op: op, a: lhs, b: rhs, line: line}
		}
		rhs := p.exprBin(level + 1)
		lhs = eBin{op: op, a: lhs, b: rhs, line: line}
	}
}

func (p *parser) exprUnary() expr {
	if p.isOp("-") || p.isOp("-.") {
		op := p.advance().text
		return eUn{op, p.exprUnary()}
	}
	if p.isKw("if") {
		p.advance()
		c := p.expr()
		p.expectKw("then")
		t := p.exprNoSeq()
		var f expr = eConst{vUnit{}}
		if p.isKw("else") {
			p.advance()
			f = p.exprNoSeq()
		}
		return eIf{c, t, f}
	}
	if p.isKw("let") || p.isKw("fun") || p.isKw("function") || p.isKw("match") || p.isKw("try") {
		return p.exprNoSeq()
	}
	return p.exprApp()
}

func (p *parser) exprApp() expr {
	line := p.tok().line
	if p.isKw("assert") || p.isKw("lazy") {
		p.advance()
		p.simpleExpr()
		return eConst{vOpaque{"assert/lazy"}}
	}
	if p.tok().kind == tUIdent || p.isOp("`") {
		// a constructor (applied to one argument) or a module path
		if !(p.tok().kind == tUIdent && p.at(1).text == ".") {
			name := p.constrName()
			if p.startsSimpleExpr() {
				return eConstr{name, p.simpleExpr()}
			}
			return eConstr{name, nil}
		}
	}
	fn := p.simpleExpr()
	var args []arg
	for {
		t := p.tok()
		switch {
		case t.kind == tLabel:
			p.advance()
			args = append(args, arg{label: t.text, e: eVar{path: []string{t.text}, line: t.line}})
		case t.kind == tOptLabel:
			p.advance()
			args = append(args, arg{label: t.text, opt: true, e: eVar{path: []string{t.text}, line: t.line}})
		case t.kind == tLabelColon:
			p.advance()
			args = append(args, arg{label: t.text, e: p.simpleExpr()})
		case t.kind == tOptColon:
			p.advance()
			args = append(args, arg{label: t.text, opt: true, e: p.simpleExpr()})
		case p.startsSimpleExpr():
			if t.kind == tUIdent && p.at(1).text != "." {
				// a constructor as an argument: only without its own argument
				args = append(args, arg{e: eConstr{p.constrName(), nil}})
				continue
			}
			args = append(args, arg{e: p.simpleExpr()})
		default:
			if len(args) == 0 {
				return fn
			}
			return eApp{fn: fn, args: args, line: line}
		}
	}
}

func (p *parser) startsSimpleExpr() bool {
	t := p.tok()
	switch t.kind {
	case tLIdent, tUIdent, tInt, tFloat, tString, tChar:
		return true
	case tKeyword:
		return t.text == "true" || t.text == "false" || t.text == "begin"
	case tOp:
		return t.text == "(" || t.text == "[" || t.text == "{" || t.text == "[|" || t.text == "!" || t.text == "`"
	}
	return false
}

func literal(t token) value {
	switch t.kind {
	case tString, tChar:
		return vStr(t.text)
	case tInt:
		s := strings.TrimRight(strings.ReplaceAll(t.text, "_", ""), "lLn")
		var n int64
		if _, err := fmt.Sscan(s, &n); err != nil {
			return vOpaque{"int " + t.text}
		}
		return vInt(n)
	case tFloat:
		var f float64
		if _, err := fmt.Sscan(strings.ReplaceAll(t.text, "_", ""), &f); err != nil {
			return vOpaque{"float " + t.text}
		}
		return vFloat(f)
	}
	return vOpaque{t.text}
}

func (p *parser) simpleExpr() expr {
	e := p.simpleExprBase()
	for {
		switch {
		case p.isOp(".") && p.at(1).kind == tLIdent:
			p.advance()
			e = eField{e, p.advance().text}
		case p.isOp(".") && p.at(1).text == "(":
			p.advance()
			p.advance()
			p.expr()
			p.expectOp(")")
			e = eConst{vOpaque{"array access"}}
		case p.isOp(".") && p.at(1).kind == tUIdent:
			// r.M.field
			p.advance()
			p.advance()
		default:
			return e
		}
	}
}

func (p *parser) simpleExprBase() expr {
	t := p.tok()
	switch {
	case t.kind == tLIdent:
		p.advance()
		return eVar{path: []string{t.text}, line: t.line}
	case t.kind == tUIdent:
		// M.x, M.(e), M.[e], M.{e}, or a constructor
		var path []string
		for p.tok().kind == tUIdent && p.at(1).text == "." {
			path = append(path, p.advance().text)
			p.advance() // "."
			switch {
			case p.tok().kind == tLIdent:
				return eVar{path: append(path, p.advance().text), line: t.line}
			case p.isOp("("):
				p.advance()
				if p.isOp(")") {
					p.advance()
					return eConst{vUnit{}}
				}
				e := p.expr()
				if p.isOp(":") {
					p.advance()
					p.skipType(")")
				}
				p.expectOp(")")
				return eLocalOpen{path, e}
			case p.isOp("[") || p.isOp("{") || p.isOp("[|"):
				return eLocalOpen{path, p.simpleExprBase()}
			}
		}
		if p.tok().kind == tUIdent {
			return eConstr{p.advance().text, nil}
		}
		p.fail("unexpected %s after a module path", p.tok())
	case t.kind == tInt || t.kind == tFloat || t.kind == tString || t.kind == tChar:
		p.advance()
		return eConst{literal(t)}
	case t.kind == tKeyword && (t.text == "true" || t.text == "false"):
		p.advance()
		return eConst{vBool(t.text == "true")}
	case p.isKw("begin"):
		p.advance()
		if p.isKw("end") {
			p.advance()
			return eConst{vUnit{}}
		}
		e := p.expr()
		if p.isOp(";") { // begin e; end
			p.advance()
		}
		p.expectKw("end")
		return e
	case p.isOp("!"):
		p.advance()
		return eUn{"!", p.simpleExpr()}
	case p.isOp("`"):
		return eConstr{p.constrName(), nil}
	case p.isOp("("):
		p.advance()
		if p.isOp(")") {
			p.advance()
			return eConst{vUnit{}}
		}
		if op, ok := p.binOpAt(); ok && p.at(1).text == ")" {
			// ( @ ): an operator as a value
			p.advance()
			p.advance()
			return eVar{path: []string{op}, line: t.line}
		}
		if p.isOp("::") && p.at(1).text == ")" {
			p.advance()
			p.advance()
			return eVar{path: []string{"::"}, line: t.line}
		}
		if p.isKw("module") {
			p.skipParenRest()
			return eConst{vOpaque{"first-class module"}}
		}
		e := p.expr()
		if p.isOp(";") { // (e;)
			p.advance()
		}
		if p.isOp(":") || p.isOp(":>") {
			p.advance()
			p.skipType(")")
		}
		p.expectOp(")")
		return e
	case p.isOp("["):
		p.advance()
		var items []expr
		for !p.isOp("]") {
			items = append(items, p.exprNoSeq())
			if p.isOp(";") {
				p.advance()
			} else if !p.isOp("]") {
				p.fail("expected ; or ] in a list, found %s", p.tok())
			}
		}
		p.advance()
		return eList{items: items}
	case p.isOp("[|"):
		p.advance()
		var items []expr
		for !p.isOp("|]") {
			items = append(items, p.exprNoSeq())
			if p.isOp(";") {
				p.advance()
			}
		}
		p.advance()
		return eList{items: items}
	case p.isOp("{"):
		p.advance()
		r := eRecord{}
		// { e with f = ...}: e is a simple expression
		save := p.i
		if !(p.tok().kind == tLIdent && (p.at(1).text == "=" || p.at(1).text == ";" || p.at(1).text == "}" || p.at(1).text == ":")) &&
			!(p.tok().kind == tUIdent && p.at(1).text == ".") {
			r.with = p.simpleExpr()
			p.expectKw("with")
		} else if p.tok().kind == tUIdent {
			// {M.f = ...} or {M.x with ...}
			e := p.simpleExpr()
			if p.isKw("with") {
				p.advance()
				r.with = e
			} else {
				p.i = save
			}
		}
		for !p.isOp("}") {
			name := p.fieldName()
			var e expr = eVar{path: []string{name}, line: p.tok().line}
			if p.isOp(":") {
				p.advance()
				p.skipType("=")
			}
			if p.isOp("=") {
				p.advance()
				e = p.exprNoSeq()
			}
			r.fields = append(r.fields, recField{name, e})
			if p.isOp(";") {
				p.advance()
			} else if !p.isOp("}") {
				p.fail("expected ; or } in a record, found %s", p.tok())
			}
		}
		p.advance()
		return r
	}
	p.fail("unexpected %s in an expression", t)
	return nil
}

func (p *parser) skipParenRest() {
	depth := 1
	for depth > 0 {
		switch {
		case p.tok().kind == tEOF:
			p.fail("unbalanced parenthesis")
		case p.isOp("("):
			depth++
		case p.isOp(")"):
			depth--
		}
		p.advance()
	}
}
