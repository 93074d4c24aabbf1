package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A datamodel in the shapes xen-api uses over the years: helpers with
// optional and labelled parameters, partial application, namespaces with
// and without a trailing (), an object written as a record, modules, a
// field list joined with @ and List.map, defaults of every kind. Each
// column must come out with its flattened name, type, default and
// persistence; nothing may be silently lost.
const toyTypes = `
let rel_rio = "rio"
let rel_george = "george"
type ty = String | Int | Bool | Float | DateTime | Set of ty | Map of ty * ty | Ref of string | Enum of string * (string * string) list
`

const toyCommon = `
open Datamodel_types
let schema_minor_vsn = 57
let _vm = "VM"
let null_ref = "OpaqueRef:NULL"
(* field, namespace and create_obj are evaluated by dmgen itself *)
let field ?(in_product_since = rel_rio) ?(ty = String) ?(default_value = None) ?(persist = true) name desc = assert false
let namespace ~name ~contents () = assert false
let create_obj ~name ~contents = assert false
let uid ?(in_oss_since = None) refname = field ~ty:String "uuid" "unique id"
let names ?(writer = None) qual =
  let field x y = field x y ~default_value:(Some (VString "")) in
  [ field "label" "a name"; field "description" "a (* tricky *) description" ]
let power = Enum ("power", [ ("Halted", "off"); ("Running", "on") ])
`

const toyDatamodel = `
open Datamodel_types
open Datamodel_common

module Guest = struct
  let memory =
    let f = field ~ty:Int ~persist:false in
    [ f "static_max" "max"; f "target" "target" ]
end

let actions = List.map (fun n -> field ~ty:String n "action") [ "after_shutdown"; "after_crash" ]

let vm =
  create_obj ~name:_vm
    ~contents:
      ([ uid _vm; namespace ~name:"name" ~contents:(names RW;) () ]
      @ [ namespace ~name:"memory" ~contents:Guest.memory ()
        ; namespace ~name:"actions" ~contents:actions ()
        ; field ~ty:power ~default_value:(Some (VEnum "Halted")) "power_state" "state"
        ; field ~in_product_since:rel_george ~ty:(Map (String, String)) ~default_value:(Some (VMap [ (VString "k", VString "v'q") ])) "other_config" "oc"
        ; field ~ty:(Set (Ref _vm)) "snapshots" "s"
        ; field ~ty:Float ~default_value:(Some (VFloat 1.)) "shadow" "x"
        ; field ~ty:DateTime ~default_value:(Some (VDateTime Date.never)) "when" "t"
        ; field ~ty:(Ref _vm) ~default_value:(Some (VRef null_ref)) "parent" "p"
        ])

let event = { name = "event"; contents = [ field ~ty:Int "id" "id" ]; persist = PersistNothing }

let all_system = [ vm; event ]
let all_relations = [ ((_vm, "parent"), (_vm, "snapshots")) ]
`

