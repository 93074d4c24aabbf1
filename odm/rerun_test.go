package odm

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUndoNodesRoundTrip: the entries undo.ksh recreates read back exactly,
// names with quotes and spaces included.
func TestUndoNodesRoundTrip(t *testing.T) {
	t.Parallel()
	p := &Purge{Majors: []int{44}, Nodes: []Node{
		{Path: "dev/it's", Type: Symlink, Link: "r l'v", UID: -1, GID: -1},
		{Path: "dev/lv 1", Type: Block, Major: 44, Minor: 1, Mode: fs.ModeDevice | 0o640, UID: 0, GID: 3},
		{Path: "dev/r'lv", Type: Char, Major: 44, Minor: 128, Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, UID: 2, GID: 0},
	}}
	got, ok := undoNodes(undoScript(p))
	if !ok {
		t.Fatal("undo.ksh does not parse")
	}
	want := []Node{
		{Path: "dev/it's", Type: Symlink, Link: "r l'v", UID: -1, GID: -1},
		{Path: "dev/lv 1", Type: Block, Major: 44, Minor: 1, Mode: 0o640, UID: 0, GID: 3},
		{Path: "dev/r'lv", Type: Char, Major: 44, Minor: 128, Mode: 0o600, UID: 2, GID: 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	for _, bad := range []string{"mk_node 'x c 1 2 600 0 0\n", "mk_node 'x' q 1 2 600 0 0\n", "mk_node 'x' c 1 2 999 0 0\n", "mk_link 'a'\n"} {
		if _, ok := undoNodes([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzUndoNodes: any undo.ksh text parses without a panic, and what parses
// is written back by undoScript and reads back the same.
func FuzzUndoNodes(f *testing.F) {
	f.Add([]byte("mk_node 'lv'\\''1' b 44 1 640 0 3\nmk_link 'l' 'lv'\n"))
	f.Add([]byte("mk_node 'x c 1 2 600 0 0\n"))
	f.Add([]byte("mk_node 'x' c 1 2 99999999999 0 0\nmk_link 'a' 'b' 'c'\n"))
	f.Add([]byte("mk_node '' c 0 0 0 0 0\nmk_node 'a' b -1 0 600 0 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		nodes, ok := undoNodes(data)
		if !ok {
			return
		}
		for _, n := range nodes {
			if strings.Contains(n.Path, "\n") || strings.Contains(n.Link, "\n") {
				return
			}
		}
		again, ok := undoNodes(undoScript(&Purge{Nodes: nodes}))
		if !ok || !cmp.Equal(nodes, again) {
			t.Fatalf("round trip:\n%s", cmp.Diff(nodes, again))
		}
	})
}
