package target

// Hooks for the external tests (mount_test.go lives in package target_test
// because fixtures imports packages that import target).
var (
	AttachLoop  = attachLoop
	RefuseInUse = refuseInUse
)

// SetDefaultLockDir points root's default lock directory elsewhere for a
// test; the returned func puts it back.
func SetDefaultLockDir(dir string) func() {
	old := defaultRunDir
	defaultRunDir = dir
	return func() { defaultRunDir = old }
}
