package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/xsrescue/xsrescue/fixtures"
)

// check asserts on what the VM reported for every disk of DIR/disks.json
// and on the images themselves.
func check(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "disks.json"))
	if err != nil {
		return err
	}
	var disks []Disk
	if err := json.Unmarshal(b, &disks); err != nil {
		return fmt.Errorf("disks.json: %w", err)
	}
	f, err := os.Open(filepath.Join(dir, "results.log"))
	if err != nil {
		return err
	}
	defer f.Close()
	log, err := ParseLog(f)
	if err != nil {
		return err
	}
	for _, n := range log.Notes {
		fmt.Println("vmtest: note from the VM:", n)
	}
	var failed []string
	if log.Fatal != "" {
		failed = append(failed, "the VM gave up: "+log.Fatal)
	}
	if !log.Done {
		failed = append(failed, "the VM did not finish (no @@DONE): see console.log")
	}
	for _, d := range disks {
		c := &checker{Disk: d, log: log}
		c.run()
		for _, e := range c.failed {
			failed = append(failed, d.ID+": "+e)
		}
		if len(c.failed) == 0 {
			fmt.Printf("vmtest: %s ok: %s\n", d.ID, strings.Join(c.facts, "; "))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d assertion(s) failed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

// checker collects the verdicts on one disk.
type checker struct {
	Disk
	log    *Log
	dev    Device
	failed []string
	facts  []string
}

func (c *checker) errorf(format string, args ...any) {
	c.failed = append(c.failed, fmt.Sprintf(format, args...))
}

// result returns the named result when it exited with one of codes.
func (c *checker) result(step string, codes ...int) *Result {
	r := c.log.Results[c.ID+"."+step]
	if r == nil {
		c.errorf("%s: no result (the VM did not run it)", step)
		return nil
	}
	for _, code := range codes {
		if r.RC == code {
			return r
		}
	}
	c.errorf("%s: exit %d, want %v: %s", step, r.RC, codes, firstLine(r.Stderr))
	return nil
}

// decode unmarshals a result's stdout; a document that is not JSON fails.
func (c *checker) decode(r *Result, v any) bool {
	if err := json.Unmarshal(r.Stdout, v); err != nil {
		c.errorf("%s: stdout is not the JSON document: %v", r.Name, err)
		return false
	}
	return true
}

func (c *checker) run() {
	var ok bool
	if c.dev, ok = c.log.Devices[c.ID]; !ok {
		c.errorf("the VM found no disk with serial %s", c.ID)
		return
	}
	if c.dev.SectorSize != c.SectorSize {
		c.errorf("the VM's kernel sees %d-byte sectors on /dev/%s, QEMU was told %d", c.dev.SectorSize, c.dev.Name, c.SectorSize)
	}
	c.facts = append(c.facts, fmt.Sprintf("/dev/%s, %s, %s, %d-byte sectors", c.dev.Name, c.Bus, c.Table, c.SectorSize))
	c.inspect("inspect")
	c.doctor()
	c.setAndUndo()
	c.restore()
	c.refusals()
	c.unchanged()
}

type inspectDoc struct {
	SectorSize int    `json:"sector_size"`
	Table      string `json:"table"`
	Partitions []struct {
		Number int    `json:"number"`
		Start  int64  `json:"start"`
		Size   int64  `json:"size"`
		FS     string `json:"fs"`
		Role   string `json:"role"`
	} `json:"partitions"`
	XenServer *struct {
		RootPartition int               `json:"root_partition"`
		Inventory     map[string]string `json:"inventory"`
		Backup        *struct {
			Partition int               `json:"partition"`
			Marker    bool              `json:"marker"`
			Inventory map[string]string `json:"inventory"`
		} `json:"backup"`
	} `json:"xenserver"`
}

var roles = map[int]string{1: "root", 2: "backup", 3: "sr"}

// inspect: table, sector size, each partition where the spec put it with
// its filesystem and role, the root's and backup's versions.
func (c *checker) inspect(step string) {
	r := c.result(step, 0)
	var doc inspectDoc
	if r == nil || !c.decode(r, &doc) {
		return
	}
	if doc.SectorSize != c.SectorSize || doc.Table != c.Table {
		c.errorf("%s: %d-byte sectors, table %s; want %d, %s", step, doc.SectorSize, doc.Table, c.SectorSize, c.Table)
	}
	spec := c.spec()
	if len(doc.Partitions) != len(spec.Partitions) {
		c.errorf("%s: %d partitions, want %d", step, len(doc.Partitions), len(spec.Partitions))
	}
	for _, p := range doc.Partitions {
		want := spec.Partition(p.Number)
		if want == nil {
			c.errorf("%s: unexpected partition %d", step, p.Number)
			continue
		}
		if p.Start != want.Start || p.Size != want.Size || p.FS != want.FS || p.Role != roles[p.Number] {
			c.errorf("%s: partition %d at %d (%d bytes), %q, role %q; want %d (%d bytes), %q, role %q",
				step, p.Number, p.Start, p.Size, p.FS, p.Role, want.Start, want.Size, want.FS, roles[p.Number])
		}
	}
	x := doc.XenServer
	switch {
	case x == nil:
		c.errorf("%s: no XenServer installation found", step)
	case x.RootPartition != 1 || x.Inventory["PRODUCT_VERSION"] != c.Installed:
		c.errorf("%s: root partition %d holding %q; want 1 holding %s", step, x.RootPartition, x.Inventory["PRODUCT_VERSION"], c.Installed)
	case x.Backup == nil || x.Backup.Partition != 2 || !x.Backup.Marker || x.Backup.Inventory["PRODUCT_VERSION"] != c.Backup:
		c.errorf("%s: backup %+v; want partition 2 with .xen-backup-partition holding %s", step, x.Backup, c.Backup)
	default:
		if step == "inspect" {
			c.facts = append(c.facts, fmt.Sprintf("roles root/backup/sr, %s with backup %s", c.Installed, c.Backup))
		}
	}
}

// doctor: the installer's verdict is the broken finding, and the plan sets
// the version on this very device. Exit 0 or 4: doctor reports problems
// with 4 once it adopts "completed, problems found" (docs/exit-codes.md).
func (c *checker) doctor() {
	r := c.result("doctor", 0, 4)
	var doc struct {
		Findings []struct {
			ID       string `json:"id"`
			Severity string `json:"severity"`
		} `json:"findings"`
		Plan []struct {
			Command string `json:"command"`
		} `json:"plan"`
	}
	if r == nil || !c.decode(r, &doc) {
		return
	}
	verdict := ""
	for _, f := range doc.Findings {
		if strings.HasPrefix(f.ID, "installer-verdict/"+c.Installer) {
			verdict = f.Severity
		}
	}
	if verdict != "broken" {
		c.errorf("doctor: installer-verdict/%s is %q, want broken", c.Installer, verdict)
	}
	want := "xsrescue version set --disk /dev/" + c.dev.Name + " --for-installer " + c.Installer
	for _, s := range doc.Plan {
		if strings.HasPrefix(s.Command, want) {
			c.facts = append(c.facts, "doctor plans "+want)
			return
		}
	}
	c.errorf("doctor: no plan step %q", want)
}

type showDoc struct {
	Inventory  map[string]string `json:"inventory"`
	Consistent bool              `json:"consistent"`
	Verdicts   []struct {
		Installer     string `json:"installer"`
		OffersUpgrade bool   `json:"offers_upgrade"`
		Reason        string `json:"reason"`
	} `json:"verdicts"`
}

// show returns version show's document after step, checking that it has
// one verdict, for the disk's installer, offering Upgrade or not.
func (c *checker) show(step string, offers bool) *showDoc {
	r := c.result(step, 0)
	var doc showDoc
	if r == nil || !c.decode(r, &doc) {
		return nil
	}
	if len(doc.Verdicts) != 1 || !strings.HasPrefix(doc.Verdicts[0].Installer, c.Installer) {
		c.errorf("%s: verdicts %+v, want one for installer %s", step, doc.Verdicts, c.Installer)
		return nil
	}
	if v := doc.Verdicts[0]; v.OffersUpgrade != offers || !doc.Consistent {
		c.errorf("%s: offers_upgrade %v (%s), markers consistent %v; want %v, consistent", step, v.OffersUpgrade, v.Reason, doc.Consistent, offers)
	}
	return &doc
}

// setAndUndo: version set flips the verdict, the undo command it printed
// runs as is and flips it back, and the root's file tree is as before.
func (c *checker) setAndUndo() {
	before := c.show("show-before", false)
	if before != nil && before.Inventory["PRODUCT_VERSION"] != c.Installed {
		c.errorf("show-before: PRODUCT_VERSION %q, want %s", before.Inventory["PRODUCT_VERSION"], c.Installed)
	}
	// The mutation document (docs/json.md): the op with its undo argv,
	// version set's own account under details.
	var set struct {
		Op *struct {
			ID     int      `json:"id"`
			Status string   `json:"status"`
			Undo   []string `json:"undo"`
		} `json:"op"`
		Details struct {
			Values  map[string]string `json:"values"`
			Verdict *struct {
				OffersUpgrade bool `json:"offers_upgrade"`
			} `json:"verdict"`
		} `json:"details"`
	}
	if r := c.result("set", 0); r != nil && c.decode(r, &set) {
		wantUndo := ""
		if set.Op != nil {
			wantUndo = fmt.Sprintf("xsrescue journal undo %d --disk /dev/%s --partition 1 --journal /tmp/%s-journal.db", set.Op.ID, c.dev.Name, c.ID)
		}
		switch {
		case set.Op == nil || set.Op.Status != "applied":
			c.errorf("set: op %+v, want applied", set.Op)
		case set.Details.Verdict == nil || !set.Details.Verdict.OffersUpgrade:
			c.errorf("set: the %s installer's verdict on the result %+v, want offers_upgrade", c.Installer, set.Details.Verdict)
		case strings.Join(set.Op.Undo, " ") != wantUndo || c.log.Undo[c.ID] != wantUndo:
			c.errorf("set: undo %q (the VM ran %q), want %q", set.Op.Undo, c.log.Undo[c.ID], wantUndo)
		}
	}
	if after := c.show("show-set", true); after != nil && set.Details.Values["PRODUCT_VERSION"] != "" &&
		after.Inventory["PRODUCT_VERSION"] != set.Details.Values["PRODUCT_VERSION"] {
		c.errorf("show-set: PRODUCT_VERSION %q, version set wrote %q", after.Inventory["PRODUCT_VERSION"], set.Details.Values["PRODUCT_VERSION"])
	}
	var undo struct {
		Op struct {
			Status string `json:"status"`
		} `json:"op"`
	}
	if r := c.result("undo", 0); r != nil && c.decode(r, &undo) && undo.Op.Status != "undone" {
		c.errorf("undo: op status %q, want undone", undo.Op.Status)
	}
	if undone := c.show("show-undone", false); undone != nil && before != nil && !maps.Equal(undone.Inventory, before.Inventory) {
		c.errorf("show-undone: the inventory differs from the one before version set")
	}
	// Whatever xsrescue read, the root's files must be as they were.
	tb, ta := c.result("tree-before", 0), c.result("tree-undone", 0)
	if tb != nil && ta != nil {
		if d := firstDiff(string(tb.Stdout), string(ta.Stdout)); d != "" {
			c.errorf("the root's file tree after journal undo differs from before version set: %s", d)
		} else {
			c.facts = append(c.facts, fmt.Sprintf("set+undo: tree of %d entries as before", strings.Count(string(tb.Stdout), "\n")))
		}
	}
}

// restore: the root's image saved before version set goes back; what it
// rewrites is what undo cannot restore (ext3 metadata of the read-write
// mounts).
func (c *checker) restore() {
	if c.result("save", 0) == nil {
		return
	}
	r := c.result("restore", 0)
	var mut struct {
		Details struct {
			ChangedBlocks int    `json:"changed_blocks"`
			Written       bool   `json:"written"`
			Verified      string `json:"verified_sha256"`
			Previous      string `json:"previous_sha256"`
			Snapshot      struct {
				SHA256 string `json:"sha256"`
			} `json:"snapshot"`
		} `json:"details"`
	}
	if r == nil || !c.decode(r, &mut) {
		return
	}
	doc := mut.Details
	now := doc.Previous // nothing to write: the partition already was the image
	if doc.Written {
		now = doc.Verified
	}
	if now != doc.Snapshot.SHA256 {
		c.errorf("restore: partition 1 reads back as %q, the saved image is %s", now, doc.Snapshot.SHA256)
		return
	}
	if doc.ChangedBlocks == 0 {
		c.facts = append(c.facts, "restore-partition: nothing to put back")
		return
	}
	c.facts = append(c.facts, fmt.Sprintf("restore-partition put back %d MiB block(s) that undo leaves (ext3 metadata of the read-write mounts)", doc.ChangedBlocks))
}

// refusals: with partition 2 mounted in the VM, reading works, writing is
// refused with exit 3 and a message.
func (c *checker) refusals() {
	c.inspect("inspect-mounted")
	for _, step := range []string{"set-mounted", "restore-mounted"} {
		r := c.result(step, 3)
		var doc struct {
			Error struct {
				Message  string `json:"message"`
				ExitCode int    `json:"exit_code"`
			} `json:"error"`
		}
		if r == nil || !c.decode(r, &doc) {
			continue
		}
		if doc.Error.ExitCode != 3 || !strings.Contains(doc.Error.Message, "/dev/"+c.dev.Name) {
			c.errorf("%s: error %+v, want exit_code 3 naming /dev/%s", step, doc.Error, c.dev.Name)
		}
	}
	// The byte changed for the refusal is put back once nothing is mounted.
	if r := c.result("restore-again", 0); r != nil {
		var doc struct {
			Details struct {
				Written       bool `json:"written"`
				ChangedBlocks int  `json:"changed_blocks"`
			} `json:"details"`
		}
		if c.decode(r, &doc) && (!doc.Details.Written || doc.Details.ChangedBlocks != 1) {
			c.errorf("restore-again: written %v, %d changed block(s); want the one block changed for the refusal test written back", doc.Details.Written, doc.Details.ChangedBlocks)
		}
	}
	c.facts = append(c.facts, "refused while mounted (exit 3)")
}

// unchanged: after everything, the image is byte-identical to the one built.
func (c *checker) unchanged() {
	sum, err := fixtures.FileSHA256(c.Image)
	if err != nil {
		c.errorf("%v", err)
		return
	}
	if sum != c.SHA256 {
		c.errorf("%s is not byte-identical after the VM: sha256 %s, was %s", filepath.Base(c.Image), sum, c.SHA256)
		return
	}
	c.facts = append(c.facts, "image byte-identical ("+sum[:12]+")")
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// firstDiff describes the first line where a and b differ, or "".
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(la), len(lb)); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: %q became %q", i+1, x, y)
		}
	}
	return ""
}
