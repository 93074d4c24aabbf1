package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/ctxio"
	"github.com/xsrescue/xsrescue/internal/safego"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// crashEnv names a phase boundary at which Apply kills its own process with
// SIGKILL. Only the crash-safety tests set it; phases are "planned",
// "applying", "staged", "change-N" (after the Nth change), "committed", and
// in a rollback or undo "restored-N" (after change N was put back).
const crashEnv = "XSRESCUE_TEST_CRASH_AT"

// pauseEnv, "PHASE:DURATION", makes Apply sleep at a phase boundary while
// it holds its locks; only the concurrency tests set it, to have a second
// command find an op live in that phase.
const pauseEnv = "XSRESCUE_TEST_PAUSE_AT"

// panicEnv names a phase at which Apply panics; only the tests that prove
// a panic in a goroutine becomes the command's error set it.
const panicEnv = "XSRESCUE_TEST_PANIC_AT"

func crashPoint(phase string) {
	if os.Getenv(panicEnv) == phase {
		panic("injected panic at " + phase)
	}
	if os.Getenv(crashEnv) == phase {
		unix.Kill(os.Getpid(), unix.SIGKILL)
		select {}
	}
	if at, d, ok := strings.Cut(os.Getenv(pauseEnv), ":"); ok && at == phase {
		if dur, err := time.ParseDuration(d); err == nil {
			time.Sleep(dur)
		}
	}
}

// tempName is the staging file of a change, next to the file it replaces.
// It is derived from the op so that recover finds and removes it.
func tempName(opUUID string, seq int) string {
	return ".xsrescue-" + opUUID + "-" + strconv.Itoa(seq) + ".tmp"
}

// interrupted says "interrupted" for a cancelled context (Ctrl-C, SIGTERM,
// or the snapshot beside the staging failed) and still matches
// context.Canceled, which applySteps uses to find the cause.
type interrupted struct{ err error }

func (e interrupted) Error() string { return "interrupted" }
func (e interrupted) Unwrap() error { return e.err }

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// Apply runs the whole flow for plan on tgt: check that every path is still
// as the plan was shown from (Render), begin, snapshot every before-image
// while the new contents are staged, apply each change atomically, verify,
// commit. argv is recorded with the op. On any error
// after the op was begun, whatever was staged or changed is rolled back
// before Apply returns.
func (j *Journal) Apply(ctx context.Context, tgt *target.Target, argv []string, p *plan.Plan) (*plan.Result, error) {
	if j.readOnly {
		return nil, fmt.Errorf("journal %s is open read-only", j.path)
	}
	root := tgt.Root
	steps, err := prepare(root, p)
	from, shown := p.Basis.([]plannedFrom)
	if err != nil && shown {
		return nil, changedSincePlanned(err)
	}
	if err != nil {
		return nil, err
	}
	if shown {
		if err := checkFrom(from, steps); err != nil {
			return nil, err
		}
	}
	if err := j.roomToRecord(); err != nil {
		return nil, fmt.Errorf("%w; nothing was changed", err)
	}
	if err := j.CheckNoInterrupted(ctx, tgt); err != nil {
		return nil, err
	}
	opUUID := uuid.NewString()
	id, err := j.begin(ctx, tgt, opUUID, argv, p.Command, steps)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", j.path, err)
	}
	crashPoint("planned")
	res := &plan.Result{Op: id, UUID: opUUID, Journal: j.path}
	for _, s := range steps {
		res.Changes = append(res.Changes, s.result())
	}
	if err := j.setStatus(id, StatusApplying, ""); err != nil {
		return nil, fmt.Errorf("journal %s: %w", j.path, err)
	}
	crashPoint("applying")
	if err := j.applySteps(ctx, root, opUUID, id, steps); err != nil {
		res.Status = StatusRolledBack
		if rerr := j.rollback(context.WithoutCancel(ctx), root, opUUID, steps, true); rerr != nil {
			res.Status = StatusFailed
			err = fmt.Errorf("%w; rolling back failed too: %v (run 'xsrescue journal recover')", err, rerr)
		}
		if serr := j.setStatus(id, res.Status, err.Error()); serr != nil && res.Status == StatusRolledBack {
			err = fmt.Errorf("%w; the target is as before, but the journal %s could not record the rollback (%v): make room there and run xsrescue journal recover to record it", err, j.path, serr)
		} else if serr != nil {
			err = errors.Join(err, serr)
		}
		return res, fmt.Errorf("op %d %s: %w", id, res.Status, err)
	}
	if err := j.setStatus(id, StatusApplied, ""); err != nil {
		return nil, fmt.Errorf("journal %s: %w", j.path, err)
	}
	res.Status = StatusApplied
	for i, s := range steps {
		res.Changes[i] = s.result()
	}
	return res, nil
}

