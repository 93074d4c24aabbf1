package guestfix

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// AccountFile is a colon-separated account database (passwd, group, shadow,
// gshadow).
type AccountFile struct {
	Name    string
	Entries []AccountEntry
	data    []byte
}

// AccountEntry is one line of an AccountFile.
type AccountEntry struct {
	Line   int
	Fields []string
}

// ID is the numeric third field (uid in passwd, gid in group), or -1.
func (e AccountEntry) ID() int {
	if len(e.Fields) < 3 {
		return -1
	}
	n, err := strconv.Atoi(e.Fields[2])
	if err != nil {
		return -1
	}
	return n
}

// AccountFormat says how many fields a line has and whether the third is a
// numeric id.
type AccountFormat struct {
	Fields    int
	NumericID bool
}

// The four account databases useradd and groupadd edit.
var (
	Passwd  = AccountFormat{Fields: 7, NumericID: true}
	Group   = AccountFormat{Fields: 4, NumericID: true}
	Shadow  = AccountFormat{Fields: 9}
	Gshadow = AccountFormat{Fields: 4}
)

// ParseAccounts reads an account database in the given format. NIS compat
// lines (+name, -name, +) are kept but not checked.
func ParseAccounts(r io.Reader, name string, format AccountFormat) (*AccountFile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	a := &AccountFile{Name: name, data: data}
	fields := format.Fields
	for i, raw := range splitLines(data) {
		text := strings.TrimRight(raw, "\r\n")
		if strings.TrimSpace(text) == "" || text[0] == '#' || text[0] == '+' || text[0] == '-' {
			continue
		}
		f := strings.Split(text, ":")
		if len(f) != fields {
			return nil, invalidLine(name, i+1, "expected %d colon-separated fields, got %d", fields, len(f))
		}
		if f[0] == "" {
			return nil, invalidLine(name, i+1, "empty name")
		}
		if format.NumericID {
			if _, err := strconv.Atoi(f[2]); err != nil {
				return nil, invalidLine(name, i+1, "id %q is not a number", f[2])
			}
		}
		a.Entries = append(a.Entries, AccountEntry{Line: i + 1, Fields: f})
	}
	return a, nil
}

// Lookup finds an entry by name.
func (a *AccountFile) Lookup(name string) (AccountEntry, bool) {
	for _, e := range a.Entries {
		if e.Fields[0] == name {
			return e, true
		}
	}
	return AccountEntry{}, false
}

// ByID finds an entry by its numeric third field.
func (a *AccountFile) ByID(id int) (AccountEntry, bool) {
	for _, e := range a.Entries {
		if e.ID() == id {
			return e, true
		}
	}
	return AccountEntry{}, false
}

// Appended is the file with line added at the end, as useradd and groupadd
// add entries.
func (a *AccountFile) Appended(line string) []byte {
	return appendLine(a.data, line)
}
