package statedb_test

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/statedb"
)

// benchDB is a ~20 MB CH 8.2 database (2000 VMs) and the fresh 7.1 one,
// generated once.
var benchDB = sync.OnceValues(func() ([]byte, []byte) {
	big, err := fixtures.StateDB(fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 2000, Seed: "bench"})
	if err != nil {
		panic(err)
	}
	fresh, err := fixtures.StateDB(fixtures.StateDBSpec{Release: "7.1", Fresh: true, Seed: "bench"})
	if err != nil {
		panic(err)
	}
	return big, fresh
})

func BenchmarkScan(b *testing.B) {
	db, _ := benchDB()
	b.SetBytes(int64(len(db)))
	for b.Loop() {
		if _, err := statedb.Scan(bytes.NewReader(db)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCopy(b *testing.B) {
	db, _ := benchDB()
	b.SetBytes(int64(len(db)))
	for b.Loop() {
		if err := statedb.Copy(io.Discard, bytes.NewReader(db)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPatch: 8.2 -> 7.1 like the fresh 7.1 database (drops and the
// re-encoding of every value with a space), planning excluded.
func BenchmarkPatch(b *testing.B) {
	db, fresh := benchDB()
	like, err := statedb.Scan(bytes.NewReader(fresh))
	if err != nil {
		b.Fatal(err)
	}
	src, err := statedb.Scan(bytes.NewReader(db))
	if err != nil {
		b.Fatal(err)
	}
	p, err := statedb.PlanPatch(src, statedb.Target{Like: like}, statedb.PatchOptions{DropData: true})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(db)))
	for b.Loop() {
		if err := p.Apply(io.Discard, bytes.NewReader(db)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDiffRows(b *testing.B) {
	db, _ := benchDB()
	s, err := statedb.Scan(bytes.NewReader(db))
	if err != nil {
		b.Fatal(err)
	}
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(db)), nil }
	b.SetBytes(int64(len(db)))
	for b.Loop() {
		d := statedb.Compare(s, s)
		if err := statedb.DiffRows(d, open, open); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck: the 8.2 database checked for 7.1 (most values hold a
// %. the target does not decode: the slow path of every check).
func BenchmarkCheck(b *testing.B) {
	db, _ := benchDB()
	tm, err := statedb.NewTarget(108, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(db)))
	for b.Loop() {
		if _, err := statedb.Check(bytes.NewReader(db), tm, statedb.CheckOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
