package journal

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
)

// OpInfo is one op as `journal list` shows it.
type OpInfo struct {
	ID        int64    `json:"id"`
	UUID      string   `json:"uuid"`
	Status    string   `json:"status"`
	Command   string   `json:"command"`
	Argv      []string `json:"argv"`
	Target    string   `json:"target"`
	Root      string   `json:"root"`
	Disk      *string  `json:"disk"`
	Partition *int     `json:"partition"`
	Started   string   `json:"started"`
	Finished  *string  `json:"finished"`
	Error     *string  `json:"error"`
	Changes   int      `json:"changes"`
}

// OpDetail is one op with its changes, as `journal show` shows it.
type OpDetail struct {
	OpInfo
	Changes []ChangeDetail `json:"changes"`
}

// ChangeDetail is one recorded change with its before- and after-state.
type ChangeDetail struct {
	Seq          int                  `json:"seq"`
	Kind         plan.Kind            `json:"kind"`
	Path         string               `json:"path"`
	NewPath      *string              `json:"new_path"`
	Why          string               `json:"why"`
	Description  string               `json:"description"`
	BeforeSHA256 *string              `json:"before_sha256"`
	AfterSHA256  *string              `json:"after_sha256"`
	Before       StateInfo            `json:"before"`
	After        StateInfo            `json:"after"`
	External     *plan.ExternalRecord `json:"external"`
}

// StateInfo is a path's recorded state in the JSON contract.
type StateInfo struct {
	Exists bool     `json:"exists"`
	Type   *string  `json:"type"`
	SHA256 *string  `json:"sha256"`
	Size   *int64   `json:"size"`
	Mode   *string  `json:"mode"` // octal, e.g. "0644"
	UID    *int     `json:"uid"`
	GID    *int     `json:"gid"`
	Mtime  *string  `json:"mtime"` // RFC 3339 with nanoseconds
	Major  *uint32  `json:"major"`
	Minor  *uint32  `json:"minor"`
	Link   *string  `json:"link"`
	Xattrs []string `json:"xattrs"`
}

