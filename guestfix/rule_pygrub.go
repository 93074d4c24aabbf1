package guestfix

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/xsrescue/xsrescue/internal/lazyre"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// pygrubConfigs are the files pygrub reads, the first that exists on the
// filesystem it opens (Xen 3.0.3 to 3.4, tools/pygrub/src/pygrub,
// Grub.read_config): grub's own names on a root with /boot, then on a
// /boot partition.
var pygrubConfigs = []string{"/boot/grub/menu.lst", "/boot/grub/grub.conf", "/grub/menu.lst", "/grub/grub.conf"}

// pygrubBoot is what pygrub boots for this guest, as far as the root shows.
type pygrubBoot struct {
	finding Finding
	change  *plan.Change // default= pointed at an entry that boots, or nil
	kernel  string       // the release it boots, "" when unknown
	found   bool         // the default entry's kernel file is there
	// args are the default entry's kernel arguments, which pygrub hands
	// the kernel instead of the domain config's extra (nil: unknown).
	args     []string
	argsFrom string
	// err is why the grub config or etc/fstab could not be read: a
	// FileError makes it a broken finding of the rule, anything else
	// (I/O) fails the command.
	err     error
	errName string
}

// pygrub follows pygrub on the guest: the filesystem it opens (the active,
// else first, partition: /boot when etc/fstab has one, else the root), the
// first grub config there, its default entry, and whether that entry's
// kernel boots as a Xen guest with its modules in lib/modules.
func (g *guest) pygrub(bl Assignment) pygrubBoot {
	d := g.opts.Domain
	var pb pygrubBoot
	say := func(sev Severity, format string, args ...any) pygrubBoot {
		return pygrubBoot{finding: g.bootloaderFinding(bl, sev, format, args...)}
	}
	if path.Base(bl.Value.Str) != "pygrub" {
		return say(Warn, "not pygrub: which kernel it boots is unknown")
	}
	if a, ok := d.Get("bootloader_args"); ok && (a.Value.Kind != StringValue || strings.Contains(a.Value.Str, "--entry") || strings.Contains(a.Value.Str, "--kernel")) {
		return say(Warn, "bootloader_args on line %d (%s) choose the entry or kernel: which kernel pygrub boots is unknown", a.Line, a.Value.Raw)
	}
	base, why, err := g.pygrubFS()
	switch {
	case err != nil:
		pb.err, pb.errName = err, "etc/fstab"
		return pb
	case base == "?":
		return say(Warn, "%s; which kernel pygrub boots is unknown", why)
	case base != "":
		return g.pygrubOn(bl, base, why)
	case why != "":
		return g.pygrubOn(bl, "", why)
	}
	// No etc/fstab: the layout is unknown. A verdict stands when both
	// readings agree; the one that finds the kernel file is shown.
	root := g.pygrubOn(bl, "", "no etc/fstab; read as the root filesystem")
	boot := g.pygrubOn(bl, "boot", "no etc/fstab; read as a /boot partition mounted on boot/")
	switch {
	case root.err != nil:
		return root
	case boot.err != nil:
		return boot
	case root.finding.Severity != boot.finding.Severity:
		prefix := g.bootloaderFinding(bl, Warn, "").Evidence
		return say(Warn, "no etc/fstab, so whether /boot is a partition of its own is unknown, and the readings differ: %s / %s",
			strings.TrimPrefix(root.finding.Evidence, prefix), strings.TrimPrefix(boot.finding.Evidence, prefix))
	case !root.found && boot.found:
		return boot
	}
	return root
}

