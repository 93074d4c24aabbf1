package zfsroot

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// libbe user properties on boot environments and zone BEs.
const (
	PropActive   = "org.opensolaris.libbe:active"
	PropParentBE = "org.opensolaris.libbe:parentbe"
	PropUUID     = "org.opensolaris.libbe:uuid"
)

// The brand scripts' messages for a zone without exactly one current zbe.
const (
	ErrNoActiveDataset       = "no active dataset."
	ErrMultipleActiveDataset = "multiple active datasets."
)

// ErrNoZFS means the zfs command is missing or cannot see any pool.
var ErrNoZFS = errors.New("the zfs command cannot see the pool")

// CLI runs the system's zfs and zpool commands (Solaris media, OpenZFS or
// zfs-fuse); it is the only way zfsroot looks inside a pool.
type CLI struct {
	ZFS, ZPool string // command names or paths; empty: "zfs", "zpool"
}

func (c CLI) run(ctx context.Context, tool string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (c CLI) zfs(ctx context.Context, args ...string) (string, error) {
	return c.run(ctx, cmp.Or(c.ZFS, "zfs"), args...)
}

func (c CLI) zpool(ctx context.Context, args ...string) (string, error) {
	return c.run(ctx, cmp.Or(c.ZPool, "zpool"), args...)
}

// Dataset is one line of `zfs list -H -o name,mountpoint,<props>`.
type Dataset struct {
	Name       string            `json:"name"`
	Mountpoint string            `json:"mountpoint"`
	Props      map[string]string `json:"properties,omitempty"`
}

// List lists filesystems (all, or under root recursively) with props.
func (c CLI) List(ctx context.Context, root string, props ...string) ([]Dataset, error) {
	args := []string{"list", "-H", "-t", "filesystem", "-o", strings.Join(append([]string{"name", "mountpoint"}, props...), ",")}
	if root != "" {
		args = append(args, "-r", root)
	}
	out, err := c.zfs(ctx, args...)
	if err != nil {
		return nil, err
	}
	var ds []Dataset
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 2+len(props) {
			continue
		}
		d := Dataset{Name: f[0], Mountpoint: f[1], Props: map[string]string{}}
		for i, p := range props {
			d.Props[p] = f[2+i]
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// Get returns one property value of a dataset ("-" when unset).
func (c CLI) Get(ctx context.Context, ds, prop string) (string, error) {
	out, err := c.zfs(ctx, "get", "-H", "-o", "value", prop, ds)
	return strings.TrimSpace(out), err
}

// Bootfs is the pool's bootfs property: the global boot environment that
// boots next.
func (c CLI) Bootfs(ctx context.Context, pool string) (string, error) {
	return c.PoolProp(ctx, pool, "bootfs")
}

// PoolProp is one property of a pool ("-" when unset). zpool get has no
// -H on old zpool (zfs-fuse): parse the NAME PROPERTY VALUE SOURCE table.
func (c CLI) PoolProp(ctx context.Context, pool, prop string) (string, error) {
	out, err := c.zpool(ctx, "get", prop, pool)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 4 && f[0] == pool && f[1] == prop {
			return strings.Join(f[2:len(f)-1], " "), nil
		}
	}
	return "", fmt.Errorf("zpool get %s %s: no value in %q", prop, pool, out)
}

// Snapshot takes ds@name.
func (c CLI) Snapshot(ctx context.Context, snap string) error {
	_, err := c.zfs(ctx, "snapshot", snap)
	return err
}

// ZBE is one zone boot environment dataset.
type ZBE struct {
	Name       string `json:"name"`
	Active     string `json:"active"`
	ParentBE   string `json:"parentbe"`
	Mountpoint string `json:"mountpoint"`
	Canmount   string `json:"canmount"`
	Zoned      string `json:"zoned"`
	Current    bool   `json:"current"`
}

// ZBEReport is what the brand scripts would decide about a zone's zbes.
type ZBEReport struct {
	ZonepathDataset string `json:"zonepath_dataset"`
	Container       string `json:"container"`        // <zonepath_ds>/ROOT or <zonepath_ds>/rpool/ROOT
	Layout          string `json:"layout"`           // "opensolaris" or "solaris11"
	GlobalBE        string `json:"global_be"`        // the global BE dataset whose zbes count ("" when only a uuid was given)
	GlobalUUID      string `json:"global_be_uuid"`   // its org.opensolaris.libbe:uuid
	GlobalBESource  string `json:"global_be_source"` // "bootfs" (the BE active on reboot) or "--global-be"
	ZBEs            []ZBE  `json:"zbes"`
	Current         string `json:"current,omitempty"`
	Error           string `json:"error,omitempty"` // the zoneadm message, when not exactly one
	Fix             string `json:"fix,omitempty"`   // the commands that fix it
}

// DatasetMountedAt finds the dataset whose mountpoint is dir, either as
// recorded (the pool's own view) or below altroot (imported with -R).
func DatasetMountedAt(ds []Dataset, dir, altroot string) (Dataset, bool) {
	for _, d := range ds {
		if d.Mountpoint == dir || (altroot != "" && d.Mountpoint == path.Join(altroot, dir)) {
			return d, true
		}
	}
	return Dataset{}, false
}

// ErrNoSuchBE means --global-be names no global boot environment.
var ErrNoSuchBE = errors.New("no such global boot environment")

// FindZBEs reports the zbes of the zone whose zonepath is zonepath (as
// written in the zone's XML), with altroot the directory the global zone's
// root is mounted at here. globalBE picks the global BE the zbes must
// belong to: a BE name (opensolaris-1), its dataset (rpool/ROOT/opensolaris-1)
// or its org.opensolaris.libbe:uuid; "" takes the pool's bootfs, the BE
// active on the next boot, which is the one the ipkg brand takes only
// when it is also the booted one (docs/zfs.md).
func FindZBEs(ctx context.Context, c CLI, zonepath, altroot, globalBE string) (*ZBEReport, error) {
	all, err := c.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoZFS, err)
	}
	zp, ok := DatasetMountedAt(all, zonepath, altroot)
	if !ok {
		return nil, fmt.Errorf("no dataset is mounted at zonepath %s: %w", zonepath, ErrNoZFS)
	}
	r := &ZBEReport{ZonepathDataset: zp.Name}
	for _, cand := range []struct{ ds, layout string }{{zp.Name + "/rpool/ROOT", "solaris11"}, {zp.Name + "/ROOT", "opensolaris"}} {
		for _, d := range all {
			if d.Name == cand.ds {
				r.Container, r.Layout = cand.ds, cand.layout
			}
		}
		if r.Container != "" {
			break
		}
	}
	if r.Container == "" {
		r.Error = "no zbe container: neither " + zp.Name + "/ROOT nor " + zp.Name + "/rpool/ROOT exists"
		return r, nil
	}
	pool, _, _ := strings.Cut(zp.Name, "/")
	if err := r.globalBE(ctx, c, pool, globalBE); err != nil {
		return nil, err
	}
	kids, err := c.List(ctx, r.Container, PropActive, PropParentBE, "canmount", "zoned")
	if err != nil {
		return nil, err
	}
	for _, d := range kids {
		if path.Dir(d.Name) != r.Container {
			continue
		}
		z := ZBE{Name: d.Name, Mountpoint: d.Mountpoint, Active: d.Props[PropActive], ParentBE: d.Props[PropParentBE],
			Canmount: d.Props["canmount"], Zoned: d.Props["zoned"]}
		z.Current = z.Active == "on" && z.ParentBE == r.GlobalUUID && r.GlobalUUID != "-" && r.GlobalUUID != ""
		r.ZBEs = append(r.ZBEs, z)
	}
	sort.SliceStable(r.ZBEs, func(i, j int) bool { return zbeLess(r.ZBEs[i].Name, r.ZBEs[j].Name) })
	r.judge()
	return r, nil
}

