package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Log is what the VM's init wrote to its result channel (scripts/vmtest/init
// documents the framing).
type Log struct {
	Results map[string]*Result
	Order   []string          // result names in the order the VM ran them
	Devices map[string]Device // by disk ID (@@DEVICE)
	Undo    map[string]string // by disk ID: the undo command version set printed (@@UNDO)
	Notes   []string          // @@NOTE lines
	Fatal   string            // @@FATAL: init gave up
	Done    bool              // @@DONE: init ran to the end
}

// Result is one command the VM ran.
type Result struct {
	Name   string
	RC     int
	Stdout []byte
	Stderr []byte
	Line   int // line of its @@RESULT in the log
}

// Device is how the VM's kernel saw a disk.
type Device struct {
	Name       string // vda, sdb, ...
	SectorSize int    // logical block size from sysfs
}

// maxLine bounds a line of the log; busybox base64 wraps at 76 columns, so
// only a corrupted log comes near it.
const maxLine = 1 << 20

// ParseLog reads the result channel. Anything outside the framing, a frame
// cut short, bad base64 or a result named twice is an error naming the line.
func ParseLog(r io.Reader) (*Log, error) {
	l := &Log{Results: map[string]*Result{}, Devices: map[string]Device{}, Undo: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var cur *Result
	var section *bytes.Buffer // the base64 text of the open @@STDOUT or @@STDERR
	var out, errOut bytes.Buffer
	n := 0
	fail := func(format string, args ...any) error {
		return fmt.Errorf("results.log line %d: %s", n, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if cur != nil && !strings.HasPrefix(line, "@@") {
			if section == nil {
				return nil, fail("output of %s outside @@STDOUT/@@STDERR", cur.Name)
			}
			section.WriteString(line)
			continue
		}
		tag, rest, _ := strings.Cut(line, " ")
		switch {
		case line == "": // between frames (inside one it is output, above)
		case tag == "@@RESULT":
			if cur != nil {
				return nil, fail("@@RESULT inside %s (no @@END)", cur.Name)
			}
			name, rc, ok := strings.Cut(rest, " rc=")
			code, err := strconv.Atoi(rc)
			if !ok || name == "" || strings.ContainsAny(name, " \t") || err != nil || code < 0 || code > 255 {
				return nil, fail("malformed %q (want @@RESULT NAME rc=N)", line)
			}
			if _, dup := l.Results[name]; dup {
				return nil, fail("result %s given twice", name)
			}
			cur, section = &Result{Name: name, RC: code, Line: n}, nil
			out.Reset()
			errOut.Reset()
		case tag == "@@STDOUT" && rest == "" && cur != nil:
			section = &out
		case tag == "@@STDERR" && rest == "" && cur != nil:
			section = &errOut
		case tag == "@@END" && cur != nil:
			if rest != cur.Name {
				return nil, fail("@@END %s closes %s", rest, cur.Name)
			}
			var err error
			if cur.Stdout, err = decode64(out.String()); err != nil {
				return nil, fail("stdout of %s: %v", cur.Name, err)
			}
			if cur.Stderr, err = decode64(errOut.String()); err != nil {
				return nil, fail("stderr of %s: %v", cur.Name, err)
			}
			l.Results[cur.Name] = cur
			l.Order = append(l.Order, cur.Name)
			cur, section = nil, nil
		case tag == "@@DEVICE" && cur == nil:
			f := strings.Fields(rest)
			var size int
			var err error
			if len(f) == 3 {
				size, err = strconv.Atoi(f[2])
			}
			if len(f) != 3 || err != nil || size <= 0 {
				return nil, fail("malformed %q (want @@DEVICE ID NAME SECTOR-SIZE)", line)
			}
			l.Devices[f[0]] = Device{Name: f[1], SectorSize: size}
		case tag == "@@UNDO" && cur == nil:
			id, cmd, _ := strings.Cut(rest, " ")
			if id == "" {
				return nil, fail("malformed %q (want @@UNDO ID COMMAND)", line)
			}
			l.Undo[id] = cmd
		case tag == "@@NOTE" && cur == nil:
			l.Notes = append(l.Notes, rest)
		case tag == "@@FATAL" && cur == nil:
			l.Fatal = rest
		case line == "@@DONE" && cur == nil:
			l.Done = true
		default:
			return nil, fail("unexpected %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("results.log line %d: %w", n+1, err)
	}
	if cur != nil {
		return nil, fmt.Errorf("results.log: %s (line %d) has no @@END: the log is cut short", cur.Name, cur.Line)
	}
	return l, nil
}

func decode64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("bad base64 at byte %d", int64(ce))
		}
		return nil, err
	}
	return b, nil
}