// pygrubOn is pygrub on the filesystem at base ("" the root, "boot").
func (g *guest) pygrubOn(bl Assignment, base, why string) pygrubBoot {
	var pb pygrubBoot
	say := func(sev Severity, format string, args ...any) pygrubBoot {
		pb.finding = g.bootloaderFinding(bl, sev, format, args...)
		return pb
	}
	conf, shown, data, err := g.grubConfig(base)
	switch {
	case err != nil:
		pb.err, pb.errName = err, conf
		return pb
	case data == nil:
		return say(Broken, "pygrub finds none of %s on the filesystem it reads (%s): the guest does not start", strings.Join(pygrubConfigs, ", "), why)
	}
	c := ParseGrubConf(data)
	// What each modelled pygrub does; one verdict when they agree, else
	// each named and the worst stands (the host's release is unknown).
	type outcome struct {
		sev   Severity
		text  string
		names []string
	}
	var outs []outcome
	var img GrubImage
	loaded := false
	for _, v := range Pygrubs {
		def, sev, text := c.Default(v)
		if sev == OK {
			img = c.Images[def]
			if !loaded {
				loaded = true
				if fi, err := g.root.Stat(path.Join(base, img.Kernel.Path)); err == nil && img.Kernel.Path != "" {
					pb.found = fi.Mode().IsRegular()
				}
				pb.args, pb.argsFrom = strings.Fields(img.Args), fmt.Sprintf("%s line %d kernel (pygrub's default entry)", shown, img.Kernel.Line)
			}
			var detail, kernel string
			sev, detail, kernel = g.grubEntry(base, img)
			if pb.kernel == "" {
				pb.kernel = kernel
			}
			if sev != Broken {
				text = fmt.Sprintf("boots entry %d %q of %s: %s", def, img.Title, shown, detail)
			} else {
				text = fmt.Sprintf("reads %s: entry %d %q: %s: the guest does not start", shown, def, img.Title, detail)
			}
		} else if sev == Broken {
			text = fmt.Sprintf("reads %s: %s: the guest does not start", shown, text)
		} else {
			text = fmt.Sprintf("reads %s: %s", shown, text)
		}
		if i := slices.IndexFunc(outs, func(o outcome) bool { return o.sev == sev && o.text == text }); i >= 0 {
			outs[i].names = append(outs[i].names, v.Name)
		} else {
			outs = append(outs, outcome{sev, text, []string{v.Name}})
		}
	}
	worst := OK
	var parts []string
	for _, o := range outs {
		worst = worse(worst, o.sev)
		parts = append(parts, fmt.Sprintf("with pygrub of %s it %s", strings.Join(o.names, ", "), o.text))
	}
	if len(outs) == 1 {
		say(worst, "pygrub (%s) %s", why, outs[0].text)
	} else {
		say(worst, "pygrub (%s): which pygrub the host runs is unknown: %s", why, strings.Join(parts, "; "))
	}
	if worst != Broken {
		return pb
	}
	if c.Exec != nil && c.Exec.Fails {
		pb.finding.Evidence += fmt.Sprintf("; edit line %d by hand so that pygrub of %s reads it (no %s after which a name follows, no trailing backslash, no NUL byte), or update the host's pygrub", c.Exec.Line, execReleases(), `"`)
		return pb
	}
	// The default does not boot on some release: point it at the first
	// entry that does (then every release boots that entry).
	for i, other := range c.Images {
		if sev, _, k := g.grubEntry(base, other); sev == OK {
			out, ok := c.WithDefault(i)
			if !ok {
				pb.finding.Evidence += fmt.Sprintf("; entry %d %q boots %s (%s): set default=%d by hand (there are %d default lines)", i, other.Title, k, other.Kernel.Path, i, len(c.Defaults))
				return pb
			}
			pb.finding = fixing(pb.finding)
			pb.finding.Evidence += fmt.Sprintf("; entry %d %q boots %s (%s)", i, other.Title, k, other.Kernel.Path)
			pb.change = &plan.Change{Kind: plan.Write, Path: conf, Content: out, Why: fmt.Sprintf("default=%d: pygrub boots entry %d %q, kernel %s, which has its modules and is a Xen kernel", i, i, other.Title, k)}
			return pb
		}
	}
	pb.finding.Evidence += ": no entry boots a Xen kernel with its modules; reinstall one (" + kernelHint(img) + ") and point default= at it"
	return pb
}

// execReleases names the modelled releases that exec() directives.
func execReleases() string {
	var names []string
	for _, v := range Pygrubs {
		if v.Exec {
			names = append(names, v.Name)
		}
	}
	return strings.Join(names, ", ")
}

