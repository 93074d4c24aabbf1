package main

import (
	"strings"
	"testing"
)

// A log as the VM's init writes it: two results, a device, the undo line.
const goodLog = `@@DEVICE virtio-512 vda 512
@@RESULT virtio-512.inspect rc=0
@@STDOUT
eyJzZWN0b3Jfc2l6ZSI6IDUxMn0K
@@STDERR
@@END virtio-512.inspect
@@UNDO virtio-512 xsrescue journal undo 2 --disk /dev/vda --partition 1 --journal /tmp/j.db
@@RESULT virtio-512.set-mounted rc=3
@@STDOUT
@@STDERR
eHNyZXNjdWU6IGRpc2sgL2Rldi92ZGE6IHZkYTIgaXMg
bW91bnRlZAo=
@@END virtio-512.set-mounted
@@NOTE something to say
@@DONE
`

func TestParseLog(t *testing.T) {
	l, err := ParseLog(strings.NewReader(goodLog))
	if err != nil {
		t.Fatal(err)
	}
	if !l.Done || l.Fatal != "" || len(l.Order) != 2 || len(l.Notes) != 1 {
		t.Fatalf("parsed %+v", l)
	}
	if d := l.Devices["virtio-512"]; d.Name != "vda" || d.SectorSize != 512 {
		t.Errorf("device %+v", d)
	}
	if r := l.Results["virtio-512.inspect"]; r.RC != 0 || string(r.Stdout) != "{\"sector_size\": 512}\n" || len(r.Stderr) != 0 || r.Line != 2 {
		t.Errorf("inspect %+v", r)
	}
	// base64 wrapped over two lines is one stream.
	if r := l.Results["virtio-512.set-mounted"]; r.RC != 3 || string(r.Stderr) != "xsrescue: disk /dev/vda: vda2 is mounted\n" {
		t.Errorf("set-mounted %+v %q", r, r.Stderr)
	}
	if u := l.Undo["virtio-512"]; u != "xsrescue journal undo 2 --disk /dev/vda --partition 1 --journal /tmp/j.db" {
		t.Errorf("undo %q", u)
	}
}

func TestParseLogErrors(t *testing.T) {
	for _, tc := range []struct{ name, log, want string }{
		{"cut short", "@@RESULT a rc=0\n@@STDOUT\nYQ==\n", "results.log: a (line 1) has no @@END: the log is cut short"},
		{"bad rc", "@@RESULT a rc=x\n", `results.log line 1: malformed "@@RESULT a rc=x" (want @@RESULT NAME rc=N)`},
		{"rc out of range", "@@RESULT a rc=256\n", `results.log line 1: malformed "@@RESULT a rc=256" (want @@RESULT NAME rc=N)`},
		{"nested", "@@RESULT a rc=0\n@@RESULT b rc=0\n", "results.log line 2: @@RESULT inside a (no @@END)"},
		{"wrong end", "@@RESULT a rc=0\n@@END b\n", "results.log line 2: @@END b closes a"},
		{"output before a section", "@@RESULT a rc=0\nYQ==\n", "results.log line 2: output of a outside @@STDOUT/@@STDERR"},
		{"bad base64", "@@RESULT a rc=0\n@@STDOUT\nY*==\n@@END a\n", "results.log line 4: stdout of a: bad base64 at byte 1"},
		{"twice", "@@RESULT a rc=0\n@@END a\n@@RESULT a rc=1\n", "results.log line 3: result a given twice"},
		{"garbage", "hello\n", `results.log line 1: unexpected "hello"`},
		{"bad device", "@@DEVICE x vda -1\n", `results.log line 1: malformed "@@DEVICE x vda -1" (want @@DEVICE ID NAME SECTOR-SIZE)`},
		{"long line", "@@NOTE " + strings.Repeat("x", maxLine) + "\n", "results.log line 1: bufio.Scanner: token too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLog(strings.NewReader(tc.log))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// FuzzParseLog: any log (a VM killed mid-line, a garbled serial port) is
// parsed or refused with an error, never a panic.
func FuzzParseLog(f *testing.F) {
	f.Add(goodLog)
	f.Fuzz(func(t *testing.T, log string) {
		l, err := ParseLog(strings.NewReader(log))
		if err == nil && len(l.Order) != len(l.Results) {
			t.Fatalf("%d results in order, %d by name", len(l.Order), len(l.Results))
		}
	})
}
