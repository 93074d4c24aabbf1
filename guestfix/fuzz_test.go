package guestfix

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// Each parser must keep every byte of what it accepts, report anything else
// as invalid input (exit 2), and its edits must parse again.

func mustBeInvalid(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, xerr.ErrInvalid) {
		t.Fatalf("error is not marked invalid input: %v", err)
	}
}

func FuzzParseYumConf(f *testing.F) {
	for _, s := range []string{
		"[main]\ncachedir=/var/cache/yum\ninstallonlypkgs=kernel kernel-smp\n",
		"[main]\ninstallonlypkgs=kernel,\n\tkernel-xenU\n\n# c\n\tkernel-devel\n[base]\nname=x\n",
		"[main\n", "  x\n", "key=v\n", "[main]\n=\n", "[main]\r\nrem comment\r\nA : b", "\x00[]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseYumConf(bytes.NewReader(data), "yum.conf")
		mustBeInvalid(t, err)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Bytes(), data) {
			t.Fatalf("round trip changed the bytes")
		}
		c.Set("main", "installonlypkgs", "kernel kernel-xenU")
		again, err := ParseYumConf(bytes.NewReader(c.Bytes()), "yum.conf")
		if err != nil {
			t.Fatalf("edited file does not parse: %v\n%q", err, c.Bytes())
		}
		if pkgs, _, ok := again.InstallOnlyPkgs(); !ok || strings.Join(pkgs, " ") != "kernel kernel-xenU" {
			t.Fatalf("after Set: %q %v\n%q", pkgs, ok, c.Bytes())
		}
	})
}

func FuzzParseInittab(f *testing.F) {
	for _, s := range []string{
		"id:3:initdefault:\nsi::sysinit:/etc/rc.d/rc.sysinit\n1:2345:respawn:/sbin/mingetty tty1\n",
		"id:3:initdefault", "x:1:bogus:/bin/sh\n", "::\n", "12345:3:wait:x\n", "# only a comment", "1:2345:respawn:/sbin/mingetty tty1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := ParseInittab(bytes.NewReader(data), "inittab")
		mustBeInvalid(t, err)
		if err != nil {
			return
		}
		if !bytes.Equal(tab.Bytes(), data) {
			t.Fatalf("round trip changed the bytes")
		}
		if _, ok := tab.Entry("S0"); ok {
			return
		}
		tab.InsertBefore("1", SerialGetty)
		again, err := ParseInittab(bytes.NewReader(tab.Bytes()), "inittab")
		if err != nil {
			t.Fatalf("edited inittab does not parse: %v\n%q", err, tab.Bytes())
		}
		gettys := again.GettiesOn("ttyS0")
		if len(gettys) == 0 {
			t.Fatalf("no ttyS0 getty after the insert\n%q", tab.Bytes())
		}
		again.SetRunlevels(gettys[0].Line, "12345")
		third, err := ParseInittab(bytes.NewReader(again.Bytes()), "inittab")
		if err != nil {
			t.Fatalf("inittab with new runlevels does not parse: %v\n%q", err, again.Bytes())
		}
		if e, ok := third.Entry(gettys[0].ID); !ok || e.Runlevels != "12345" || e.Process != gettys[0].Process {
			t.Fatalf("SetRunlevels: %+v\n%q", e, again.Bytes())
		}
	})
}