// worse is the more severe of a and b.
func worse(a, b Severity) Severity {
	rank := map[Severity]int{OK: 0, Warn: 1, Broken: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func kernelHint(img GrubImage) string {
	if v, ok := strings.CutPrefix(path.Base(img.Kernel.Path), "vmlinuz-"); ok && v != "" {
		return KernelPackage(v)
	}
	return "kernel-xenU"
}

// bootloaderFinding is the host-kernel finding about the domain config's
// bootloader line bl.
func (g *guest) bootloaderFinding(bl Assignment, sev Severity, format string, args ...any) Finding {
	f := finding("host-kernel", "", sev, "%s line %d: bootloader %s: ", g.opts.Domain.Name, bl.Line, bl.Value.Str)
	f.Evidence += fmt.Sprintf(format, args...)
	return f
}

// pygrubFS is the directory of the root that holds the filesystem pygrub
// reads: "" (the root) or "boot" (a /boot partition mounted there), or "?"
// when /boot is a partition of its own that is not mounted under the root;
// why says which, for messages, and is "" when there is no etc/fstab to
// tell.
func (g *guest) pygrubFS() (base, why string, err error) {
	data, shown, ok, err := g.read("etc/fstab")
	if err != nil || !ok {
		return "", "", err // no etc/fstab: why "" says the layout is unknown
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || path.Clean(f[1]) != "/boot" {
			continue
		}
		ents, err := g.list("boot")
		if err != nil {
			return "", "", err
		}
		if len(ents) == 0 {
			return "?", fmt.Sprintf("/boot is a partition of its own (%s line %d) and is not mounted on %s/boot: mount it there (read-only) to check what pygrub boots", shown, n, g.root.Dir()), nil
		}
		return "boot", fmt.Sprintf("the /boot partition (%s line %d), mounted on boot/", shown, n), nil
	}
	return "", "the root filesystem: etc/fstab has no /boot", sc.Err()
}

// grubConfig is the first of pygrubConfigs on the filesystem at base: its
// path in the root (what a fix edits), how to name it, and its bytes (nil
// when there is none). A symlink is followed inside the root to a file
// named menu.lst or grub.conf (CentOS links menu.lst to grub.conf), nothing
// else.
func (g *guest) grubConfig(base string) (conf, shown string, data []byte, err error) {
	for _, c := range pygrubConfigs {
		name := path.Join(base, c[1:])
		resolved, err := g.root.Resolve(name)
		if errors.Is(err, target.ErrTooManyLinks) || errors.Is(err, syscall.ENOTDIR) {
			return name, "", nil, xerr.Refusedf("%s: %v: not read, not edited", name, errors.Unwrap(err))
		}
		if err != nil {
			return name, "", nil, fmt.Errorf("guest %s: %w", name, err)
		}
		fi, err := g.root.Lstat(resolved)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return name, "", nil, fmt.Errorf("guest %s: %w", resolved, err)
		case !slices.Contains([]string{"menu.lst", "grub.conf"}, path.Base(resolved)):
			return name, "", nil, xerr.Refusedf("%s is a symlink to %s: not read, not edited", name, resolved)
		case !fi.Mode().IsRegular():
			return name, "", nil, xerr.Refusedf("%s is not a regular file: not read, not edited", resolved)
		}
		shown = resolved
		if resolved != name {
			shown += " (via " + name + ")"
		}
		data, err := g.root.ReadFile(resolved)
		if err != nil {
			return name, "", nil, fmt.Errorf("guest %s: %w", shown, err)
		}
		return resolved, shown, data, nil
	}
	return "", "", nil, nil
}

// grubEntry checks one entry as pygrub would load it and the guest then
// boot it: its paths parse, its kernel and initrd are files on the
// filesystem at base, lib/modules has the kernel's release, and the
// release is a Xen guest kernel. text is the evidence; kernel the release
// with what was found.
func (g *guest) grubEntry(base string, img GrubImage) (sev Severity, text, kernel string) {
	switch {
	case img.Err != "":
		return Broken, img.Err, ""
	case img.Kernel.Path == "":
		return Broken, fmt.Sprintf("line %d: no kernel line (pygrub fails on img.kernel None)", img.Line), ""
	}
	var broken []string
	for _, p := range []GrubPath{img.Kernel, img.Initrd} {
		if p.Path == "" {
			continue
		}
		name := path.Join(base, p.Path)
		if fi, err := g.root.Stat(name); err != nil || !fi.Mode().IsRegular() {
			broken = append(broken, fmt.Sprintf("line %d: pygrub cannot open %s (%s in the root)", p.Line, p.Path, name))
		}
	}
	release, ok := strings.CutPrefix(path.Base(img.Kernel.Path), "vmlinuz-")
	if !ok || release == "" {
		if len(broken) > 0 {
			return Broken, strings.Join(broken, "; "), ""
		}
		return Warn, fmt.Sprintf("line %d: kernel %s: its release cannot be told from the file name, so its modules and Xen support are unknown", img.Kernel.Line, img.Kernel.Path), ""
	}
	if !slices.Contains(g.kernels.Modules, release) {
		broken = append(broken, fmt.Sprintf("kernel %s, but lib/modules/%s is missing (reinstall %s)", img.Kernel.Path, release, KernelPackage(release)))
	}
	xen, known, why := xenKernel(release)
	switch {
	case known && !xen:
		broken = append(broken, fmt.Sprintf("kernel %s: %s", img.Kernel.Path, why))
	case len(broken) > 0:
	case !known:
		return Warn, fmt.Sprintf("kernel %s, lib/modules/%s exists; %s", img.Kernel.Path, release, why), release
	}
	if len(broken) > 0 {
		return Broken, strings.Join(broken, "; "), release
	}
	return OK, fmt.Sprintf("kernel %s, lib/modules/%s exists, %s; keep %s installed", img.Kernel.Path, release, why, KernelPackage(release)), release
}

// oldEL is a CentOS 4 or 5 kernel release's version-release part.
var oldEL = lazyre.New(`(?:\.EL|\.el[45](?:_[0-9]+)?)$`)

// xenKernel: a CentOS 4 or 5 kernel boots as a Xen paravirtual guest only in
// its Xen flavour (kernel-xenU on CentOS 4, kernel-xen on 5). Later kernels
// carry Xen guest support in the base kernel, which the release does not
// tell: unknown.
func xenKernel(release string) (xen, known bool, why string) {
	m := kernelRelease().FindStringSubmatch(release)
	if m == nil || !oldEL().MatchString(m[1]) {
		return false, false, "whether " + release + " boots as a Xen guest is unknown from its release (CentOS 4 and 5 need the xenU/xen flavour)"
	}
	if m[2] == "xenU" || m[2] == "xen" {
		return true, true, "a " + m[2] + " kernel"
	}
	flavour := m[2]
	if flavour == "" {
		flavour = "base"
	}
	return false, true, fmt.Sprintf("the %s flavour, which does not boot as a Xen guest (CentOS 4 and 5 need kernel-xenU / kernel-xen)", flavour)
}
