package guestfix

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

func TestYumConfSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"absent: after the last option of [main]",
			"[main]\ncachedir=/var/cache/yum\n\n# repos\n[base]\nname=Base\n",
			"[main]\ncachedir=/var/cache/yum\ninstallonlypkgs=K\n\n# repos\n[base]\nname=Base\n"},
		{"present: value replaced, spacing kept",
			"[main]\ninstallonlypkgs = kernel kernel-smp   \ngpgcheck=1\n",
			"[main]\ninstallonlypkgs = K\ngpgcheck=1\n"},
		{"continuation lines folded, comment between kept",
			"[main]\ninstallonlypkgs=kernel\n  kernel-smp\n# note\n  kernel-devel\ngpgcheck=1\n",
			"[main]\ninstallonlypkgs=K\n# note\ngpgcheck=1\n"},
		{"no trailing newline", "[main]\ngpgcheck=1", "[main]\ngpgcheck=1\ninstallonlypkgs=K\n"},
		{"CRLF file", "[main]\r\ngpgcheck=1\r\n", "[main]\r\ngpgcheck=1\r\ninstallonlypkgs=K\r\n"},
		{"no [main]", "[base]\nname=Base\n", "[main]\ninstallonlypkgs=K\n[base]\nname=Base\n"},
		{"empty file", "", "[main]\ninstallonlypkgs=K\n"},
		{"last definition wins", "[main]\ninstallonlypkgs=a\ninstallonlypkgs=b\n", "[main]\ninstallonlypkgs=a\ninstallonlypkgs=K\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseYumConf(strings.NewReader(tc.in), "yum.conf")
			if err != nil {
				t.Fatal(err)
			}
			if got := string(c.Bytes()); got != tc.in {
				t.Fatalf("round trip: %q", got)
			}
			c.Set("main", "installonlypkgs", "K")
			if d := cmp.Diff(tc.want, string(c.Bytes())); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestInstallOnlyPkgs(t *testing.T) {
	t.Parallel()
	c, err := ParseYumConf(strings.NewReader("[main]\nINSTALLONLYPKGS=kernel, kernel-smp\n  kernel-xenU\n"), "yum.conf")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, line, ok := c.InstallOnlyPkgs()
	if d := cmp.Diff([]string{"kernel", "kernel-smp", "kernel-xenU"}, pkgs); d != "" || line != 2 || !ok {
		t.Errorf("line %d ok %v (-want +got):\n%s", line, ok, d)
	}
}

func TestInittabInsert(t *testing.T) {
	t.Parallel()
	in := "id:3:initdefault:\n# gettys\n1:2345:respawn:/sbin/mingetty tty1\n2:2345:respawn:/sbin/mingetty tty2\n"
	tab, err := ParseInittab(strings.NewReader(in), "inittab")
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.GettiesOn("ttyS0")) > 0 {
		t.Fatal("ttyS0 getty found in a tab without one")
	}
	if at := tab.InsertBefore("1", SerialGetty); at != 3 {
		t.Errorf("inserted at line %d, want 3", at)
	}
	want := "id:3:initdefault:\n# gettys\n" + SerialGetty + "\n1:2345:respawn:/sbin/mingetty tty1\n2:2345:respawn:/sbin/mingetty tty2\n"
	if d := cmp.Diff(want, string(tab.Bytes())); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if e := tab.GettiesOn("ttyS0"); len(e) != 1 || e[0].Line != 3 {
		t.Errorf("GettiesOn after insert: %+v", e)
	}

	// No "1:" entry: appended, a missing final newline added first.
	tab, _ = ParseInittab(strings.NewReader("id:3:initdefault:"), "inittab")
	tab.InsertBefore("1", SerialGetty)
	if got := string(tab.Bytes()); got != "id:3:initdefault:\n"+SerialGetty+"\n" {
		t.Errorf("append: %q", got)
	}
}

