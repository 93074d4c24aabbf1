// Package ctxio stops long reads when their context is cancelled (Ctrl-C,
// SIGTERM, or a sibling goroutine that failed): a parser or a copy reading
// through it returns at its next read instead of finishing a 100 MB file.
package ctxio

import (
	"context"
	"io"
)

// NewReader returns r, failing with ctx.Err() from the first read after ctx
// is done.
func NewReader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