// globalBE sets the global BE: the one asked for, else the pool's bootfs.
func (r *ZBEReport) globalBE(ctx context.Context, c CLI, pool, want string) error {
	var err error
	if want == "" {
		r.GlobalBESource = "bootfs"
		if r.GlobalBE, err = c.Bootfs(ctx, pool); err != nil {
			return err
		}
		if r.GlobalBE != "-" && r.GlobalBE != "" {
			r.GlobalUUID, err = c.Get(ctx, r.GlobalBE, PropUUID)
		}
		return err
	}
	r.GlobalBESource = "--global-be"
	if uuidParse(want) {
		r.GlobalUUID = want
		bes, err := c.List(ctx, pool+"/ROOT", PropUUID)
		if err != nil {
			return err
		}
		for _, b := range bes {
			if path.Dir(b.Name) == pool+"/ROOT" && strings.EqualFold(b.Props[PropUUID], want) {
				r.GlobalBE = b.Name
			}
		}
		return nil
	}
	r.GlobalBE = want
	if !strings.Contains(want, "/") {
		r.GlobalBE = pool + "/ROOT/" + want
	}
	if r.GlobalUUID, err = c.Get(ctx, r.GlobalBE, PropUUID); err != nil {
		return xerr.Invalidf("--global-be %s: %w (%v)", want, ErrNoSuchBE, err)
	}
	if r.GlobalUUID == "-" || r.GlobalUUID == "" {
		return xerr.Invalidf("--global-be %s: %s has no %s: not a boot environment", want, r.GlobalBE, PropUUID)
	}
	return nil
}

