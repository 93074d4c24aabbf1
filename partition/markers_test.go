package partition_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/partition"
)

func TestParseInventory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"PRODUCT_VERSION='5.5.0'\n", map[string]string{"PRODUCT_VERSION": "5.5.0"}},
		{"A=b=c\n", map[string]string{"A": "b=c"}},                    // split at the first '='
		{"A='it''s'\n", map[string]string{"A": "it''s"}},              // one pair of quotes stripped
		{"A='x\nB=plain", map[string]string{"A": "'x", "B": "plain"}}, // unbalanced quote kept; no final newline
		{" A = 'v' \n", map[string]string{"A": "v"}},                  // whitespace around key and value
		{"# comment\n\nno equals\n=orphan\n", map[string]string{}},    // no comment handling, but no key either
		{"A='1'\nA='2'\n", map[string]string{"A": "2"}},               // the last one wins, as when sourced
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, partition.ParseInventory([]byte(tt.in))); diff != "" {
			t.Errorf("ParseInventory(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