func ptr[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func stateInfo(s state) StateInfo {
	si := StateInfo{Exists: s.Exists, Xattrs: []string{}}
	if !s.Exists {
		return si
	}
	si.Type, si.SHA256, si.Link = ptr(s.Type), ptr(s.SHA256), ptr(s.Link)
	mode := fmt.Sprintf("%04o", s.Mode)
	si.Mode, si.UID, si.GID = &mode, &s.UID, &s.GID
	if s.Type == "file" && s.SHA256 != "" {
		si.Size = &s.Size
	}
	if s.Mtime != 0 {
		m := time.Unix(0, s.Mtime).UTC().Format(time.RFC3339Nano)
		si.Mtime = &m
	}
	if s.Type == "char" || s.Type == "block" {
		ma, mi := unix.Major(s.Rdev), unix.Minor(s.Rdev)
		si.Major, si.Minor = &ma, &mi
	}
	for k := range s.Xattrs {
		si.Xattrs = append(si.Xattrs, k)
	}
	return si
}

// List returns every op, oldest first.
func (j *Journal) List(ctx context.Context) ([]OpInfo, error) { return j.list(ctx, "") }

func (j *Journal) list(ctx context.Context, where string) ([]OpInfo, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT id, uuid, status, command, argv, target, root, disk, partition, started, finished, error,
		(SELECT count(*) FROM changes WHERE changes.op = ops.id) FROM ops `+where+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", j.name(), err)
	}
	defer rows.Close()
	ops := []OpInfo{}
	for rows.Next() {
		var o OpInfo
		var argv, disk, finished, msg string
		var part int
		if err := rows.Scan(&o.ID, &o.UUID, &o.Status, &o.Command, &argv, &o.Target, &o.Root, &disk, &part, &o.Started, &finished, &msg, &o.Changes); err != nil {
			return nil, fmt.Errorf("journal %s: %w", j.name(), err)
		}
		if err := json.Unmarshal([]byte(argv), &o.Argv); err != nil {
			return nil, fmt.Errorf("journal %s op %d argv: %w", j.name(), o.ID, err)
		}
		o.Disk, o.Partition, o.Finished, o.Error = ptr(disk), ptr(part), ptr(finished), ptr(msg)
		ops = append(ops, o)
	}
	return ops, rows.Err()
}

// Op returns op id with its changes.
func (j *Journal) Op(ctx context.Context, id int64) (*OpDetail, error) {
	ops, err := j.list(ctx, fmt.Sprintf("WHERE id = %d", id))
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, xerr.Invalidf("journal %s: op %d: %w", j.name(), id, ErrNoSuchOp)
	}
	steps, err := j.loadSteps(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &OpDetail{OpInfo: ops[0], Changes: []ChangeDetail{}}
	for _, s := range steps {
		r := s.result()
		d.Changes = append(d.Changes, ChangeDetail{
			Seq: s.seq, Kind: s.c.Kind, Path: r.Path, NewPath: ptr(s.newPath), Why: s.c.Why, Description: r.Description,
			BeforeSHA256: ptr(r.BeforeSHA256), AfterSHA256: ptr(r.AfterSHA256),
			Before: stateInfo(s.before), After: stateInfo(s.after), External: s.c.External,
		})
	}
	return d, nil
}

// Size reports the journal's bytes on disk and the stored (compressed)
// bytes of all before-images, for the journal-growth benchmark.
func (j *Journal) Size(ctx context.Context) (file, blobs int64, err error) {
	var pages, pageSize int64
	if err := j.db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return 0, 0, err
	}
	if err := j.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return 0, 0, err
	}
	var stored sql.NullInt64
	if err := j.db.QueryRowContext(ctx, "SELECT sum(stored) FROM blobs").Scan(&stored); err != nil {
		return 0, 0, err
	}
	return pages * pageSize, stored.Int64, nil
}

// Export writes op id as a gzipped tar a user can carry away: op.json (what
// `journal show --json` prints) and every before-image under before/ with
// its type, mode, owner, mtime, device numbers, link target and xattrs.
func (j *Journal) Export(ctx context.Context, id int64, w io.Writer) error {
	op, err := j.Op(ctx, id)
	if err != nil {
		return err
	}
	steps, err := j.loadSteps(ctx, id)
	if err != nil {
		return err
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	dir := fmt.Sprintf("xsrescue-op-%d/", id)
	doc, err := json.MarshalIndent(op, "", "  ")
	if err != nil {
		return err
	}
	doc = append(doc, '\n')
	mtime := time.Now()
	if t, err := time.Parse(time.RFC3339, op.Started); err == nil {
		mtime = t
	}
	if err := tw.WriteHeader(&tar.Header{Name: dir + "op.json", Mode: 0o644, Size: int64(len(doc)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := tw.Write(doc); err != nil {
		return err
	}
	for _, s := range steps {
		b := s.before
		if !b.Exists || s.c.Kind == plan.External {
			continue
		}
		h := &tar.Header{Name: dir + "before/" + s.path, Mode: int64(b.Mode), Uid: b.UID, Gid: b.GID,
			ModTime: time.Unix(0, b.Mtime), Format: tar.FormatPAX, PAXRecords: map[string]string{}}
		for k, v := range b.Xattrs {
			h.PAXRecords["SCHILY.xattr."+k] = string(v)
		}
		var content io.ReadCloser
		switch b.Type {
		case "file":
			if s.c.Kind != plan.Write && s.c.Kind != plan.Remove || s.blob == "" {
				// Not snapshotted: the op does not change the content, or
				// it was stopped before its before-images were stored (and
				// so before any change was committed).
				continue
			}
			h.Typeflag, h.Size = tar.TypeReg, b.Size
			if content, err = j.openBlob(ctx, b.SHA256); err != nil {
				return err
			}
		case "symlink":
			h.Typeflag, h.Linkname = tar.TypeSymlink, b.Link
		case "char", "block":
			h.Typeflag = tar.TypeChar
			if b.Type == "block" {
				h.Typeflag = tar.TypeBlock
			}
			h.Devmajor, h.Devminor = int64(unix.Major(b.Rdev)), int64(unix.Minor(b.Rdev))
		case "fifo":
			h.Typeflag = tar.TypeFifo
		case "dir":
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		default:
			continue
		}
		h.Name = path.Clean(h.Name)
		if b.Type == "dir" {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return errors.Join(err, closeIf(content))
		}
		if content != nil {
			_, err := io.Copy(tw, content)
			if err = errors.Join(err, content.Close()); err != nil {
				return fmt.Errorf("export %s: %w", s.path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func closeIf(c io.Closer) error {
	if c == nil {
		return nil
	}
	return c.Close()
}
