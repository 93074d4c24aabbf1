package ansiblemod

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/internal/lazyre"
)

// maxArgsFile bounds the arguments file: options are a few paths and
// versions, never data.
const maxArgsFile = 1 << 20

// args are a task's options as Ansible wrote them, with its internals
// taken out.
type args struct {
	opts      map[string]any
	checkMode bool // _ansible_check_mode: plan only (the dry run)
	diff      bool // _ansible_diff: return the changes as diffs
}

// readArgs reads the JSON arguments file Ansible wrote.
func readArgs(path string) (*args, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("arguments file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxArgsFile+1))
	if err != nil {
		return nil, fmt.Errorf("arguments file %s: %w", path, err)
	}
	if len(b) > maxArgsFile {
		return nil, fmt.Errorf("arguments file %s: larger than %d bytes", path, maxArgsFile)
	}
	return parseArgs(path, b)
}

func parseArgs(path string, b []byte) (*args, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("arguments file %s: not a JSON object: %w", path, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("arguments file %s: not a JSON object", path)
	}
	a := &args{opts: map[string]any{}}
	for k, v := range raw {
		if !strings.HasPrefix(k, "_ansible_") {
			a.opts[k] = v
			continue
		}
		switch k {
		case "_ansible_check_mode":
			a.checkMode = v == true
		case "_ansible_diff":
			a.diff = v == true
		}
	}
	return a, nil
}

// optionName is what an option may be called: a long flag with
// underscores for dashes.
var optionName = lazyre.New(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// reserved are the global flags a module sets itself from the task (check
// mode, the confirmation, the one JSON document).
var reserved = map[string]string{
	"json":    "the module always reads the JSON document",
	"dry_run": "use Ansible's check mode (--check)",
	"n":       "use Ansible's check mode (--check)",
	"yes":     "a task is the confirmation",
	"y":       "a task is the confirmation",
	"help":    "see ansible-doc",
	"h":       "see ansible-doc",
}

// take removes option name from the options and returns it ("" when
// absent or null).
func (a *args) take(name string) (string, bool, error) {
	v, ok := a.opts[name]
	delete(a.opts, name)
	if !ok || v == nil {
		return "", false, nil
	}
	s, err := scalar(name, v)
	return s, err == nil, err
}

// flags turns the remaining options into long flags, sorted by name so
// the command line is the same for the same task: a string or number is
// --name=value, true is --name (false: left out), a list repeats the flag.
func (a *args) flags() ([]string, error) {
	names := make([]string, 0, len(a.opts))
	for n := range a.opts {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		if why, ok := reserved[n]; ok {
			return nil, fmt.Errorf("option %s is not accepted: %s", n, why)
		}
		if !optionName().MatchString(n) {
			return nil, fmt.Errorf("option %q: not an option name (the command's long flags, with underscores)", n)
		}
		flag := "--" + strings.ReplaceAll(n, "_", "-")
		switch v := a.opts[n].(type) {
		case nil:
		case bool:
			if v {
				out = append(out, flag)
			}
		case []any:
			for _, e := range v {
				s, err := scalar(n, e)
				if err != nil {
					return nil, err
				}
				out = append(out, flag+"="+s)
			}
		default:
			s, err := scalar(n, v)
			if err != nil {
				return nil, err
			}
			out = append(out, flag+"="+s)
		}
	}
	return out, nil
}

// scalar is an option's value as the command line spells it.
func scalar(name string, v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case json.Number:
		return v.String(), nil
	}
	return "", fmt.Errorf("option %s: a %T where a string, number or boolean was expected", name, v)
}
