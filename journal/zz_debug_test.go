package journal

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestZZDebugFuzzSpeed(t *testing.T) {
	valid := sampleJournal(t, t.TempDir())
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 200; i++ {
		data := append([]byte(nil), valid...)
		for k := 0; k < 1+rng.IntN(8); k++ {
			data[rng.IntN(len(data))] = byte(rng.IntN(256))
		}
		start := time.Now()
		p := filepath.Join(t.TempDir(), "j.db")
		os.WriteFile(p, data, 0o600)
		j, err := OpenReadOnly(p)
		stage := "open"
		if err == nil {
			ctx := context.Background()
			ops, err := j.List(ctx)
			stage = "list"
			if err == nil {
				for _, op := range ops {
					if _, err := j.Op(ctx, op.ID); err == nil {
						j.Export(ctx, op.ID, io.Discard)
					}
				}
				stage = "export"
			}
			j.Close()
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Logf("run %d: %s at %s (%v)", i, d, stage, err)
		}
	}
}