func TestDomainConfig(t *testing.T) {
	t.Parallel()
	in := `# comment
name = "vm1"; memory = 512
kernel = '/boot/xen/vmlinuz-2.6.9-55.ELxenU'
vcpus = 1
disk = [ 'phy:/dev/vg/vm1,xvda,w',   # first disk
         "file:/x.img,xvdb,w", ]
vif = [ ('a', "b"), ]
extra = r"ro \
3"
builder = os.path.join(a, "b")
on_crash = 'restart'
`
	c, err := ParseDomainConfig(strings.NewReader(in), "vm1.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kernel() != "2.6.9-55.ELxenU" || c.VCPUs() != 1 {
		t.Errorf("kernel %q vcpus %d", c.Kernel(), c.VCPUs())
	}
	got := map[string]string{}
	for _, a := range c.Assignments {
		got[a.Key] = string(a.Value.Kind)
	}
	want := map[string]string{"name": "string", "memory": "number", "kernel": "string", "vcpus": "number", "disk": "list", "vif": "list", "extra": "string", "builder": "other", "on_crash": "string"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("kinds (-want +got):\n%s", d)
	}
	if d, _ := c.Get("disk"); len(d.Value.List) != 2 || d.Value.List[1].Str != "file:/x.img,xvdb,w" || d.Line != 5 {
		t.Errorf("disk: %+v", d)
	}
	out, err := c.WithExtraTokens(ConsoleArgs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("extra = r\"ro \\\n3 xencons=ttyS console=ttyS0\"\n")) {
		t.Errorf("extra edit:\n%s", out)
	}
	if bytes.Count(out, []byte("\n")) != bytes.Count([]byte(in), []byte("\n")) {
		t.Error("extra edit changed the line count")
	}

	noVCPUs, _ := ParseDomainConfig(strings.NewReader("bootloader = '/usr/bin/pygrub'\n"), "x")
	if noVCPUs.VCPUs() != 1 || noVCPUs.Kernel() != "" {
		t.Errorf("defaults: vcpus %d kernel %q", noVCPUs.VCPUs(), noVCPUs.Kernel())
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		parse func(string) error
		in    string
		want  string
	}{
		{yumParse, "[main]\n  indented\n", "yum.conf line 2: indented line \"indented\" continues no option"},
		{yumParse, "[]\n", "yum.conf line 1: empty section name"},
		{yumParse, "[main]\n= value\n", "yum.conf line 2: expected 'name = value' or '[section]', got \"= value\""},
		{inittabParse, "12345:3:initdefault:\n", "inittab line 1: id \"12345\" is longer than 4 characters"},
		{domainParse, "x = [1, 2\n", "cfg line 1: bracket opened here is never closed"},
		{domainParse, "x = 1\n]\n", "cfg line 2: unbalanced \"]\""},
		{domainParse, "name\n", "cfg line 1: expected 'name = value', got \"name\""},
		{domainParse, "x =\n", "cfg line 1: x has no value"},
		{domainParse, "x = 'a\\\n", "cfg line 1: string is never closed"},
		{domainParse, "x = $\n", "cfg line 1: unexpected character \"$\""},
		{domainParse, "x = '''a\nb\n", "cfg line 1: string is never closed"},
		{accountsParse, "dbus::81:81::/:/sbin/nologin\n:x:1:1::/:/bin/sh\n", "passwd line 2: empty name"},
	}
	for _, tc := range tests {
		err := tc.parse(tc.in)
		if err == nil || err.Error() != tc.want || !errors.Is(err, xerr.ErrInvalid) {
			t.Errorf("%q: got %v, want %q (invalid input)", tc.in, err, tc.want)
		}
	}
}

func yumParse(s string) error {
	_, err := ParseYumConf(strings.NewReader(s), "yum.conf")
	return err
}

func inittabParse(s string) error {
	_, err := ParseInittab(strings.NewReader(s), "inittab")
	return err
}

func domainParse(s string) error {
	_, err := ParseDomainConfig(strings.NewReader(s), "cfg")
	return err
}

func accountsParse(s string) error {
	_, err := ParseAccounts(strings.NewReader(s), "passwd", Passwd)
	return err
}

func TestKernelPackage(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2.6.9-55.ELxenU":        "kernel-xenU-2.6.9-55.EL",
		"2.6.9-42.0.10.ELsmp":    "kernel-smp-2.6.9-42.0.10.EL",
		"2.6.9-67.EL":            "kernel-2.6.9-67.EL",
		"2.6.18-8.el5xen":        "kernel-xen-2.6.18-8.el5",
		"3.10.0-1160.el7.x86_64": "kernel-3.10.0-1160.el7.x86_64",
	} {
		if got := KernelPackage(in); got != want {
			t.Errorf("KernelPackage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDiffSummary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b, want string }{
		{"x\ny\n", "x\ny\n", "is identical to f"},
		{"x\ny\n", "x\nz\nw\n", "vs f: 2 lines added, 1 removed, first difference at line 2"},
		{"", "a", "vs f: 1 line added, 0 removed, first difference at line 1"},
	} {
		if got := DiffSummary("f", tc.a, tc.b); got != tc.want {
			t.Errorf("DiffSummary(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestExtraStringForms(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`extra = "ro"`:           `extra = "ro xencons=ttyS console=ttyS0"`,
		`extra = ''`:             `extra = 'xencons=ttyS console=ttyS0'`,
		`extra = r'''ro 3'''`:    `extra = r'''ro 3 xencons=ttyS console=ttyS0'''`,
		`extra = "xencons=ttyS"`: `extra = "xencons=ttyS console=ttyS0"`,
		`extra = "a\"b "`:        `extra = "a\"b xencons=ttyS console=ttyS0"`,
	} {
		c, err := ParseDomainConfig(strings.NewReader(in+"\n"), "cfg")
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.WithExtraTokens(ConsoleArgs)
		if err != nil || string(out) != want+"\n" {
			t.Errorf("%s: got %q, %v; want %q", in, out, err, want)
		}
	}
}
