package journal

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/xsrescue/xsrescue/target"
)

// FuzzReadJournal: a damaged or foreign journal file gives errors, never a
// panic, in everything the read-only commands do with it.
func FuzzReadJournal(f *testing.F) {
	dir := f.TempDir()
	valid := sampleJournal(f, dir)
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte("SQLite format 3\x00garbage"))
	f.Add([]byte{})
	// A journal whose rows are damaged: bad argv, bad states, a lost blob.
	damaged := filepath.Join(dir, "damaged.db")
	must(f, os.WriteFile(damaged, valid, 0o600))
	db, err := sql.Open("sqlite3", damaged)
	must(f, err)
	for _, q := range []string{"UPDATE ops SET argv = '{'", "UPDATE changes SET before = '[1,2'", "UPDATE changes SET kind = 'bogus'", "DELETE FROM blob_chunks"} {
		_, err := db.Exec(q)
		must(f, err)
		must(f, db.Close())
		b, err := os.ReadFile(damaged)
		must(f, err)
		f.Add(b)
		must(f, os.WriteFile(damaged, valid, 0o600))
		db, err = sql.Open("sqlite3", damaged)
		must(f, err)
	}
	db.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "j.db")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := OpenReadOnly(p)
		if err != nil {
			return
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
	must(tb, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(tb, os.WriteFile(filepath.Join(root, "etc/a"), []byte("old\n"), 0o644))
	must(tb, os.Symlink("a", filepath.Join(root, "etc/l")))
	tgt, err := target.Open(context.Background(), target.Options{Root: root})
	must(tb, err)
	defer tgt.Close()
	p := filepath.Join(dir, "sample.db")
	j, err := Open(p)
	must(tb, err)
	_, err = j.Apply(context.Background(), tgt, []string{"xsrescue", "sample"}, &Plan{Changes: []Change{
		{Kind: Write, Path: "etc/a", Content: []byte("new\n")},
		{Kind: RemoveSymlink, Path: "etc/l"},
	}})
	must(tb, err)
	// Fold the WAL into the file so that the bytes are the whole journal.
	_, err = j.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	must(tb, err)
	must(tb, j.Close())
	b, err := os.ReadFile(p)
	must(tb, err)
	return b
}
