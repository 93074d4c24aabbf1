package partition_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/partition"
)

func TestParseInventory(t *testing.T) {
	// What host-installer's util.readKeyValueFile returns (the same from
	// fc4eed16e14f to 05720e0c0421), keys that are not shell names left out.
	t.Parallel()
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"PRODUCT_VERSION='5.5.0'\n", map[string]string{"PRODUCT_VERSION": "5.5.0"}},
		{"A=b=c\n", map[string]string{"A": "b=c"}},                                      // split at the first '='
		{"A='it''s'\n", map[string]string{"A": "it''s"}},                                // strip("'"): outer quotes only
		{"A=''x''\n", map[string]string{"A": "x"}},                                      // every leading and trailing quote
		{"A='x\nB=plain", map[string]string{"A": "x", "B": "plain"}},                    // unbalanced quote stripped; no final newline
		{"PRODUCT_VERSION='5.5.0' \n", map[string]string{"PRODUCT_VERSION": "5.5.0' "}}, // a space after the closing quote stays
		{"A='1'\r\n", map[string]string{"A": "1'\r"}},                                   // only "\n" ends a line
		{" A = 'v' \n", map[string]string{}},                                            // key " A ": no shell name, never looked up
		{"# comment\n\nno equals\n=orphan\n", map[string]string{}},                      // no key a lookup would use
		{"PRODUCT_NAMEx\n", map[string]string{"PRODUCT_NAME": "PRODUCT_NAMEx"}},         // no '=': Python's l[:-1] is the key
		{"A='1'\nA='2'\n", map[string]string{"A": "2"}},                                 // the last one wins (a dict)
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, partition.ParseInventory([]byte(tt.in))); diff != "" {
			t.Errorf("ParseInventory(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
