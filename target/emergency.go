package target

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// live holds every mount this process set up and has not released, for
// ReleaseNow.
var live struct {
	sync.Mutex
	m map[*mount]struct{}
}

func track(m *mount) {
	live.Lock()
	defer live.Unlock()
	if live.m == nil {
		live.m = map[*mount]struct{}{}
	}
	live.m[m] = struct{}{}
}

func untrack(m *mount) {
	live.Lock()
	defer live.Unlock()
	delete(live.m, m)
}

// ReleaseNow is for a process about to exit at once (a second Ctrl-C or
// SIGTERM): it detaches every private mount lazily and clears its loop
// device, without waiting for anything, so that no mount or loop device
// outlives the process. Whatever is still being written is left to the
// kernel: each journal op stays recoverable (xsrescue journal recover).
func ReleaseNow() {
	live.Lock()
	defer live.Unlock()
	for m := range live.m {
		if m.point != "" {
			unix.Unmount(m.point, unix.MNT_DETACH)
			os.Remove(m.point)
		}
		if m.loop != nil {
			unix.IoctlSetInt(int(m.loop.Fd()), unix.LOOP_CLR_FD, 0)
		}
	}
}