// applySteps snapshots every before-image into the journal while it stages
// every new content next to its file: neither changes what the target shows,
// and each reads the old file once, so a large file costs one pass of each
// on the two cores instead of two passes in a row. A journal that cannot
// take a before-image (full disk) stops the op before the first commit. Then
// the changes are committed in order and verified by re-reading them.
func (j *Journal) applySteps(ctx context.Context, root *target.Root, opUUID string, id int64, steps []*step) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var late map[int]string
	snapped := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if err != nil {
				cancel()
			}
			snapped <- err
		}()
		defer safego.Recover(&err)
		crashPoint("snapshotting")
		late, err = j.snapshot(ctx, root, id, steps)
	}()
	err := stageAll(ctx, root, opUUID, steps)
	if err != nil {
		cancel()
	}
	// Whichever failed first cancelled the other: report the cause.
	if serr := <-snapped; serr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = serr
	}
	if err != nil {
		return err
	}
	for _, s := range steps {
		if sum, ok := late[s.seq]; ok {
			s.before.SHA256 = sum
		}
	}
	if err := j.recordAfter(id, steps); err != nil {
		return err
	}
	crashPoint("staged")
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.commit(root, opUUID); err != nil {
			return err
		}
		crashPoint("change-" + strconv.Itoa(s.seq))
	}
	crashPoint("committed")
	for _, s := range steps {
		if err := s.verify(root); err != nil {
			return err
		}
	}
	return nil
}