func FuzzParseDomainConfig(f *testing.F) {
	for _, s := range []string{
		"kernel = \"/boot/vmlinuz-2.6.9-55.ELxenU\"\nvcpus = 1\nextra = 'ro 3'\n",
		"disk = [ 'phy:/dev/x,xvda,w',\n 'file:/y,xvdb,w' ]\nvif = [('a','b')]\n",
		"extra = \"\"\"x\ny\"\"\"\n", "extra = r'\\d'\n", "extra = r'''a'''\n", "extra = u\"\"\"\"\"\"\n", "x = [", "x = ]", "= 1\n", "x = 'a\n", "x = \\", "extra = a + 'b'\n", "x = 1;;y = 2",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseDomainConfig(bytes.NewReader(data), "cfg")
		mustBeInvalid(t, err)
		if err != nil {
			return
		}
		c.Kernel()
		c.VCPUs()
		out, err := c.WithExtraTokens(ConsoleArgs)
		mustBeInvalid(t, err)
		if err != nil {
			return
		}
		again, err := ParseDomainConfig(bytes.NewReader(out), "cfg")
		if err != nil {
			t.Fatalf("edited config does not parse: %v\n%q", err, out)
		}
		a, ok := again.Get("extra")
		if !ok || a.Value.Kind != StringValue {
			t.Fatalf("no string extra after the edit\n%q", out)
		}
		for _, tok := range ConsoleArgs {
			if !slices.Contains(strings.Fields(a.Value.Str), tok) {
				t.Fatalf("extra %q lacks %s\n%q", a.Value.Str, tok, out)
			}
		}
	})
}

func FuzzParseAccounts(f *testing.F) {
	for _, s := range []string{
		"root:x:0:0:root:/root:/bin/bash\n+::::::\n", "dbus:x:81:81:System message bus:/:/sbin/nologin", "a:b\n", ":x:1:1:::\n", "x:x:y:1:::\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAccounts(bytes.NewReader(data), "passwd", Passwd)
		mustBeInvalid(t, err)
		if err != nil {
			return
		}
		if _, ok := a.Lookup("dbus"); ok {
			return
		}
		out := a.Appended("dbus:x:81:81:System message bus:/:/sbin/nologin")
		again, err := ParseAccounts(bytes.NewReader(out), "passwd", Passwd)
		if err != nil {
			t.Fatalf("appended file does not parse: %v\n%q", err, out)
		}
		if e, ok := again.Lookup("dbus"); !ok || e.ID() != 81 {
			t.Fatalf("dbus not found after append\n%q", out)
		}
	})
}

// FuzzSecureTTY: no input panics, and the line fix appends always makes
// pam_securetty accept ttyS0. The same input read as an inittab: its
// default runlevel, when known, is one init accepts.
func FuzzSecureTTY(f *testing.F) {
	f.Add([]byte("console\nttyS0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		SecureTTY(data, "ttyS0")
		fixed := append(append([]byte(nil), data...), '\n')
		if len(data) == 0 || data[len(data)-1] == '\n' {
			fixed = fixed[:len(data)]
		}
		if ok, _ := SecureTTY(append(fixed, "ttyS0\n"...), "ttyS0"); !ok {
			t.Fatalf("an exact ttyS0 line appended to %q is not accepted", data)
		}
		tab, err := ParseInittab(bytes.NewReader(data), "inittab")
		if err != nil {
			return
		}
		if lvl, _, ok := tab.DefaultRunlevel(); ok && !strings.ContainsRune("0123456789S", rune(lvl)) {
			t.Fatalf("default runlevel %q", lvl)
		}
	})
}

// FuzzParseGrubConf: no input panics; the default pygrub would boot is an
// entry; WithDefault writes a file whose default is that entry, with every
// entry kept.
func FuzzParseGrubConf(f *testing.F) {
	f.Add([]byte("default=0\ntimeout=5\ntitle CentOS (2.6.9-67.ELxenU)\n\troot (hd0,0)\n\tkernel /vmlinuz-2.6.9-67.ELxenU ro root=LABEL=/\n\tinitrd /initrd-2.6.9-67.ELxenU.img\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := ParseGrubConf(data)
		for _, v := range Pygrubs {
			if def, sev, _ := c.Default(v); sev == OK && (def < 0 || def >= len(c.Images)) {
				t.Fatalf("%s: default %d of %d entries", v.Name, def, len(c.Images))
			}
		}
		if len(c.Images) == 0 {
			return
		}
		n := len(c.Images) - 1
		out, ok := c.WithDefault(n)
		if !ok {
			return
		}
		again := ParseGrubConf(out)
		if def, sev, fail := again.Default(Pygrubs[1]); sev != OK || def != n || len(again.Images) != len(c.Images) {
			t.Fatalf("WithDefault(%d): default %d (%s), %d entries of %d\n%q", n, def, fail, len(again.Images), len(c.Images), out)
		}
	})
}
