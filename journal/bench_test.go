package journal

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// benchFile writes a text file of about size bytes (xapi-database-like rows).
func benchFile(tb testing.TB, p string, size int) {
	f, err := os.Create(p)
	testutil.Must(tb, err)
	w := bufio.NewWriterSize(f, 1<<20)
	for i, n := 0, 0; n < size; i++ {
		k, _ := fmt.Fprintf(w, "<row ref='OpaqueRef:%08x-1c5e-4a8b-9d1e-%012x' name__label='vm-%d' power_state='Halted' memory='%d'/>\n", i, i*7919, i%977, i%4096*1048576)
		n += k
	}
	testutil.Must(tb, w.Flush())
	testutil.Must(tb, f.Close())
}

// editFirstLine streams p with its first line replaced.
func editFirstLine(p, line string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		r := bufio.NewReaderSize(f, 1<<20)
		if _, err := r.ReadString('\n'); err != nil {
			f.Close()
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader([]byte(line+"\n")), r), f}, nil
	}
}

// BenchmarkApplyOneLine100MB: snapshot, apply and verify a one-line change
// to a 100 MB file, each op on the previous op's result. journal-B/op is
// the journal's growth per op (the compressed before-image, which differs
// by one line every time).
func BenchmarkApplyOneLine100MB(b *testing.B) {
	dir := b.TempDir()
	benchFile(b, filepath.Join(dir, "state.db"), 100<<20)
	tgt, err := target.Open(context.Background(), target.Options{Root: dir})
	testutil.Must(b, err)
	defer tgt.Close()
	j, err := Open(filepath.Join(b.TempDir(), "journal.db"))
	testutil.Must(b, err)
	defer j.Close()
	ctx := context.Background()
	start, _, _ := j.Size(ctx)
	ops := 0
	b.SetBytes(100 << 20)
	for b.Loop() {
		ops++
		p := &plan.Plan{Changes: []plan.Change{{Kind: plan.Write, Path: "state.db", Stream: editFirstLine(filepath.Join(dir, "state.db"), fmt.Sprintf("<changed n='%d'/>", ops))}}}
		if _, err := j.Apply(ctx, tgt, nil, p); err != nil {
			b.Fatal(err)
		}
	}
	end, _, _ := j.Size(ctx)
	b.ReportMetric(float64(end-start)/float64(ops), "journal-B/op")
}
