package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xsrescue/xsrescue/plan"
)

// rawType is the state type of a RawWrite's before and after.
const rawType = "raw"

func validateRaw(r *plan.RawRecord, content []byte) error {
	if r == nil || r.Device == "" || len(r.Extents) == 0 {
		return fmt.Errorf("raw write without a device and extents")
	}
	if !strings.HasPrefix(r.Device, "/") {
		return fmt.Errorf("raw write: device %q is not an absolute path", r.Device)
	}
	for _, e := range r.Extents {
		if e.Offset < 0 || e.Length <= 0 || e.Offset > r.Size-e.Length {
			return fmt.Errorf("raw write: extent at %d (%d bytes) is outside the %d-byte device", e.Offset, e.Length, r.Size)
		}
	}
	if int64(len(content)) != r.Total() {
		return fmt.Errorf("raw write: %d new bytes for %d bytes of extents", len(content), r.Total())
	}
	return nil
}

// read reads the record's extents, concatenated, after checking that the
// device is still the size it was planned on.
func readRaw(r *plan.RawRecord) ([]byte, error) {
	f, err := os.Open(r.Device)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkRawSize(r, f); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, e := range r.Extents {
		b := make([]byte, e.Length)
		if _, err := f.ReadAt(b, e.Offset); err != nil {
			return nil, fmt.Errorf("%s: reading %d bytes at %d: %w", r.Device, e.Length, e.Offset, err)
		}
		out.Write(b)
	}
	return out.Bytes(), nil
}

func checkRawSize(r *plan.RawRecord, f *os.File) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("%s: %w", r.Device, err)
	}
	if size != r.Size {
		return fmt.Errorf("%s is %d bytes, the change was made on a %d-byte disk: not the same disk", r.Device, size, r.Size)
	}
	return nil
}

// write writes data (the concatenated extents) in extent order, each
// fsynced before the next, so the order on the medium is the planned one.
func writeRaw(r *plan.RawRecord, data []byte) error {
	f, err := os.OpenFile(r.Device, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkRawSize(r, f); err != nil {
		return err
	}
	for _, e := range r.Extents {
		if _, err := f.WriteAt(data[:e.Length], e.Offset); err != nil {
			return fmt.Errorf("%s: writing %d bytes at %d: %w", r.Device, e.Length, e.Offset, err)
		}
		data = data[e.Length:]
		if err := f.Sync(); err != nil {
			return fmt.Errorf("%s: sync: %w", r.Device, err)
		}
	}
	return f.Close()
}

func rawState(data []byte) state {
	sum, n, _ := hashReader(bytes.NewReader(data))
	return state{Exists: true, Type: rawType, SHA256: sum, Size: n}
}

// prepareRaw captures the before-bytes of a RawWrite; s.path names it.
func (s *step) prepareRaw() error {
	r := s.c.Raw
	if err := validateRaw(r, s.c.Content); err != nil {
		return err
	}
	before, err := readRaw(r)
	if err != nil {
		return err
	}
	s.path = rawPath(r)
	s.before, s.after = rawState(before), rawState(s.c.Content)
	s.rawBefore = before
	return nil
}

// rawPath names a raw change where the others name a path in the root.
func rawPath(r *plan.RawRecord) string {
	var ext []string
	for _, e := range r.Extents {
		ext = append(ext, fmt.Sprintf("%d+%d", e.Offset, e.Length))
	}
	return fmt.Sprintf("%s@%s", r.Device, strings.Join(ext, ","))
}

func (s *step) describeRaw() string {
	r := s.c.Raw
	return fmt.Sprintf("raw write %s: %d bytes in %d extent(s) (before-bytes kept in the journal)", r.Device, r.Total(), len(r.Extents))
}

// snapshotRaw stores the before-bytes read by prepare.
func (j *Journal) snapshotRaw(ctx context.Context, s *step, blobs map[int]string) error {
	data := s.rawBefore
	if data == nil {
		return fmt.Errorf("raw write %s: before-bytes were not read", s.path)
	}
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	if err := j.putBlob(ctx, s.before.SHA256, s.before.Size, open); err != nil {
		return fmt.Errorf("snapshot %s into %s: %w", s.path, j.path, err)
	}
	blobs[s.seq] = s.before.SHA256
	return nil
}

// commitRaw writes the new bytes, after checking that the disk still holds
// the bytes the plan was made from.
func (s *step) commitRaw() error {
	cur, err := readRaw(s.c.Raw)
	if err != nil {
		return err
	}
	if rawState(cur).SHA256 != s.before.SHA256 {
		return fmt.Errorf("%s changed since it was planned; nothing was written there", s.path)
	}
	return writeRaw(s.c.Raw, s.c.Content)
}

// verifyRaw re-reads the bytes, then lets the domain check the result.
func (s *step) verifyRaw() error {
	cur, err := readRaw(s.c.Raw)
	if err != nil {
		return err
	}
	if got := rawState(cur); got.SHA256 != s.after.SHA256 {
		return fmt.Errorf("verify %s: found sha256 %s, want %s", s.path, got.SHA256, s.after.SHA256)
	}
	if s.c.Raw.Check != nil {
		if err := s.c.Raw.Check(); err != nil {
			return fmt.Errorf("verify %s: %w", s.path, err)
		}
	}
	return nil
}

// restoreRaw writes the before-bytes back unless they are there already.
func (j *Journal) restoreRaw(ctx context.Context, s *step) error {
	cur, err := readRaw(s.c.Raw)
	if err != nil {
		return err
	}
	if rawState(cur).SHA256 == s.before.SHA256 {
		return nil
	}
	r, err := j.openBlob(ctx, s.before.SHA256)
	if err != nil {
		return err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, s.before.Size+1))
	if err != nil {
		return err
	}
	if int64(len(data)) != s.before.Size {
		return fmt.Errorf("%s: the journal holds %d before-bytes, want %d", s.path, len(data), s.before.Size)
	}
	return writeRaw(s.c.Raw, data)
}

// driftRaw is drift for a RawWrite: the bytes are neither as the op left
// them nor as before.
func (s *step) driftRaw() string {
	cur, err := readRaw(s.c.Raw)
	if err != nil {
		return fmt.Sprintf("%s: %v", s.path, err)
	}
	sum := rawState(cur).SHA256
	if sum == s.after.SHA256 || sum == s.before.SHA256 {
		return ""
	}
	return fmt.Sprintf("%s now has sha256 %s, the op left %s", s.path, sum, s.after.SHA256)
}

func (s *step) verifyRawBefore() error {
	cur, err := readRaw(s.c.Raw)
	if err != nil {
		return err
	}
	if sum := rawState(cur).SHA256; sum != s.before.SHA256 {
		return fmt.Errorf("verify %s: found sha256 %s, want %s", s.path, sum, s.before.SHA256)
	}
	return nil
}

// renderRaw shows a RawWrite in a plan: the domain's diff of the table,
// then the bytes' hashes.
// rawRecordJSON is what the journal stores for a RawWrite (in the column
// that holds external records), loadRaw reads it back.
func rawRecordJSON(r *plan.RawRecord) []byte {
	b, _ := json.Marshal(r)
	return b
}

func loadRaw(ext string) (*plan.RawRecord, error) {
	var r plan.RawRecord
	if err := json.Unmarshal([]byte(ext), &r); err != nil {
		return nil, err
	}
	if r.Device == "" || len(r.Extents) == 0 {
		return nil, errors.New("raw write record without device or extents")
	}
	return &r, nil
}
