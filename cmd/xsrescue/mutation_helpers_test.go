package main

import (
	"encoding/json"
	"testing"
)

// mutationOut is a mutation document as a script reads it, with details
// decoded into the given value.
type mutationOut struct {
	SchemaVersion int              `json:"schema_version"`
	Changed       bool             `json:"changed"`
	DryRun        bool             `json:"dry_run"`
	Target        mutationTarget   `json:"target"`
	Changes       []mutationChange `json:"changes"`
	Op            *opDoc           `json:"op"`
	Ops           []*opDoc         `json:"ops"`
	Problems      []string         `json:"problems"`
	Details       any              `json:"details"`
	Error         *errorInfo       `json:"error"`
}

// parseMutation decodes out as a mutation document (details into
// details, when not nil) and checks what every one of them must say.
func parseMutation(t *testing.T, out string, details any) *mutationOut {
	t.Helper()
	doc := &mutationOut{Details: details}
	if err := json.Unmarshal([]byte(out), doc); err != nil {
		t.Fatalf("not a mutation document: %v\n%s", err, out)
	}
	if doc.SchemaVersion != schemaVersion || doc.Changes == nil || doc.Ops == nil || doc.Problems == nil {
		t.Errorf("mutation document without schema_version, changes, ops or problems:\n%s", out)
	}
	if n := len(doc.Ops); (n == 0) != (doc.Op == nil) || (n > 0 && doc.Op.ID != doc.Ops[n-1].ID) {
		t.Errorf("op is not the last of ops:\n%s", out)
	}
	return doc
}