// snapshot stores the before-image of every file a change replaces or
// removes, then records which blob holds it. Until then no change is
// committed, so an op interrupted here has nothing to restore. The old file
// of a streamed rewrite was not hashed while planning (prepare): it is
// hashed here, beside the staging, and its before-state completed. It
// returns those hashes by change number, for the caller to put in the steps
// once the staging (which reads the steps) is done.
func (j *Journal) snapshot(ctx context.Context, root *target.Root, id int64, steps []*step) (map[int]string, error) {
	blobs, late := map[int]string{}, map[int]string{}
	for _, s := range steps {
		if s.c.Kind == plan.RawWrite {
			if err := j.snapshotRaw(ctx, s, blobs); err != nil {
				return nil, err
			}
			continue
		}
		if s.before.Type != "file" || (s.c.Kind != plan.Write && s.c.Kind != plan.Remove) {
			continue
		}
		open := func() (io.ReadCloser, error) { return openAt(root, s.path) }
		sum := s.before.SHA256
		if sum == "" {
			r, err := open()
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: %w", s.path, err)
			}
			var n int64
			sum, n, err = hashReader(ctxio.NewReader(ctx, r))
			r.Close()
			if err == nil && n != s.before.Size {
				err = fmt.Errorf("it changed since it was planned (%d bytes, planned %d)", n, s.before.Size)
			}
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: %w", s.path, err)
			}
			late[s.seq] = sum
		}
		if err := j.putBlob(ctx, sum, s.before.Size, open); err != nil {
			return nil, fmt.Errorf("snapshot %s into %s: %w", s.path, j.path, err)
		}
		blobs[s.seq] = sum
	}
	if len(blobs) == 0 {
		return late, nil
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", j.path, err)
	}
	defer tx.Rollback()
	for _, s := range steps {
		sum, ok := blobs[s.seq]
		if !ok {
			continue
		}
		b := s.before
		b.SHA256 = sum
		before, _ := json.Marshal(b)
		if _, err := tx.Exec("UPDATE changes SET before_sha256 = ?, before = ? WHERE op = ? AND seq = ?", sum, string(before), id, s.seq); err != nil {
			return nil, fmt.Errorf("journal %s: %w", j.path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("journal %s: %w", j.path, err)
	}
	return late, nil
}

func stageAll(ctx context.Context, root *target.Root, opUUID string, steps []*step) error {
	for _, s := range steps {
		if s.c.Kind != plan.Write && s.c.Kind != plan.Create {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.stage(ctx, root, opUUID); err != nil {
			return err
		}
	}
	return nil
}

// stage writes the new content into the change's temp file with the final
// owner, mode and xattrs, fsynced.
func (s *step) stage(ctx context.Context, root *target.Root, opUUID string) error {
	r, err := openContent(s.c)
	if err != nil {
		return fmt.Errorf("%s: new content: %w", s.path, err)
	}
	defer r.Close()
	d, err := openDirAt(root, s.path)
	if err != nil {
		return err
	}
	defer d.Close()
	meta := s.after
	if s.c.Kind == plan.Write {
		meta = s.before
	}
	sum, n, err := d.writeTemp(tempName(opUUID, s.seq), ctxio.NewReader(ctx, r), meta, false)
	if errors.Is(err, context.Canceled) {
		err = interrupted{err}
	}
	if err != nil {
		return fmt.Errorf("%s: staging the new content next to it: %w", s.path, err)
	}
	if s.after.SHA256 != "" && sum != s.after.SHA256 {
		return fmt.Errorf("%s: new content changed while staged (sha256 %s, planned %s)", s.path, sum, s.after.SHA256)
	}
	s.after.SHA256, s.after.Size = sum, n
	return d.sync()
}

// commit makes one change visible: one rename, unlink, mknod or metadata
// call, followed by an fsync of the directory.
func (s *step) commit(root *target.Root, opUUID string) error {
	if s.c.Kind == plan.External {
		return nil
	}
	if s.c.Kind == plan.RawWrite {
		return s.commitRaw()
	}
	d, err := openDirAt(root, s.path)
	if err != nil {
		return err
	}
	defer d.Close()
	switch s.c.Kind {
	case plan.Write, plan.Create:
		err = d.rename(tempName(opUUID, s.seq), d.base)
	case plan.Remove, plan.RemoveNode, plan.RemoveSymlink:
		err = d.remove(d.base, false)
	case plan.CreateSymlink:
		err = d.symlink(d.base, s.c.LinkTarget)
	case plan.Rename:
		err = renameAcross(root, d, s.newPath)
	case plan.Chmod, plan.Chown:
		meta := s.after
		meta.Xattrs = s.before.Xattrs
		err = d.setMeta(d.base, meta, false)
	}
	if err != nil {
		return err
	}
	return d.sync()
}

// renameAcross renames d's entry to dst, which may be in another directory.
func renameAcross(root *target.Root, d *dirAt, dst string) error {
	nd, err := openDirAt(root, dst)
	if err != nil {
		return err
	}
	defer nd.Close()
	if err := unix.Renameat(d.fd(), d.base, nd.fd(), nd.base); err != nil {
		return fmt.Errorf("rename %s to %s: %w", d.base, dst, err)
	}
	return nd.sync()
}

// verify re-reads what the change left and compares it with the plan.
func (s *step) verify(root *target.Root) error {
	if s.c.Kind == plan.External {
		return nil
	}
	if s.c.Kind == plan.RawWrite {
		return s.verifyRaw()
	}
	p := s.path
	if s.c.Kind == plan.Rename {
		p = s.newPath
	}
	have, err := captureAt(root, p)
	if err != nil {
		return err
	}
	want := s.after
	if s.c.Kind == plan.Remove || s.c.Kind == plan.RemoveNode || s.c.Kind == plan.RemoveSymlink {
		want = state{}
	}
	if s.c.Kind == plan.CreateSymlink {
		want.UID, want.GID, want.Xattrs = have.UID, have.GID, have.Xattrs
	}
	if !matches(have, want) {
		return fmt.Errorf("verify %s: found %s, want %s", p, brief(have), brief(want))
	}
	return nil
}

func brief(s state) string {
	if !s.Exists {
		return "nothing"
	}
	b := fmt.Sprintf("%s mode %04o owner %d:%d", s.Type, s.Mode, s.UID, s.GID)
	if s.SHA256 != "" {
		b += " sha256 " + s.SHA256
	}
	if s.Link != "" {
		b += " -> " + s.Link
	}
	return b
}

func openAt(root *target.Root, rel string) (io.ReadCloser, error) {
	if root.Image() != nil {
		return openImageAt(root, rel)
	}
	d, err := openDirAt(root, rel)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.openFile(d.base)
}

// rollback puts every step back to its before-state, last step first. It is
// idempotent: a step already as before is left alone, so a crash during a
// rollback is repaired by running it again. With removeTemps, staging files
// of the op are removed too.
func (j *Journal) rollback(ctx context.Context, root *target.Root, opUUID string, steps []*step, removeTemps bool) error {
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		if err := j.restore(ctx, root, opUUID, s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.path, err))
			continue
		}
		crashPoint("restored-" + strconv.Itoa(s.seq))
		if removeTemps && (s.c.Kind == plan.Write || s.c.Kind == plan.Create) {
			if d, err := openDirAt(root, s.path); err == nil {
				errs = append(errs, d.remove(tempName(opUUID, s.seq), false), d.sync())
				d.Close()
			} else if !isNotExist(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// restore puts one step back to its before-state.
func (j *Journal) restore(ctx context.Context, root *target.Root, opUUID string, s *step) error {
	if s.c.Kind == plan.External {
		if s.c.External.Type == plan.DirCreated {
			return removeCreatedDir(root, s.c.Path)
		}
		return nil
	}
	if s.c.Kind == plan.RawWrite {
		return j.restoreRaw(ctx, s)
	}
	if s.c.Kind == plan.Rename {
		return restoreRename(root, s)
	}
	d, err := openDirAt(root, s.path)
	if err != nil {
		return err
	}
	defer d.Close()
	cur, err := d.capture(d.base, hashFile)
	if err != nil {
		return err
	}
	b := s.before
	if matches(cur, b) {
		return nil
	}
	switch s.c.Kind {
	case plan.Write, plan.Remove:
		r, err := j.openBlob(ctx, b.SHA256)
		if err != nil {
			return err
		}
		defer r.Close()
		tmp := tempName(opUUID, s.seq) + ".undo"
		d.remove(tmp, false)
		if _, _, err := d.writeTemp(tmp, r, b, true); err != nil {
			return err
		}
		if cur.Exists && cur.Type == "dir" {
			d.remove(tmp, false)
			return fmt.Errorf("a directory is in the way")
		}
		err = d.rename(tmp, d.base)
	case plan.Create, plan.CreateSymlink:
		if cur.Exists {
			err = d.remove(d.base, cur.Type == "dir")
		}
	case plan.RemoveNode, plan.RemoveSymlink:
		if cur.Exists {
			if err := d.remove(d.base, cur.Type == "dir"); err != nil {
				return err
			}
		}
		if b.Type == "symlink" {
			if err = d.symlink(d.base, b.Link); err == nil {
				err = d.setMeta(d.base, b, true)
			}
		} else {
			err = d.mknod(d.base, b)
		}
	case plan.Chmod, plan.Chown:
		if !cur.Exists {
			return fmt.Errorf("it no longer exists")
		}
		meta := b
		meta.Xattrs = cur.Xattrs
		err = d.setMeta(d.base, meta, false)
	}
	if err != nil {
		return err
	}
	return d.sync()
}

// removeCreatedDir removes the directory a plan.DirCreated record names if
// it is empty: the op's files went before it (the record is the op's first
// change, restored last). Anything in it — a file someone added since, a
// journal kept there — leaves it; so does a directory no longer there or
// replaced by something else.
func removeCreatedDir(root *target.Root, rel string) error {
	var err error
	if path.Clean(rel) == "." {
		// The op's target is that directory: not reachable through its
		// own os.Root, so it is removed by the name the target has now.
		err = unix.Rmdir(root.Dir())
	} else {
		var at string
		if at, err = root.ResolveParent(rel); err != nil {
			return err
		}
		var d *dirAt
		if d, err = openDirAt(root, at); err != nil {
			if isNotExist(err) {
				return nil
			}
			return err
		}
		defer d.Close()
		if err = unix.Unlinkat(d.fd(), d.base, unix.AT_REMOVEDIR); err == nil {
			err = d.sync()
		}
	}
	if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove the directory it created: %w", err)
	}
	return nil
}

func restoreRename(root *target.Root, s *step) error {
	src, err := captureAt(root, s.newPath)
	if err != nil {
		return err
	}
	dst, err := captureAt(root, s.path)
	if err != nil {
		return err
	}
	switch {
	case !src.Exists && dst.Exists:
		return nil // never renamed, or already back
	case src.Exists && !dst.Exists:
		d, err := openDirAt(root, s.newPath)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := renameAcross(root, d, s.path); err != nil {
			return err
		}
		return d.sync()
	default:
		return fmt.Errorf("cannot rename %s back to %s: %s and %s", s.newPath, s.path, brief(src), brief(dst))
	}
}

// begin records the op as planned, with every change and its before-state;
// before_sha256 is filled in by snapshot.
func (j *Journal) begin(ctx context.Context, tgt *target.Target, opUUID string, argv []string, command string, steps []*step) (int64, error) {
	argvJSON, _ := json.Marshal(argv)
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	r, err := tx.Exec(`INSERT INTO ops (uuid, command, argv, target, root, disk, partition, status, started) VALUES (?,?,?,?,?,?,?,?,?)`,
		opUUID, command, string(argvJSON), tgt.Identity, tgt.Root.Dir(), tgt.Disk, tgt.Partition, StatusPlanned, now())
	if err != nil {
		return 0, err
	}
	id, err := r.LastInsertId()
	if err != nil {
		return 0, err
	}
	for _, s := range steps {
		before, _ := json.Marshal(s.before)
		after, _ := json.Marshal(s.after)
		var ext []byte
		if s.c.External != nil {
			ext, _ = json.Marshal(s.c.External)
		}
		if s.c.Raw != nil {
			ext = rawRecordJSON(s.c.Raw)
		}
		if _, err := tx.Exec(`INSERT INTO changes (op, seq, kind, path, resolved, new_path, why, before, after, external) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			id, s.seq, string(s.c.Kind), s.c.Path, s.path, s.newPath, s.c.Why, string(before), string(after), string(ext)); err != nil {
			return 0, err
		}
	}
	return id, tx.Commit()
}

// recordAfter stores the after-states once staging has hashed every stream.
func (j *Journal) recordAfter(id int64, steps []*step) error {
	tx, err := j.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, s := range steps {
		after, _ := json.Marshal(s.after)
		if _, err := tx.Exec("UPDATE changes SET after = ? WHERE op = ? AND seq = ?", string(after), id, s.seq); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (j *Journal) setStatus(id int64, status, msg string) error {
	finished := ""
	if status != StatusPlanned && status != StatusApplying {
		finished = now()
	}
	_, err := j.db.Exec("UPDATE ops SET status = ?, finished = ?, error = ? WHERE id = ?", status, finished, msg, id)
	return err
}

// loadSteps reads the steps of op id back from the journal.
func (j *Journal) loadSteps(ctx context.Context, id int64) ([]*step, error) {
	rows, err := j.db.QueryContext(ctx, "SELECT seq, kind, path, resolved, new_path, why, before, after, external, COALESCE(before_sha256, '') FROM changes WHERE op = ? ORDER BY seq", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var steps []*step
	for rows.Next() {
		var s step
		var kind, before, after, ext string
		if err := rows.Scan(&s.seq, &kind, &s.c.Path, &s.path, &s.newPath, &s.c.Why, &before, &after, &ext, &s.blob); err != nil {
			return nil, err
		}
		s.c.Kind = plan.Kind(kind)
		s.c.NewPath = s.newPath
		if err := json.Unmarshal([]byte(before), &s.before); err != nil {
			return nil, fmt.Errorf("op %d change %d: %w", id, s.seq, err)
		}
		if err := json.Unmarshal([]byte(after), &s.after); err != nil {
			return nil, fmt.Errorf("op %d change %d: %w", id, s.seq, err)
		}
		s.c.LinkTarget = s.after.Link
		if ext != "" && s.c.Kind == plan.RawWrite {
			if s.c.Raw, err = loadRaw(ext); err != nil {
				return nil, fmt.Errorf("op %d change %d: %w", id, s.seq, err)
			}
		} else if ext != "" {
			s.c.External = &plan.ExternalRecord{}
			if err := json.Unmarshal([]byte(ext), s.c.External); err != nil {
				return nil, fmt.Errorf("op %d change %d: %w", id, s.seq, err)
			}
		}
		steps = append(steps, &s)
	}
	return steps, rows.Err()
}

// Undo restores every before-image of op id, byte- and metadata-identical.
// It refuses (exit 3) an op of another target, an op that is not applied,
// and, unless force, an op whose files changed since (ErrDrift).
func (j *Journal) Undo(ctx context.Context, tgt *target.Target, id int64, force bool) (*plan.Result, error) {
	op, steps, err := j.undoable(ctx, tgt, id, force)
	if err != nil {
		return nil, err
	}
	// Another op of the target left interrupted: recover would later redo
	// or revert under this undo. (Re-running this op's own interrupted
	// undo is how it is finished, so that one passes.)
	others, err := j.InterruptedOn(ctx, tgt)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		if o.ID != id {
			return nil, xerr.Refusedf("undo op %d: op %d on this target was interrupted: run xsrescue journal recover first (nothing was changed)", id, o.ID)
		}
	}
	if err := j.roomToRecord(); err != nil {
		return nil, fmt.Errorf("undo op %d: %w; nothing was changed", id, err)
	}
	// Marked before the first path is restored, so that a crash in the
	// middle leaves an op that recover finishes, not an "applied" op over
	// a partly restored target.
	if _, err := j.db.ExecContext(ctx, "UPDATE ops SET error = ? WHERE id = ?", undoInterrupted, id); err != nil {
		return nil, fmt.Errorf("undo op %d: the journal %s cannot record it: %w; nothing was changed", id, j.path, err)
	}
	if err := j.rollback(ctx, tgt.Root, op.UUID, steps, false); err != nil {
		return nil, fmt.Errorf("undo op %d: %w (run it again to finish)", id, err)
	}
	if err := verifyBefore(tgt.Root, steps); err != nil {
		return nil, fmt.Errorf("undo op %d: %w", id, err)
	}
	if err := j.setStatus(id, StatusUndone, ""); err != nil {
		return nil, fmt.Errorf("undo op %d: every path is back as before, but the journal %s could not record it: %w; run the undo again once it can (it finds the paths restored and records the op undone)", id, j.path, err)
	}
	return j.result(op.OpInfo, StatusUndone, steps), nil
}

// NothingToUndo reports whether every path op id changed is already as it
// was before the op, so that undo would restore nothing. Undo's refusals
// (CheckUndo) come first; this only reads.
func (j *Journal) NothingToUndo(ctx context.Context, tgt *target.Target, id int64) (bool, error) {
	steps, err := j.loadSteps(ctx, id)
	if err != nil {
		return false, err
	}
	return verifyBefore(tgt.Root, steps) == nil, nil
}

// CheckUndo returns the refusal Undo would give for op id on tgt (another
// target, not applied, or, unless force, drift), without changing anything,
// so that a caller can refuse before it shows what undo would revert.
func (j *Journal) CheckUndo(ctx context.Context, tgt *target.Target, id int64, force bool) error {
	_, _, err := j.undoable(ctx, tgt, id, force)
	return err
}

func (j *Journal) undoable(ctx context.Context, tgt *target.Target, id int64, force bool) (*OpDetail, []*step, error) {
	op, err := j.Op(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if err := checkTarget(op.OpInfo, tgt); err != nil {
		return nil, nil, err
	}
	if op.Status != StatusApplied {
		why := "only an applied op can be undone"
		if op.Status == StatusPlanned || op.Status == StatusApplying {
			why = "it was interrupted: run xsrescue journal recover, which rolls it back"
		}
		return nil, nil, xerr.Refusedf("op %d is %s: %w (%s)", id, op.Status, ErrNotUndoable, why)
	}
	if err := ExternalOnly(op); err != nil {
		return nil, nil, err
	}
	steps, err := j.loadSteps(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if !force {
		if err := checkDrift(tgt.Root, steps); err != nil {
			return nil, nil, fmt.Errorf("undo op %d: %w", id, err)
		}
	}
	return op, steps, nil
}

// minRoom is the free space the journal's filesystem must have for an
// apply or an undo to start: recording each status appends a few pages to
// the WAL, and an undo that restored the target but could not say so leaves
// the op "applied" over a restored target.
const minRoom = 1 << 20

// roomToRecord refuses (exit 3) when the journal's filesystem is (nearly)
// full, so that an apply or an undo fails before the target is touched
// rather than after. (An apply also needs room for its compressed
// before-images, which cannot be known in advance: running out of it rolls
// the op back.)
func (j *Journal) roomToRecord() error {
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(j.path), &st); err != nil {
		return nil // no answer: the write itself will tell
	}
	if free := int64(st.Bavail) * st.Bsize; free < minRoom {
		return xerr.Refusedf("the journal %s cannot record it: its filesystem has %d bytes free (at least %d needed); free some space there", j.path, free, minRoom)
	}
	return nil
}

// ExternalOnly refuses (exit 3, ErrNotUndoable) an op whose every change is
// an external record (a partition image saved or restored, a ZFS
// snapshot): undo restores files inside a root and has nothing to put back
// for it, so it must neither claim the op undone nor touch the target. The
// refusal gives the recorded rollback commands. A caller that knows the op
// before opening the target calls it first, so that the target is not even
// mounted.
func ExternalOnly(op *OpDetail) error {
	if len(op.Changes) == 0 {
		return nil
	}
	var by []string
	for _, c := range op.Changes {
		if c.Kind != plan.External {
			return nil
		}
		if c.External != nil && c.External.Rollback != "" {
			by = append(by, c.External.Rollback)
		}
	}
	how := "nothing recorded to roll it back with"
	if len(by) > 0 {
		how = "to roll it back, run: " + strings.Join(by, "; then ")
	}
	return xerr.Refusedf("op %d made no change that undo can put back (only external actions, outside any root): %w; %s. Nothing was changed; the op stays %s", op.ID, ErrNotUndoable, how, op.Status)
}

// undoInterrupted is the error an op carries while its undo runs: an
// applied op with it was interrupted in the middle of an undo. No single
// quote: Interrupted puts it in SQL.
const undoInterrupted = "undo interrupted: run xsrescue journal recover (or the same undo again) to finish it"

// InterruptedOn lists the interrupted ops (see Interrupted) of tgt only:
// one journal may serve several targets, and another target's crash is
// not this one's business.
func (j *Journal) InterruptedOn(ctx context.Context, tgt *target.Target) ([]OpInfo, error) {
	ops, err := j.Interrupted(ctx)
	if err != nil {
		return nil, err
	}
	var mine []OpInfo
	for _, op := range ops {
		if op.Target == tgt.Identity {
			mine = append(mine, op)
		}
	}
	return mine, nil
}

// CheckNoInterrupted refuses (exit 3) a new op, even an empty one, on a
// target that has an interrupted op: recover would later put that op's
// before-images back over whatever the new op changed, and "already as
// requested" would be a lie until then.
func (j *Journal) CheckNoInterrupted(ctx context.Context, tgt *target.Target) error {
	ops, err := j.InterruptedOn(ctx, tgt)
	if err != nil || len(ops) == 0 {
		return err
	}
	op := ops[0]
	what := "was interrupted while " + op.Status
	if op.Status == StatusApplied {
		what = "was being undone when it was interrupted"
	}
	return xerr.Refusedf("op %d on this target %s: run xsrescue journal recover first (nothing was changed)", op.ID, what)
}

// UndoInterrupted reports whether op is an applied op whose undo a crash
// interrupted (recover finishes it).
func UndoInterrupted(op OpInfo) bool {
	return op.Status == StatusApplied && op.Error != nil && *op.Error == undoInterrupted
}

// CheckRecover returns the refusal Recover would give (drift, unless force)
// without changing anything: for a dry run, and before asking.
func (j *Journal) CheckRecover(ctx context.Context, tgt *target.Target, force bool) error {
	if force {
		return nil
	}
	ops, err := j.InterruptedOn(ctx, tgt)
	if err != nil {
		return err
	}
	for _, op := range ops {
		steps, err := j.loadSteps(ctx, op.ID)
		if err != nil {
			return err
		}
		if err := checkDrift(tgt.Root, steps); err != nil {
			return fmt.Errorf("recover op %d: %w", op.ID, err)
		}
	}
	return nil
}

// Recover rolls back every op of tgt left planned or applying by a crash
// (ops of other targets in the same journal are left alone),
// all or nothing per op, finishes every undo a crash interrupted (the
// target is then as before the op, which is where the user was going),
// and returns what it did. Like undo, it refuses (ErrDrift, exit 3) an op
// whose paths are neither as the op left them nor as before, unless force.
func (j *Journal) Recover(ctx context.Context, tgt *target.Target, force bool) ([]*plan.Result, error) {
	ops, err := j.InterruptedOn(ctx, tgt)
	if err != nil {
		return nil, err
	}
	// All checked before any is rolled back: a refusal changes nothing.
	if err := j.CheckRecover(ctx, tgt, force); err != nil {
		return nil, err
	}
	if len(ops) > 0 {
		if err := j.roomToRecord(); err != nil {
			return nil, fmt.Errorf("recover: %w; nothing was changed", err)
		}
	}
	var out []*plan.Result
	for _, op := range ops {
		if err := checkTarget(op, tgt); err != nil {
			return out, err
		}
		steps, err := j.loadSteps(ctx, op.ID)
		if err != nil {
			return out, err
		}

		status, msg := StatusRolledBack, "interrupted; rolled back by recover"
		if op.Status == StatusApplied {
			status, msg = StatusUndone, ""
		}
		if err := j.rollback(ctx, tgt.Root, op.UUID, steps, true); err != nil {
			return out, fmt.Errorf("recover op %d: %w (run it again)", op.ID, err)
		}
		if err := verifyBefore(tgt.Root, steps); err != nil {
			return out, fmt.Errorf("recover op %d: %w", op.ID, err)
		}
		if err := j.setStatus(op.ID, status, msg); err != nil {
			return out, err
		}
		out = append(out, j.result(op, status, steps))
	}
	return out, nil
}

func (j *Journal) result(op OpInfo, status string, steps []*step) *plan.Result {
	r := &plan.Result{Op: op.ID, UUID: op.UUID, Journal: j.path, Status: status, Changes: []plan.ChangeResult{}}
	for _, s := range steps {
		r.Changes = append(r.Changes, s.result())
	}
	return r
}

func checkTarget(op OpInfo, tgt *target.Target) error {
	if op.Target != tgt.Identity {
		return xerr.Refusedf("op %d was made on %s, this target is %s: %w", op.ID, op.Target, tgt.Identity, ErrWrongTarget)
	}
	return nil
}

// checkDrift refuses (exit 3, ErrDrift) steps whose paths are neither as
// the op left them nor as before, listing them.
func checkDrift(root *target.Root, steps []*step) error {
	var drift []string
	for _, s := range steps {
		if d := s.drift(root); d != "" {
			drift = append(drift, d)
		}
	}
	if len(drift) > 0 {
		return xerr.Refusedf("%w: %s (nothing was changed; --force restores anyway)", ErrDrift, joinLimit(drift, 5))
	}
	return nil
}

// drift describes how a step's path differs from what the op left, or ""
// when it is as the op left it or already as before.
func (s *step) drift(root *target.Root) string {
	if s.c.Kind == plan.External {
		return ""
	}
	if s.c.Kind == plan.RawWrite {
		return s.driftRaw()
	}
	p, want := s.path, s.after
	if s.c.Kind == plan.Rename {
		p = s.newPath
	}
	have, err := captureAt(root, p)
	if err != nil {
		return fmt.Sprintf("%s: %v", p, err)
	}
	if s.c.Kind == plan.CreateSymlink {
		want.UID, want.GID, want.Xattrs = have.UID, have.GID, have.Xattrs
	}
	if matches(have, want) {
		return ""
	}
	if s.c.Kind != plan.Rename {
		if matches(have, s.before) {
			return ""
		}
	} else if old, err := captureAt(root, s.path); err == nil && !have.Exists && old.Exists {
		return ""
	}
	return fmt.Sprintf("%s is now %s, the op left %s%s", p, brief(have), brief(want), onlyDiffers(have, want))
}

// onlyDiffers names what differs when brief shows none of it: the mtime
// or the extended attributes (a refusal that shows two identical lines
// cannot be acted on).
func onlyDiffers(have, want state) string {
	same := have
	same.Mtime, same.Xattrs = want.Mtime, want.Xattrs
	if !matches(same, want) {
		return ""
	}
	var what []string
	if want.Type != "dir" && want.Mtime != 0 && have.Mtime != want.Mtime {
		what = append(what, fmt.Sprintf("its mtime (now %s, the op left %s)", nsTime(have.Mtime), nsTime(want.Mtime)))
	}
	if want.Type != "dir" && !maps.EqualFunc(have.Xattrs, want.Xattrs, bytes.Equal) {
		what = append(what, "its extended attributes")
	}
	if len(what) == 0 {
		return ""
	}
	return "; only " + strings.Join(what, " and ") + " differ(s)"
}

func nsTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func verifyBefore(root *target.Root, steps []*step) error {
	for _, s := range steps {
		if s.c.Kind == plan.External {
			continue
		}
		if s.c.Kind == plan.RawWrite {
			if err := s.verifyRawBefore(); err != nil {
				return err
			}
			continue
		}
		have, err := captureAt(root, s.path)
		if err != nil {
			return err
		}
		if !matches(have, s.before) {
			return fmt.Errorf("verify %s: found %s, want %s", s.path, brief(have), brief(s.before))
		}
	}
	return nil
}

func joinLimit(s []string, n int) string {
	out := ""
	for i, x := range s {
		if i == n {
			return out + fmt.Sprintf("; and %d more", len(s)-n)
		}
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}

// Interrupted lists the ops a crash left planned or applying, and the
// applied ops whose undo a crash interrupted.
func (j *Journal) Interrupted(ctx context.Context) ([]OpInfo, error) {
	return j.list(ctx, "WHERE status IN ('planned','applying') OR (status = 'applied' AND error = '"+undoInterrupted+"')")
}
