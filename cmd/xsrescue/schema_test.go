package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Every JSON document a test makes the program print is checked against
// its schema in docs/schema (checkDocument, called by run): the schemas
// are checked against real outputs of every command, not against
// examples. A full run of the package's tests (no -run) must have checked
// every schema at least once (checkSchemaCoverage, from TestMain).

// documentKinds maps a command to the schema of its JSON document (file
// docs/schema/KIND.schema.json); every command that writes prints the
// mutation document.
var documentKinds = map[string]string{
	"answerfile upgrade":     "mutation",
	"answerfile restore":     "mutation",
	"demo":                   "demo",
	"disk inspect":           "disk-inspect",
	"disk save-partition":    "mutation",
	"disk restore-partition": "mutation",
	"doctor":                 "doctor",
	"guest check":            "guest-check",
	"guest fix":              "mutation",
	"journal list":           "journal-list",
	"journal show":           "journal-show",
	"journal undo":           "mutation",
	"journal recover":        "mutation",
	"journal export":         "mutation",
	"odm ghosts":             "odm-ghosts",
	"odm purge":              "mutation",
	"statedb show":           "statedb-show",
	"statedb diff":           "statedb-diff",
	"statedb check":          "statedb-check",
	"statedb patch":          "mutation",
	"version show":           "version-show",
	"version find":           "version-find",
	"version set":            "mutation",
	"zfs labels":             "zfs-labels",
	"zone list":              "zone-list",
	"zone publishers":        "zone-publishers",
	"zone set-sticky":        "mutation",
	"zone unset-publisher":   "mutation",
	"zone restore-etc":       "mutation",
	"zz-journal-test-write":  "mutation",
	"--version":              "version",
}

// schemaDir is docs/schema, found from the package directory before any
// test changes the working directory (t.Chdir).
var schemaDir = func() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..", "docs", "schema")
}()

var schemas struct {
	once     sync.Once
	err      error
	compiled map[string]*jsonschema.Schema

	mu   sync.Mutex
	seen map[string]int
	bad  []string
}

func loadSchemas() error {
	schemas.once.Do(func() {
		schemas.compiled, schemas.seen = map[string]*jsonschema.Schema{}, map[string]int{}
		files, err := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
		if err != nil || len(files) == 0 {
			schemas.err = fmt.Errorf("no schemas in docs/schema: %v", err)
			return
		}
		c := jsonschema.NewCompiler()
		for _, f := range files {
			s, err := c.Compile(f)
			if err != nil {
				schemas.err = err
				return
			}
			schemas.compiled[strings.TrimSuffix(filepath.Base(f), ".schema.json")] = s
		}
	})
	return schemas.err
}

// commandOf is the command argv runs ("version set", "doctor",
// "--version"), "" when none is recognised.
func commandOf(argv []string) string {
	for i, a := range argv[1:] {
		if a == "--version" {
			return a
		}
		for name := range documentKinds {
			group, sub, two := strings.Cut(name, " ")
			if a != group {
				continue
			}
			if !two {
				return name
			}
			if i+2 < len(argv) && argv[i+2] == sub {
				return name
			}
		}
	}
	return ""
}

// checkDocument checks stdout, the output of argv under --json, against
// the schema of its kind: the error document, or the command's own.
func checkDocument(argv []string, stdout string) {
	if !slices.Contains(argv, "--json") || strings.TrimSpace(stdout) == "" {
		return
	}
	report := func(format string, args ...any) {
		schemas.mu.Lock()
		defer schemas.mu.Unlock()
		schemas.bad = append(schemas.bad, fmt.Sprintf("%q: ", argv)+fmt.Sprintf(format, args...))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &top); err != nil {
		report("not one JSON object: %v\n%s", err, stdout)
		return
	}
	kind := documentKinds[commandOf(argv)]
	if _, ok := top["error"]; ok && len(top) == 2 {
		kind = "error"
	}
	if kind == "" {
		return // a test-only command
	}
	if err := loadSchemas(); err != nil {
		report("%v", err)
		return
	}
	s := schemas.compiled[kind]
	if s == nil {
		report("no schema docs/schema/%s.schema.json", kind)
		return
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(stdout))
	if err == nil {
		err = s.Validate(inst)
	}
	if err != nil {
		report("does not match docs/schema/%s.schema.json: %v\n%s", kind, err, stdout)
	}
	schemas.mu.Lock()
	schemas.seen[kind]++
	schemas.mu.Unlock()
}

// checkSchemaCoverage reports the documents that did not match their
// schema and, after a run of every test, the schemas no output was
// checked against. It returns false on either.
func checkSchemaCoverage() bool {
	schemas.mu.Lock()
	defer schemas.mu.Unlock()
	for _, b := range schemas.bad {
		fmt.Fprintln(os.Stderr, "schema check:", b)
	}
	ok := len(schemas.bad) == 0
	run, skip := flag.Lookup("test.run"), flag.Lookup("test.skip")
	if run == nil || run.Value.String() != "" || schemas.seen == nil {
		return ok
	}
	var missing []string
	for k := range schemas.compiled {
		demoSkipped := os.Getenv("XSRESCUE_TEST_DEMO") != "1" || (skip != nil && strings.Contains(skip.Value.String(), "Demo"))
		if schemas.seen[k] == 0 && !(k == "demo" && demoSkipped) {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "schema check: no test output was checked against docs/schema/{%s}.schema.json\n", strings.Join(missing, ","))
		ok = false
	}
	return ok
}
