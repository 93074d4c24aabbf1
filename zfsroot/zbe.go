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
	Container       string `json:"container"` // <zonepath_ds>/ROOT or <zonepath_ds>/rpool/ROOT
	Layout          string `json:"layout"`    // "opensolaris" or "solaris11"
	GlobalBE        string `json:"global_be"` // the pool's bootfs
	GlobalUUID      string `json:"global_be_uuid"`
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

// FindZBEs reports the zbes of the zone whose zonepath is zonepath (as
// written in the zone's XML), with altroot the directory the global zone's
// root is mounted at here.
func FindZBEs(ctx context.Context, c CLI, zonepath, altroot string) (*ZBEReport, error) {
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
	if r.GlobalBE, err = c.Bootfs(ctx, pool); err != nil {
		return nil, err
	}
	if r.GlobalBE != "-" && r.GlobalBE != "" {
		if r.GlobalUUID, err = c.Get(ctx, r.GlobalBE, PropUUID); err != nil {
			return nil, err
		}
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
	r.judge()
	return r, nil
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
		r.Fix = fmt.Sprintf("the pool's bootfs (%s) has no %s: set the pool's bootfs to the global BE that will boot, or use beadm from Solaris media", r.GlobalBE, PropUUID)
	case len(cur) == 0:
		r.Error = ErrNoActiveDataset
		if len(r.ZBEs) == 0 {
			r.Fix = "no zbe exists under " + r.Container
			return
		}
		newest := r.newest()
		r.Fix = fmt.Sprintf("zfs set %s=%s %s && zfs set %s=on %s", PropParentBE, r.GlobalUUID, newest, PropActive, newest)
	default:
		sort.Strings(cur)
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

// newest is the zbe with the highest zbe-N suffix (zbe itself counts as 0).
func (r *ZBEReport) newest() string {
	best, bestN := r.ZBEs[0].Name, -1
	for _, z := range r.ZBEs {
		n := 0
		if _, num, ok := strings.Cut(path.Base(z.Name), "-"); ok {
			fmt.Sscan(num, &n)
		}
		if n > bestN {
			best, bestN = z.Name, n
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