func TestEvalToyDatamodel(t *testing.T) {
	files := map[string]string{
		"ocaml/idl/datamodel_types.ml":  toyTypes,
		"ocaml/idl/datamodel_common.ml": toyCommon,
		"ocaml/idl/datamodel.ml":        toyDatamodel,
	}
	paths := map[string]string{"Datamodel_types": "ocaml/idl/datamodel_types.ml", "Datamodel_common": "ocaml/idl/datamodel_common.ml", "Datamodel": "ocaml/idl/datamodel.ml"}
	m, err := evalModules(paths, func(p string) (string, bool, error) { s, ok := files[p]; return s, ok, nil }, "toy")
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	for _, w := range m.Warnings {
		if !strings.Contains(w, "binding pattern") {
			warnings = append(warnings, w)
		}
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	s := func(v string) *string { return &v }
	want := &Model{Schema: 57, Tables: []Table{
		{Name: "VM", Persist: true, Columns: []Column{
			{Name: "_ref", Type: "string", Persist: true},
			{Name: "actions__after_crash", Type: "string", Persist: true},
			{Name: "actions__after_shutdown", Type: "string", Persist: true},
			{Name: "memory__static_max", Type: "int", Empty: "0"},
			{Name: "memory__target", Type: "int", Empty: "0"},
			{Name: "name__description", Type: "string", Default: s(""), Persist: true},
			{Name: "name__label", Type: "string", Default: s(""), Persist: true},
			{Name: "other_config", Type: "map", Default: s(`(('k' 'v\'q'))`), Empty: "()", Persist: true, Release: "george"},
			{Name: "parent", Type: "ref", Default: s("OpaqueRef:NULL"), Empty: "OpaqueRef:NULL", Persist: true, Relation: true},
			{Name: "power_state", Type: "enum", Default: s("Halted"), Empty: "Halted", Persist: true},
			{Name: "shadow", Type: "float", Default: s("1."), Empty: "0.", Persist: true},
			{Name: "snapshots", Type: "setref", Empty: "()", Persist: true, Relation: true},
			{Name: "uuid", Type: "string", Persist: true},
			{Name: "when", Type: "datetime", Default: s("19700101T00:00:00Z"), Empty: "19700101T00:00:00Z", Persist: true},
		}},
		{Name: "event", Columns: []Column{
			{Name: "_ref", Type: "string", Persist: true},
			{Name: "id", Type: "int", Empty: "0", Persist: true},
		}},
	}}
	m.Warnings, m.Steps = nil, 0
	if d := cmp.Diff(want, m); d != "" {
		t.Errorf("model (-want +got):\n%s", d)
	}
}

// An element of contents that is not a field must be reported, never
// dropped without a word.
func TestEvalReportsOpaqueContents(t *testing.T) {
	src := "let field a b = 0\nlet create_obj ~name ~contents = 0\n" + `let all_system = [ create_obj ~name:"X" ~contents:[ field "a" "b"; some_unknown_helper 3 ] ]`
	m, err := evalModules(map[string]string{"Datamodel": "ocaml/idl/datamodel.ml"}, func(string) (string, bool, error) { return src, true, nil }, "toy")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) == 0 || !strings.Contains(strings.Join(m.Warnings, "\n"), "an element is not a field") {
		t.Errorf("warnings %q", m.Warnings)
	}
}

func TestOCamlFloat(t *testing.T) {
	for f, want := range map[float64]string{0: "0.", 1: "1.", 0.5: "0.5", 20: "20.", 1e20: "1e+20", -1.5: "-1.5"} {
		if got := ocamlFloat(f); got != want {
			t.Errorf("ocamlFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

// FuzzEval: whatever the source, lexing, parsing and evaluating a
// datamodel file ends with a model or an error, never a panic or a hang.
func FuzzEval(f *testing.F) {
	for _, s := range []string{toyTypes, toyCommon, toyDatamodel, "let rec f x = f x\nlet all_system = [ f 1 ]", "let all_system = (* unterminated", `let x = "\`, "let all_system = [ create_obj ~name:1 ~contents:() ]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		paths := map[string]string{"Datamodel": "ocaml/idl/datamodel.ml"}
		evalModules(paths, func(string) (string, bool, error) { return src, true, nil }, "fuzz")
	})
}

// TestEvalSteps: a recursion that branches at every level (within the
// depth bound, 2^depth calls) stops at the step budget with an error; the
// real datamodels take about 31,000 steps (xen-api e2ee48d6883e, schema
// 909: `dmgen -at`), far below it.
func TestEvalSteps(t *testing.T) {
	t.Parallel()
	paths := map[string]string{"Datamodel": "ocaml/idl/datamodel.ml"}
	src := "let rec f x = f x = f x\nlet all_system = [ f 1 ]"
	_, err := evalModules(paths, func(string) (string, bool, error) { return src, true, nil }, "branching")
	if err == nil || !strings.Contains(err.Error(), "evaluation steps") {
		t.Errorf("err = %v, want the step budget", err)
	}
}
