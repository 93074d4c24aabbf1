package journal

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// FuzzReadJournal: a journal whose rows are damaged (argv, change kind,
// before/after states, blob bytes) gives errors, never a panic, in
// everything the read-only commands and undo's loading do with it. SQLite's
// own file format is SQLite's to fuzz; what xsrescue parses is the rows.
func FuzzReadJournal(f *testing.F) {
	valid := sampleJournal(f, f.TempDir())
	f.Add(`["xsrescue","sample"]`, "write", `{"exists":true,"type":"file","sha256":"ab","size":4,"mode":420,"uid":0,"gid":0}`, `{"exists":true}`, []byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Add(`{`, "bogus", `[1,2`, `null`, []byte("not zstd"))
	f.Add(`[]`, "node-remove", `{"exists":true,"type":"block","rdev":18446744073709551615,"xattrs":{"a":"!!"}}`, `{"size":-1}`, []byte{})
	f.Add(`[1]`, "symlink-remove", `{"exists":true,"type":"symlink","link":"../../../../etc/shadow","mtime_ns":-9223372036854775808}`, `{}`, []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, argv, kind, before, after string, blob []byte) {
		p := filepath.Join(t.TempDir(), "j.db")
		if err := os.WriteFile(p, valid, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite3", p)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []struct {
			sql string
			arg any
		}{
			{"UPDATE ops SET argv = ?", argv},
			{"UPDATE changes SET kind = ? WHERE seq = 1", kind},
			{"UPDATE changes SET before = ? WHERE seq = 1", before},
			{"UPDATE changes SET after = ? WHERE seq = 2", after},
			{"UPDATE blob_chunks SET data = ?", blob},
		} {
			if _, err := db.Exec(q.sql, q.arg); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		j, err := OpenReadOnly(p)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		ctx := context.Background()
		ops, err := j.List(ctx)
		if err != nil {
			return
		}
		for _, op := range ops {
			if _, err := j.Op(ctx, op.ID); err == nil {
				j.Export(ctx, op.ID, io.Discard)
			}
		}
	})
}

// sampleJournal is the bytes of a journal holding one applied op.
func sampleJournal(tb testing.TB, dir string) []byte {
	root := filepath.Join(dir, "root")
	testutil.Must(tb, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	testutil.Must(tb, os.WriteFile(filepath.Join(root, "etc/a"), []byte("old\n"), 0o644))
	testutil.Must(tb, os.Symlink("a", filepath.Join(root, "etc/l")))
	tgt, err := target.Open(context.Background(), target.Options{Root: root})
	testutil.Must(tb, err)
	defer tgt.Close()
	p := filepath.Join(dir, "sample.db")
	j, err := Open(p)
	testutil.Must(tb, err)
	_, err = j.Apply(context.Background(), tgt, []string{"xsrescue", "sample"}, &plan.Plan{Changes: []plan.Change{
		{Kind: plan.Write, Path: "etc/a", Content: []byte("new\n")},
		{Kind: plan.RemoveSymlink, Path: "etc/l"},
	}})
	testutil.Must(tb, err)
	// A rollback journal, not WAL: the file alone is then the whole journal.
	_, err = j.db.Exec("PRAGMA journal_mode = DELETE")
	testutil.Must(tb, err)
	testutil.Must(tb, j.Close())
	b, err := os.ReadFile(p)
	testutil.Must(tb, err)
	return b
}