// zbeLess orders zone BE datasets as their numbers do: zbe < zbe-2 <
// zbe-10 (solaris < solaris-1 likewise), the name before the "-N" first.
// The numbers are compared as digit strings, so no size overflows.
func zbeLess(a, b string) bool {
	pa, na := zbeNumber(path.Base(a))
	pb, nb := zbeNumber(path.Base(b))
	if pa != pb {
		return pa < pb
	}
	if len(na) != len(nb) {
		return len(na) < len(nb)
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

// zbeNumber splits "zbe-12" into "zbe" and "12" (leading zeros dropped);
// a name without "-N" has the number "" (before any number).
func zbeNumber(name string) (prefix, num string) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 || strings.TrimLeft(name[i+1:], "0123456789") != "" {
		return name, ""
	}
	num = strings.TrimLeft(name[i+1:], "0")
	if num == "" {
		num = "0"
	}
	return name[:i], num
}

// judge applies the brand's get_active_ds rule and writes the fix.
func (r *ZBEReport) judge() {
	var cur []string
	for _, z := range r.ZBEs {
		if z.Current {
			cur = append(cur, z.Name)
		}
	}
	switch {
	case len(cur) == 1:
		r.Current = cur[0]
		return
	case r.GlobalUUID == "" || r.GlobalUUID == "-":
		r.Error = ErrNoActiveDataset
		r.Fix = fmt.Sprintf("the global BE (%s, from %s) has no %s: name the BE the zone belongs to with --global-be, set the pool's bootfs to it, or use beadm from Solaris media", orNone(r.GlobalBE), r.GlobalBESource, PropUUID)
	case len(cur) == 0:
		r.Error = ErrNoActiveDataset
		if len(r.ZBEs) == 0 {
			r.Fix = "no zbe exists under " + r.Container
			return
		}
		newest := r.newest()
		r.Fix = fmt.Sprintf("zfs set %s=%s %s && zfs set %s=on %s", PropParentBE, r.GlobalUUID, newest, PropActive, newest)
	default:
		sort.SliceStable(cur, func(i, j int) bool { return zbeLess(cur[i], cur[j]) })
		keep := cur[len(cur)-1]
		var off []string
		for _, n := range cur[:len(cur)-1] {
			off = append(off, fmt.Sprintf("zfs set %s=off %s", PropActive, n))
		}
		r.Error = ErrMultipleActiveDataset
		r.Fix = strings.Join(off, " && ") + " (keeps " + keep + "; pick the one the zone last booted from)"
	}
	if r.Fix != "" {
		r.Fix += " — from Solaris media, or after an explicit read-write import"
	}
}

// newest is the zbe with the highest number (zbe-10 after zbe-2).
func (r *ZBEReport) newest() string {
	best := r.ZBEs[0].Name
	for _, z := range r.ZBEs[1:] {
		if zbeLess(best, z.Name) {
			best = z.Name
		}
	}
	return best
}

// MountSource is the mount that holds dir according to mountinfo (e.g.
// /proc/self/mountinfo): the filesystem type and source of the longest
// mount point that is dir or one of its parents.
func MountSource(mountinfo io.Reader, dir string) (fstype, source, mountpoint string) {
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 {
			continue
		}
		mp := unescapeMount(f[4])
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(mountpoint) {
			fstype, source, mountpoint = g[0], unescapeMount(g[1]), mp
		}
	}
	return fstype, source, mountpoint
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// DatasetOf returns the ZFS dataset mounted at or above dir ("" when dir
// is not on ZFS). zfs-fuse mounts show as fuse.zfs.
func DatasetOf(dir string) (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	fstype, source, _ := MountSource(f, dir)
	if fstype == "zfs" || fstype == "fuse.zfs" {
		return source, nil
	}
	return "", nil
}

func orNone(s string) string {
	if s == "" || s == "-" {
		return "none"
	}
	return s
}
